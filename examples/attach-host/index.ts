import * as pulumi from "@pulumi/pulumi";
import { PowerFlexNvmeAttachment } from "pulumi-powerflex-nvme";

// Attaches the machine that runs `pulumi up` to the PowerFlex protection domain named in stack config.
// The gateway comes from stack config too (powerflex:endpoint, powerflex:username and the secret
// powerflex:password), which the provider reads itself: the password never enters this program.
const config = new pulumi.Config("attach-host");

const attachment = new PowerFlexNvmeAttachment("this-host", {
  protectionDomain: config.require("protectionDomain"),
  host: { register: config.getBoolean("registerHost") ?? false },
  connect: { ctrlLossTmo: config.getNumber("ctrlLossTmo") ?? 1800 },
  // Optional: volumes to map to this host, e.g. `pulumi config set --path 'volumes[0].volume' vol1`.
  volumes: config.getObject<{ volume: string; accessMode?: "ReadWrite" | "ReadOnly" }[]>("volumes"),
  hostAccess: config.getObject<Record<string, string>>("hostAccess"),
});

export const subsystemNqn = attachment.subsystemNqn;
export const hostNqn = attachment.hostNqn;
export const paths = attachment.paths.apply((ps) => ps.map((p) => `${p.sdtName} ${p.traddr}:${p.trsvcid} ${p.origin} ${p.state}`));
export const devices = attachment.devices.apply((ds) => ds.map((d) => `${d.volumeName} ${d.devicePath}`));
