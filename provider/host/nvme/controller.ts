import type { PathIdentity } from "./identity";

/** Controller states as sysfs spells them (`unknown state` folded into "unknown"). */
export type ControllerState =
  | "new"
  | "live"
  | "resetting"
  | "connecting"
  | "deleting"
  | "deleting (no IO)"
  | "dead"
  | "unknown";

/** One namespace reachable through a controller, with what uses it (for the in-use guard). */
export interface NamespaceUse {
  /** Block device of the namespace head, e.g. `nvme0n1` (the multipath head, shared by all paths). */
  readonly blockDevice: string;
  /** Namespace ID. */
  readonly nsid: number;
  /** NGUID (32 lower-case hex digits, no dashes) or undefined when the kernel shows none. */
  readonly nguid?: string;
  /** Mount points of the device or its partitions. */
  readonly mountpoints: readonly string[];
  /** Holders (device-mapper, md, …) of the device or its partitions, by kernel name. */
  readonly holders: readonly string[];
  /** Active swap areas (from the host's /proc/swaps) on the device or its partitions, by kernel name. */
  readonly swaps: readonly string[];
  /**
   * An exclusive open (O_EXCL) of the device and its partitions: `busy` when the kernel refused one (EBUSY:
   * mounted, swap, dm/md/LVM or another exclusive user, also from another mount namespace), `free` when
   * all succeeded, `unknown` when it could not be tried (no device node, no permission, SSH).
   */
  readonly exclusive: "free" | "busy" | "unknown";
}

/** What uses a namespace, for messages (`mounted on /srv`, `swap on nvme0n1p2`, …); empty when nothing seen does. */
export function usesOf(ns: NamespaceUse): string[] {
  const uses = [
    ...ns.mountpoints.map((m) => `mounted on ${m}`),
    ...ns.swaps.map((s) => `swap on ${s}`),
    ...ns.holders.map((h) => `held by ${h}`),
  ];
  if (ns.exclusive === "busy" && uses.length === 0) uses.push("open exclusively by someone (an exclusive open was refused)");
  return uses;
}

/**
 * Which controllers a scan reads in full: the others are left out after a read or two (a host may carry a
 * thousand controllers of other users). Unset fields filter nothing.
 */
export interface ControllerScope {
  /** Only this subsystem's controllers. */
  readonly subsysnqn?: string;
  /** Only controllers connected as one of these host NQNs (a path's identity includes its host NQN). */
  readonly hostnqns?: readonly string[];
}

/**
 * A fabrics controller as read from sysfs (`/sys/class/nvme-fabrics/ctl/nvmeN/`). sysfs is the truth:
 * nvme-cli output is only ever a hint.
 */
export interface FabricsController {
  /** Kernel name, e.g. `nvme3`. Reused by the kernel at once after a disconnect: a hint, not an identity. */
  readonly device: string;
  /** `tcp`, `rdma`, `fc`, `loop`, … */
  readonly transport: string;
  /** The raw `address` attribute (trimmed). */
  readonly address: string;
  /** Parsed `address` (keys traddr, trsvcid, host_traddr, host_iface, src_addr). */
  readonly addressFields: Readonly<Record<string, string>>;
  readonly subsysnqn: string;
  /** Empty string on old kernels that have no `hostnqn` attribute. */
  readonly hostnqn: string;
  /** Lower-case UUID; empty string when absent. */
  readonly hostid: string;
  readonly state: ControllerState;
  /** `io`, `discovery`, `admin`; `io` when the kernel has no `cntrltype` attribute. */
  readonly cntrltype: string;
  readonly cntlid?: number;
  /** Connect options the kernel shows, by attribute (`ctrl_loss_tmo`, `reconnect_delay`, …; raw text, `off` included); absent ones left out. */
  readonly options?: Readonly<Record<string, string>>;
  /**
   * Inode of its `delete_controller` (decimal text): on sysfs, this kernel object and no other for the
   * life of the boot, also when a look-alike gets its name and controller ID (nvmet reuses the lowest
   * free cntlid). Read for the controllers a scan reads in full.
   */
  readonly inode?: string;
  /**
   * The identity this controller has, when it is a TCP I/O controller whose address parses;
   * undefined otherwise (never ours then).
   */
  readonly identity?: PathIdentity;
  readonly namespaces: readonly NamespaceUse[];
}
