import * as path from "node:path";
import type { HostAccess, HostSettings } from "../access/access";
import type { FabricsController } from "./controller";

/**
 * Whether the kernel shows each fabrics controller's host NQN and host ID in sysfs (Linux 5.7 and later).
 * Without them no controller can be told from another user's with the same address (the kernel's identity
 * includes the host), so nothing may be connected: it could never be proven ours again.
 */
export type HostAttributes = "shown" | "absent" | "unknown";

/** A kernel before 5.7: attach refuses before connecting, or undoes a connect it could not identify. */
export class OldKernelError extends Error {
  constructor(host: string, detail = "") {
    super(
      `the kernel on ${host} shows no hostnqn/hostid attribute for its NVMe-oF controllers ` +
        `(/sys/class/nvme-fabrics/ctl/nvmeN/hostnqn, added in Linux 5.7; Ubuntu 20.04's 5.4 lacks it), so ` +
        `pulumi-powerflex-nvme cannot tell the controllers it makes from other users' and connects nothing. ` +
        `Use Linux 5.7 or later (on Ubuntu 20.04 the HWE kernel: apt-get install linux-generic-hwe-20.04).${detail}`,
    );
    this.name = "OldKernelError";
  }
}

/** What `observed` tells: one fabrics controller is enough, every controller shows the attribute or none does. */
export function hostAttributesOf(observed: readonly FabricsController[]): HostAttributes {
  if (observed.length === 0) return "unknown";
  return observed.some((c) => c.hostnqn !== "") ? "shown" : "absent";
}

/**
 * Ask sysfs when `observed` cannot tell: the first controllers of any subsystem (usually one read). Unknown
 * on a host without fabrics controllers.
 */
export async function readHostAttributes(host: HostAccess, settings: HostSettings, observed: readonly FabricsController[]): Promise<HostAttributes> {
  const known = hostAttributesOf(observed);
  if (known !== "unknown") return known;
  const ctlDir = path.posix.join(settings.sysfsRoot, "class", "nvme-fabrics", "ctl");
  const names = ((await host.readDir(ctlDir)) ?? []).filter((n) => /^nvme\d+$/.test(n)).slice(0, 3);
  for (const name of names) {
    if ((await host.readFile(path.posix.join(ctlDir, name, "hostnqn"))) !== undefined) return "shown";
    // Gone between the listing and the read: ask the next one.
    if ((await host.readFile(path.posix.join(ctlDir, name, "transport"))) !== undefined) return "absent";
  }
  return "unknown";
}
