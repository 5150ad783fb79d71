import { createHash } from "node:crypto";
import { NvmeEngine } from "./engine";
import { hostSettings, type HostAccess, type HostSettings } from "./access/access";
import { hostAccessFor } from "./access/for-settings";
import { sameMachine, type SshTarget } from "./access/ssh/target";
import type { Inputs, SshInputs } from "../pulumi/inputs";
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
  /** The door to the host: this machine, or the remote host over SSH. */
  readonly access: HostAccess;
  readonly engine: NvmeEngine;
  readonly cli: NvmeCli;
  /**
   * Host NQN and host ID: from the inputs, else `/etc/nvme/hostnqn`; the host ID of another NQN is the one
   * it is connected with here, else derived from it; an attachment's `recorded` identity keeps its host ID
   * (see {@link readHostIdentity}).
   */
  identity(inputs: Pick<Inputs, "host">, recorded?: HostIdentity): Promise<HostIdentity>;
  /** Every fabrics controller on the host, with namespaces and their use. */
  controllers(): Promise<FabricsController[]>;
  /** A line for the person running `pulumi up` (stdout of the provider: shown as info). */
  log(message: string): void;
}

const hosts = new Map<string, AttachmentHost>();

/** The SSH target of the `hostAccess.ssh` input, without the private key (that never goes into settings). */
export function sshTargetOf(ssh: SshInputs): SshTarget {
  return { host: ssh.host, port: ssh.port ?? 22, user: ssh.user, hostKey: ssh.hostKey.trim(), agent: ssh.agent ?? false, sudo: ssh.sudo ?? ssh.user !== "root" };
}

/**
 * Settings from the `hostAccess` input, or as stored in state (`stored` wins: it is what we connected
 * with). The way in to the same remote machine (user, host key, sudo) may change without a replace, so
 * it comes from the inputs when they name the stored machine; so does `stateDir`, the host's one ledger
 * location (ledger/home.ts), which is no new attachment either: the store refuses a second location.
 */
export function settingsFor(inputs: Pick<Inputs, "hostAccess">, stored?: HostSettings): HostSettings {
  const { ssh, ...paths } = inputs.hostAccess ?? {};
  const given = hostSettings({ ...paths, ...(ssh ? { ssh: sshTargetOf(ssh) } : {}) });
  if (!stored) return given;
  const kept = hostSettings(stored);
  if (!sameMachine(given.ssh, kept.ssh)) return kept;
  return { ...kept, stateDir: given.stateDir, ...(given.ssh ? { ssh: given.ssh } : {}) };
}

export function attachmentHost(inputs: Pick<Inputs, "hostAccess">, stored?: HostSettings): AttachmentHost {
  const settings = settingsFor(inputs, stored);
  const privateKey = inputs.hostAccess?.ssh?.privateKey;
  // Another key is another way in: its own connection (keyed by a digest; the key itself stays here).
  const key = JSON.stringify([settings, privateKey && createHash("sha256").update(privateKey).digest("hex")]);
  let h = hosts.get(key);
  if (!h) {
    const access = hostAccessFor(settings, { privateKey });
    const cli = new NvmeCli(access, settings);
    const engine = NvmeEngine.on(access, settings);
    h = {
      settings,
      access,
      cli,
      engine,
      identity: async (i, recorded) =>
        readHostIdentity(access, settings, { nqn: i.host?.nqn, id: i.host?.id, recorded, connected: await engine.connectedIdentities() }),
      controllers: () => readControllers(access, settings),
      log: (message) => process.stdout.write(`powerflex-nvme: ${message}\n`),
    };
    hosts.set(key, h);
  }
  return h;
}
