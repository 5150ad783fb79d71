import * as pulumi from "@pulumi/pulumi";
import { PowerFlexNvmeAttachment } from "pulumi-powerflex-nvme";

// Attaches several remote Linux hosts over SSH in one `pulumi up`: the provider runs nvme-cli, reads
// sysfs and keeps each host's ownership ledger on that host, through one SSH connection per host.
// The host keys are pinned in config; the private key is a secret (stored encrypted, and a secret
// output of each attachment).
interface HostEntry {
  /** Resource name. */
  name: string;
  host: string;
  port?: number;
  user: string;
  /** known_hosts line, public key line, or SHA256 fingerprint of the host key. */
  hostKey: string;
  /** Where things are on that host, when not the defaults (tests point these at a simulated host). */
  paths?: Record<string, string>;
}

const config = new pulumi.Config("ssh-hosts");
const hosts = config.requireObject<HostEntry[]>("hosts");
const privateKey = config.requireSecret("sshPrivateKey");

const attachments = hosts.map(
  (h) =>
    new PowerFlexNvmeAttachment(h.name, {
      protectionDomain: config.require("protectionDomain"),
      host: { register: config.getBoolean("registerHosts") ?? false },
      hostAccess: { ...h.paths, ssh: { host: h.host, port: h.port, user: h.user, hostKey: h.hostKey, privateKey } },
    }),
);

export const hostNqns = pulumi.all(attachments.map((a) => a.hostNqn));
export const paths = pulumi.all(attachments.map((a) => a.paths.apply((ps) => ps.map((p) => `${p.sdtName} ${p.traddr}:${p.trsvcid} ${p.origin} ${p.state}`))));
