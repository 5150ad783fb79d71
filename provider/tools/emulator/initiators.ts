import { hostSettings } from "../../host/access/access";
import { LocalHost } from "../../host/access/local";
import { canonicalIp } from "../../host/nvme/identity";
import { readControllers } from "../../host/nvme/sysfs";
import { DEFAULT_NVME_PORT } from "../../powerflex/paths";

/*
 * Where the emulated array learns who is connected: it reads the initiators' sysfs (a simulated host's
 * tree, or "/sys" in the kernel VM) when asked, as the array would see connections arrive on its ports.
 */

/** One live NVMe/TCP I/O controller of an initiator to the system's subsystem. */
export interface InitiatorConnection {
  readonly hostnqn: string;
  /** Target address, canonical text. */
  readonly traddr: string;
  readonly trsvcid: number;
  /** The controller ID the target gave (nvmet or the array); undefined on kernels that do not show it. */
  readonly cntlid?: number;
  /** The initiator's own address on that connection (`src_addr`, else `host_traddr`); null when the kernel shows none. */
  readonly hostIp: string | null;
}

/** Live TCP I/O controllers to `subsysnqn` under each sysfs root (the sysfs reader of the provider itself). */
export async function readConnections(sysfsRoots: readonly string[], subsysnqn: string): Promise<InitiatorConnection[]> {
  const host = new LocalHost();
  const out: InitiatorConnection[] = [];
  for (const sysfsRoot of sysfsRoots) {
    const found = await readControllers(host, hostSettings({ sysfsRoot }), { subsysnqn, namespaces: false });
    for (const c of found) {
      const a = c.addressFields;
      if (c.transport !== "tcp" || c.cntrltype !== "io" || c.state !== "live" || c.subsysnqn !== subsysnqn || !c.hostnqn || !a["traddr"]) continue;
      let traddr: string;
      try {
        traddr = canonicalIp(a["traddr"]);
      } catch {
        continue; // not an IP literal: no SDT port of ours
      }
      out.push({
        hostnqn: c.hostnqn,
        traddr,
        trsvcid: Number(a["trsvcid"] ?? DEFAULT_NVME_PORT),
        ...(c.cntlid !== undefined ? { cntlid: c.cntlid } : {}),
        hostIp: a["src_addr"] || a["host_traddr"] || null,
      });
    }
  }
  return out;
}
