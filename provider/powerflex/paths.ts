import { canonicalIp } from "../host/nvme/identity";
import type { Sdt, System } from "./rest/types";

/** NVMe/TCP I/O port when an SDT does not say. */
export const DEFAULT_NVME_PORT = 4420;
/** NVMe discovery port when an SDT does not say. */
export const DEFAULT_DISCOVERY_PORT = 8009;
/** Address roles that carry host traffic. `StorageOnly` addresses are for SDS <-> SDT traffic. */
export const DEFAULT_HOST_ROLES: readonly string[] = ["StorageAndHost", "HostOnly"];

/** One NVMe/TCP path an attachment would connect. */
export interface PlannedPath {
  /** SDT the address belongs to. */
  readonly sdtId: string;
  /** SDT name ("" when the gateway has none). */
  readonly sdtName: string;
  /** Target address, canonical text (IPv6 compressed lower case) — connect with exactly this. */
  readonly traddr: string;
  /** The SDT's `nvmePort` (4420 when absent). */
  readonly trsvcid: number;
  /** The SDT's `discoveryPort` (8009 when absent), for `nvme discover`. */
  readonly discoverySvcid: number;
}

/** An SDT left out, or some of its addresses, with a reason to show the user. Once per SDT. */
export interface SkippedSdt {
  readonly sdtId: string;
  readonly sdtName: string;
  /** Why, in words (e.g. "in maintenance (maintenanceState=InMaintenance)"), naming each address left out. */
  readonly reason: string;
}

/** Input of {@link planPaths}. */
export interface PlanPathsInput {
  /** The system the SDTs must belong to (SDTs of another system are left out). */
  readonly system: Pick<System, "id">;
  /** SDTs of the protection domain, as the gateway listed them. */
  readonly sdts: readonly Sdt[];
  /** Address roles to use. Default {@link DEFAULT_HOST_ROLES}. */
  readonly roles?: readonly string[];
  /** Only these SDTs (by id or name); absent or empty: all. */
  readonly sdtFilter?: readonly string[];
  /**
   * Addresses to use instead of an SDT's `ipList` (NAT, a dedicated host network), keyed by SDT id or
   * name. Roles do not apply to overrides: they are the caller's explicit choice.
   */
  readonly addressOverrides?: Readonly<Record<string, readonly string[]>>;
}

/** Output of {@link planPaths}. */
export interface PathPlan {
  /** Paths to connect, SDTs in id order, addresses in gateway order, no duplicates. */
  readonly paths: PlannedPath[];
  /** What was left out and why. */
  readonly skipped: SkippedSdt[];
}

/**
 * PURE: which NVMe/TCP paths to connect for these SDTs. An SDT is left out (with a reason) when it is not
 * connected to the MDM, not joined, not in the Normal state, in (or entering/leaving) maintenance, of
 * another system, filtered out, or without any address of a wanted role; an address that is not an IP
 * literal is left out with a reason instead of throwing (gateways and mocks do serve such text).
 */
export function planPaths(input: PlanPathsInput): PathPlan {
  const roles = new Set(input.roles ?? DEFAULT_HOST_ROLES);
  const filter = input.sdtFilter && input.sdtFilter.length > 0 ? new Set(input.sdtFilter) : undefined;
  const paths: PlannedPath[] = [];
  const skipped: SkippedSdt[] = [];
  const seen = new Set<string>();
  const sdts = [...input.sdts].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

  for (const sdt of sdts) {
    const sdtName = sdt.name ?? "";
    const skip = (reason: string) => skipped.push({ sdtId: sdt.id, sdtName, reason });
    if (filter && !filter.has(sdt.id) && !(sdtName && filter.has(sdtName))) {
      skip("not in the SDT filter");
      continue;
    }
    const unusable = whyUnusable(sdt, input.system.id);
    if (unusable) {
      skip(unusable);
      continue;
    }
    // Entries the gateway sent half-filled are left out with a reason, never thrown: one bad entry must
    // not cost the other SDTs of the domain.
    const bad: string[] = [];
    const override = input.addressOverrides?.[sdt.id] ?? (sdtName ? input.addressOverrides?.[sdtName] : undefined);
    const candidates =
      override ??
      sdt.ipList.flatMap((e) => {
        if (!e.ip) return bad.push(`an address entry without ip (role ${e.role ?? "none"})`), [];
        if (!e.role) return bad.push(`address ${e.ip} has no role`), [];
        return roles.has(e.role) ? [e.ip] : [];
      });
    const trsvcid = sdt.nvmePort ?? DEFAULT_NVME_PORT;
    const discoverySvcid = sdt.discoveryPort ?? DEFAULT_DISCOVERY_PORT;
    let added = 0;
    for (const raw of candidates) {
      let traddr: string;
      try {
        traddr = canonicalIp(raw);
      } catch (err) {
        bad.push(`"${raw}" is not an IP literal: ${(err as Error).message}`);
        continue;
      }
      const key = `${traddr}|${trsvcid}`;
      if (seen.has(key)) continue;
      seen.add(key);
      paths.push({ sdtId: sdt.id, sdtName, traddr, trsvcid, discoverySvcid });
      added++;
    }
    if (bad.length > 0) skip(`${added > 0 ? "some addresses left out" : "no usable address"}: ${bad.join("; ")}`);
    else if (candidates.length === 0) {
      const present = sdt.ipList.map((e) => `${e.ip} ${e.role}`).join(", ") || "none";
      skip(`no address with role ${[...roles].join(" or ")} (addresses: ${present})`);
    } else if (added === 0) skip("all its addresses are already used by other SDTs");
  }
  return { paths, skipped };
}

// Absent fields count as fine: minimal gateways and mocks omit them, and an SDT we cannot judge is
// still worth a connect attempt (the host engine confirms every path in sysfs).
function whyUnusable(sdt: Sdt, systemId: string): string | undefined {
  if (sdt.systemId && sdt.systemId !== systemId) return `belongs to system ${sdt.systemId}, not ${systemId}`;
  if (sdt.mdmConnectionState && sdt.mdmConnectionState !== "Connected") {
    return `not connected to the MDM (mdmConnectionState=${sdt.mdmConnectionState})`;
  }
  if (sdt.maintenanceState && sdt.maintenanceState !== "NoMaintenance") {
    return `in maintenance (maintenanceState=${sdt.maintenanceState})`;
  }
  if (sdt.membershipState && sdt.membershipState !== "Joined") return `not joined (membershipState=${sdt.membershipState})`;
  if (sdt.sdtState && sdt.sdtState !== "Normal") return `not in the Normal state (sdtState=${sdt.sdtState})`;
  return undefined;
}

/** The subsystem NQN of a system, or why it must come from discovery. */
export type SubsystemNqn = { readonly nqn: string; readonly reason?: undefined } | { readonly nqn: null; readonly reason: string };

/** Reason given when the gateway does not report `systemNqn`. */
export const NO_SYSTEM_NQN_REASON =
  "this gateway does not report systemNqn; the NQN must come from nvme discover against an SDT's discovery port; " +
  "on 4.x the discovery log stays empty until a volume is mapped to the host";

/** `System.systemNqn` when present, else null with {@link NO_SYSTEM_NQN_REASON}. */
export function subsystemNqnOf(system: Pick<System, "systemNqn">): SubsystemNqn {
  const nqn = system.systemNqn?.trim();
  return nqn ? { nqn } : { nqn: null, reason: NO_SYSTEM_NQN_REASON };
}
