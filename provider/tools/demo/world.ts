import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { startEmulator, systemNqnOf, type Emulator, type EmulatorOptions } from "../emulator";
import { PROVIDER_SOURCE } from "../../pulumi/resource";
import { volumeNguid } from "../../powerflex/volumes";
import { createSimHost, type SimHost, type SimVersion } from "../simhost";
import { makeConsumerProject, ProviderHost } from "./provider-host";
import { Stack } from "./stack";

/**
 * A whole world on one machine: an emulated PowerFlex gateway, a Linux host (simulated nvme-cli + sysfs,
 * or the machine itself), a Pulumi project that resolves this package by name, and the real
 * dynamic-provider host serving it. The demo plays its story here; provider and kernel tests use it too.
 */
export interface GatewayWorld {
  readonly emulator: Emulator;
  readonly projectDir: string;
  readonly host: ProviderHost;
  readonly stack: Stack;
  /** Stack config sent in Configure (`powerflex:*`). */
  readonly config: Record<string, string>;
  /** `hostAccess` input that points the provider at the world's host. */
  readonly hostAccess: Record<string, string>;
  close(): Promise<void>;
}

/** A world on the simulated host. */
export interface World extends GatewayWorld {
  readonly sim: SimHost;
}

/** A volume mapped to (or unmapped from) an NVMe host: what the array's NVMe target exposes to that host. */
export interface NamespaceChange {
  readonly kind: "map" | "unmap";
  readonly subsysnqn: string;
  readonly nsid: number;
  /** PowerFlex's NGUID of the volume (32 hex digits). */
  readonly nguid: string;
}

export interface GatewayWorldOptions {
  readonly emulator?: EmulatorOptions;
  /** Stack config to send instead of the emulator's (e.g. none, to test the error). */
  readonly config?: Record<string, string>;
  /** Extra environment of the provider process. */
  readonly env?: Record<string, string>;
  /** `hostAccess` input for the world's host ({} = the machine's defaults). */
  readonly hostAccess: Record<string, string>;
  /** The array's NVMe target: called after each mapping change of an NVMe host. */
  readonly onNamespace?: (change: NamespaceChange) => void;
}

export interface WorldOptions extends Omit<GatewayWorldOptions, "hostAccess" | "onNamespace"> {
  readonly nvmeCliVersion?: SimVersion;
}

/** The emulator, the consumer project and the provider host (configured), for a host given by `hostAccess`. */
export async function startGatewayWorld(options: GatewayWorldOptions): Promise<GatewayWorld> {
  const emulator = await startEmulator({ tls: true, ...options.emulator });
  const projectDir = makeConsumerProject();
  // Undone last made first, also when starting fails half way; the project folder goes whatever fails.
  const close = async (host?: ProviderHost) => {
    try {
      await host?.stop();
    } finally {
      try {
        await emulator.close();
      } finally {
        fs.rmSync(projectDir, { recursive: true, force: true });
      }
    }
  };
  const config = options.config ?? {
    "powerflex:endpoint": emulator.url,
    "powerflex:username": emulator.username,
    "powerflex:password": emulator.password,
    ...(emulator.caCert ? { "powerflex:caCert": emulator.caCert } : {}),
  };
  let host: ProviderHost | undefined;
  try {
    host = await ProviderHost.start(projectDir, options.env);
    await host.configure(config);
  } catch (err) {
    await close(host).catch(() => undefined);
    throw err;
  }
  // A volume mapped to an NVMe host shows up as a namespace of the subsystem (NGUID per PowerFlex's rule)
  // on that host, and goes when unmapped.
  const onNamespace = options.onNamespace;
  if (onNamespace) {
    emulator.state.mappingListeners.push((e) => {
      if (e.host["hostType"] !== "NVMeHost") return;
      const system = [...emulator.state.systems.values()][0];
      onNamespace({ kind: e.kind, subsysnqn: systemNqnOf(system), nsid: Number(e.volume["nsid"]), nguid: volumeNguid(e.volume.id, system.id) });
    });
  }
  return {
    emulator,
    projectDir,
    host,
    stack: new Stack(host, PROVIDER_SOURCE),
    config,
    hostAccess: options.hostAccess,
    close: () => close(host),
  };
}

/** A world on a simulated host. */
export async function startWorld(options: WorldOptions = {}): Promise<World> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pfnvme-world-"));
  const sim = createSimHost(path.join(dir, "host"), { version: options.nvmeCliVersion ?? "2.11" });
  const s = sim.settings;
  // The array sees the simulated host's connections (NvmeController, its first connection) ...
  const world = await startGatewayWorld({
    ...options,
    emulator: { ...options.emulator, initiatorSysfs: [...(options.emulator?.initiatorSysfs ?? []), s.sysfsRoot] },
    hostAccess: { nvmeCli: s.nvmeCli, sysfsRoot: s.sysfsRoot, stateDir: s.stateDir, etcNvmeDir: s.etcNvmeDir, mountsFile: s.mountsFile },
    onNamespace: (c) => {
      if (c.kind === "map") sim.addNamespace(c.subsysnqn, { nsid: c.nsid, nguid: c.nguid });
      else sim.removeNamespace(c.subsysnqn, c.nsid);
    },
  }).catch((err: unknown) => {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  // ... and the host's `nvme discover` at an SDT gets what PowerFlex's discovery controller logs: the ports
  // its load balancer planned for this host, none until a volume is mapped to it.
  const emulator = world.emulator;
  sim.updateKnobs((k) => ({ ...k, discoveryFrom: emulator.url, ...(emulator.caCert ? { discoveryCaCert: emulator.caCert } : {}) }));
  return {
    ...world,
    sim,
    async close() {
      try {
        await world.close();
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
