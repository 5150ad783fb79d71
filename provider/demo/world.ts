import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { startEmulator, systemNqnOf, type Emulator, type EmulatorOptions } from "../emulator";
import { PROVIDER_SOURCE } from "../resource";
import { volumeNguid } from "../volumes";
import { createSimHost, type SimHost, type SimVersion } from "../simhost";
import { makeConsumerProject, ProviderHost } from "./provider-host";
import { Stack } from "./stack";

/**
 * A whole world on one machine: an emulated PowerFlex gateway, a simulated Linux host (nvme-cli + sysfs),
 * a Pulumi project that resolves this package by name, and the real dynamic-provider host serving it.
 * The demo plays its story here; provider tests use it too.
 */
export interface World {
  readonly emulator: Emulator;
  readonly sim: SimHost;
  readonly projectDir: string;
  readonly host: ProviderHost;
  readonly stack: Stack;
  /** Stack config sent in Configure (`powerflex:*`). */
  readonly config: Record<string, string>;
  /** `hostAccess` input that points the provider at the simulated host. */
  readonly hostAccess: Record<string, string>;
  close(): Promise<void>;
}

export interface WorldOptions {
  readonly nvmeCliVersion?: SimVersion;
  readonly emulator?: EmulatorOptions;
  /** Stack config to send instead of the emulator's (e.g. none, to test the error). */
  readonly config?: Record<string, string>;
  /** Extra environment of the provider process. */
  readonly env?: Record<string, string>;
}

export async function startWorld(options: WorldOptions = {}): Promise<World> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pfnvme-world-"));
  const emulator = await startEmulator({ tls: true, ...options.emulator });
  const sim = createSimHost(path.join(dir, "host"), { version: options.nvmeCliVersion ?? "2.11" });
  const projectDir = makeConsumerProject();
  const host = await ProviderHost.start(projectDir, options.env);
  const config = options.config ?? {
    "powerflex:endpoint": emulator.url,
    "powerflex:username": emulator.username,
    "powerflex:password": emulator.password,
    ...(emulator.caCert ? { "powerflex:caCert": emulator.caCert } : {}),
  };
  await host.configure(config);
  // The array's NVMe target: a volume mapped to a host shows up as a namespace of the subsystem (NGUID
  // per PowerFlex's rule) on that host, and goes when unmapped.
  emulator.state.mappingListeners.push((e) => {
    if (e.host["hostType"] !== "NVMeHost") return;
    const system = [...emulator.state.systems.values()][0];
    const nqn = systemNqnOf(system);
    if (e.kind === "map") sim.addNamespace(nqn, { nsid: Number(e.volume["nsid"]), nguid: volumeNguid(e.volume.id, system.id) });
    else sim.removeNamespace(nqn, Number(e.volume["nsid"]));
    serveDiscovery(emulator, sim);
  });
  serveDiscovery(emulator, sim);
  const s = sim.settings;
  const hostAccess = { nvmeCli: s.nvmeCli, sysfsRoot: s.sysfsRoot, stateDir: s.stateDir, etcNvmeDir: s.etcNvmeDir, mountsFile: s.mountsFile };
  return {
    emulator,
    sim,
    projectDir,
    host,
    stack: new Stack(host, PROVIDER_SOURCE),
    config,
    hostAccess,
    async close() {
      await host.stop();
      await emulator.close();
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(projectDir, { recursive: true, force: true });
    },
  };
}

/**
 * Each SDT's discovery port answers like PowerFlex 4.x: it lists the subsystem (at every SDT address) only
 * while some volume is mapped to an NVMe host.
 */
function serveDiscovery(emulator: Emulator, sim: SimHost): void {
  const st = emulator.state;
  const mapped = [...st.volumes.values()].some((v) => (v["mappedSdcInfo"] as { hostType?: string }[]).some((m) => m.hostType === "NVMeHost"));
  const system = [...st.systems.values()][0];
  const sdts = [...st.sdts.values()];
  const addresses = sdts.flatMap((t) => (t["ipList"] as { ip: string }[]).map((a) => ({ ip: a.ip, port: Number(t["nvmePort"] ?? 4420), disc: Number(t["discoveryPort"] ?? 8009) })));
  const records = mapped
    ? addresses.map((a) => ({ subtype: "nvme subsystem", trsvcid: String(a.port), subnqn: systemNqnOf(system), traddr: a.ip }))
    : [];
  sim.updateKnobs((k) => ({ ...k, discovery: Object.fromEntries(addresses.map((a) => [`${a.ip}:${a.disc}`, records])) }));
}
