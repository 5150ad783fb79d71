import type { HostAccess, HostSettings } from "./access";
import { LocalHost } from "./local";
import { SshHost, type SshTuning } from "./ssh/ssh-host";
import type { SshCredentials } from "./ssh/target";

const local = new LocalHost();

/**
 * The door to the host the settings name: this machine, or the remote host of `settings.ssh` (the
 * credentials are only used for SSH). Everything that acts on a host (the engine, `powerflex-nvme status`)
 * gets its HostAccess here.
 */
export function hostAccessFor(settings: HostSettings, credentials: SshCredentials = {}, tuning: SshTuning = {}): HostAccess {
  return settings.ssh ? new SshHost(settings.ssh, credentials, tuning) : local;
}
