import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { startEmulator, type Emulator, type EmulatorOptions } from "../emulator";
import { PROVIDER_SOURCE } from "../resource";
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
