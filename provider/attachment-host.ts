import { NvmeEngine } from "./engine";
import { hostSettings, type HostSettings } from "./host/access";
import { LocalHost } from "./host/local";
import type { Inputs } from "./inputs";
import { NvmeCli } from "./nvme/cli";
import type { FabricsController } from "./nvme/controller";
import { readControllers } from "./nvme/sysfs";
import { readHostIdentity, type HostIdentity } from "./nvme/hostid";

/**
 * The host side of one attachment: where things are on this machine, the engine that owns its controllers,
 * and who we connect as. Engines are shared per settings in the process, so that every resource the
 * provider serves at once queues on one ledger (and the host lock covers other processes).
 */
export interface AttachmentHost {
  readonly settings: HostSettings;
  readonly engine: NvmeEngine;
  readonly cli: NvmeCli;
  /** Host NQN and host ID: from the inputs, else `/etc/nvme/hostnqn` and `/etc/nvme/hostid`. */
  identity(inputs: Pick<Inputs, "host">): Promise<HostIdentity>;
  /** Every fabrics controller on the host, with namespaces and their use. */
  controllers(): Promise<FabricsController[]>;
  /** A line for the person running `pulumi up` (stdout of the provider: shown as info). */
  log(message: string): void;
}

const local = new LocalHost();
const hosts = new Map<string, AttachmentHost>();

/** Settings from the `hostAccess` input, or as stored in state (`stored` wins: it is what we connected with). */
export function settingsFor(inputs: Pick<Inputs, "hostAccess">, stored?: HostSettings): HostSettings {
  return stored ? hostSettings(stored) : hostSettings(inputs.hostAccess ?? {});
}

export function attachmentHost(inputs: Pick<Inputs, "hostAccess">, stored?: HostSettings): AttachmentHost {
  const settings = settingsFor(inputs, stored);
  const key = JSON.stringify(settings);
  let h = hosts.get(key);
  if (!h) {
    const cli = new NvmeCli(local, settings);
    h = {
      settings,
      cli,
      engine: NvmeEngine.on(local, settings),
      identity: async (i) => {
        const id = await readHostIdentity(local, settings, { nqn: i.host?.nqn, id: i.host?.id });
        return { ...id, hostid: id.hostid.toLowerCase() };
      },
      controllers: () => readControllers(local, settings),
      log: (message) => process.stdout.write(`powerflex-nvme: ${message}\n`),
    };
    hosts.set(key, h);
  }
  return h;
}
