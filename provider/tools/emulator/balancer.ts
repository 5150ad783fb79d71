import { planPaths, type PlannedPath } from "../../powerflex/paths";
import { Sdt } from "../../powerflex/rest/types";

/*
 * PURE: PowerFlex's automatic NVMe load balancer as the emulator models it. For each NVMe host with a
 * volume mapped in a protection domain, PowerFlex selects up to the host's `maxNumSysPorts` system ports
 * (SDT addresses) of that domain and returns them in the host's discovery log. The selection spreads
 * the ports over fault sets, then SDTs, and prefers the least-loaded port; ties go by id, so the same
 * world always gives the same plan.
 */

/** `maxNumSysPorts` when a host object has none (goscaleio's NvmeHostParam default, and Cinder's samples). */
export const DEFAULT_MAX_NUM_SYS_PORTS = 10;

/** A system port: a host-role address of a usable SDT, at its `nvmePort`. */
export interface SysPort extends PlannedPath {
  /** The SDT's fault set; null when it has none (the SDT is then its own failure domain). */
  readonly faultSetId: string | null;
}

/** The ports planned for one host in one protection domain. */
export interface HostDomainPlan {
  readonly hostId: string;
  readonly protectionDomainId: string;
  readonly ports: readonly SysPort[];
}

/** A whole plan: one entry per host and protection domain where that host has a mapped volume. */
export type BalancerPlan = readonly HostDomainPlan[];

/** What the balancer needs to know about a host. */
export interface BalancedHost {
  readonly id: string;
  /** The host object's field as stored (number, decimal string, null or absent). */
  readonly maxNumSysPorts?: unknown;
  /** Protection domains where the host has at least one mapped volume. */
  readonly domains: readonly string[];
}

/** Identity of a port, for load counting and comparison. */
export function portKey(p: Pick<SysPort, "sdtId" | "traddr" | "trsvcid">): string {
  return `${p.sdtId}|${p.traddr}|${p.trsvcid}`;
}

/** A host's port budget per protection domain: its `maxNumSysPorts`, or the default when null, absent or not a positive integer. */
export function maxSysPortsOf(value: unknown): number {
  const n = typeof value === "string" && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  return typeof n === "number" && Number.isInteger(n) && n > 0 ? n : DEFAULT_MAX_NUM_SYS_PORTS;
}

/**
 * The system ports of one protection domain's SDTs (as stored, REST shape): host-role addresses
 * (StorageAndHost, HostOnly) of SDTs that are Normal, Connected, Joined and not in maintenance. The
 * usability rule is the provider's own ({@link planPaths}), so emulator and provider cannot disagree on it.
 */
export function sysPortsOf(systemId: string, sdts: readonly Record<string, unknown>[]): SysPort[] {
  const parsed = sdts.flatMap((s) => {
    const r = Sdt.safeParse(s);
    return r.success ? [{ sdt: r.data, faultSetId: typeof s["faultSetId"] === "string" ? s["faultSetId"] : null }] : [];
  });
  const faultSets = new Map(parsed.map((p) => [p.sdt.id, p.faultSetId]));
  return planPaths({ system: { id: systemId }, sdts: parsed.map((p) => p.sdt) }).paths.map((p) => ({ ...p, faultSetId: faultSets.get(p.sdtId) ?? null }));
}

/**
 * Choose up to `max` ports: each next port is the one that adds least to what is already chosen on its
 * fault set, then on its SDT, then has the least-loaded SDT, then the least-loaded port (load: plans of
 * other hosts holding it); ties by fault set, SDT id, address, port.
 */
export function choosePorts(ports: readonly SysPort[], max: number, load: ReadonlyMap<string, number>): SysPort[] {
  const failureDomain = (p: SysPort) => p.faultSetId ?? `sdt:${p.sdtId}`;
  const sdtLoad = new Map<string, number>();
  for (const p of ports) sdtLoad.set(p.sdtId, (sdtLoad.get(p.sdtId) ?? 0) + (load.get(portKey(p)) ?? 0));
  const chosen: SysPort[] = [];
  const rest = [...ports];
  while (chosen.length < max && rest.length > 0) {
    const score = (p: SysPort): (number | string)[] => [
      chosen.filter((c) => failureDomain(c) === failureDomain(p)).length,
      chosen.filter((c) => c.sdtId === p.sdtId).length,
      sdtLoad.get(p.sdtId) ?? 0,
      load.get(portKey(p)) ?? 0,
      failureDomain(p),
      p.sdtId,
      p.traddr,
      p.trsvcid,
    ];
    let best = 0;
    for (let i = 1; i < rest.length; i++) if (compare(score(rest[i]!), score(rest[best]!)) < 0) best = i;
    chosen.push(rest.splice(best, 1)[0]!);
  }
  return chosen;
}

function compare(a: readonly (number | string)[], b: readonly (number | string)[]): number {
  for (let i = 0; i < a.length; i++) {
    if (a[i]! < b[i]!) return -1;
    if (a[i]! > b[i]!) return 1;
  }
  return 0;
}

/** Input of {@link replan}. */
export interface ReplanInput {
  /** NVMe hosts (all of them; those without domains leave the plan). */
  readonly hosts: readonly BalancedHost[];
  /** System ports per protection domain id. */
  readonly portsByDomain: ReadonlyMap<string, readonly SysPort[]>;
  /** The plan kept so far. */
  readonly current: BalancerPlan;
  /** Hosts to plan again; "all" starts from nothing (an SDT added, removed or changed; an admin rebalance). */
  readonly which: readonly string[] | "all";
}

/**
 * A new plan: the hosts named in `which` are planned again (in id order), each against the load of the
 * plans of every other host; every other host keeps its plan as it is. With "all", every host is planned
 * again from nothing, in id order, each seeing the load of those planned before it.
 */
export function replan(input: ReplanInput): HostDomainPlan[] {
  const again = input.which === "all" ? undefined : new Set(input.which);
  const known = new Set(input.hosts.map((h) => h.id));
  const kept = again ? input.current.filter((e) => known.has(e.hostId) && !again.has(e.hostId)) : [];
  const load = new Map<string, number>();
  const add = (e: HostDomainPlan) => {
    for (const p of e.ports) load.set(portKey(p), (load.get(portKey(p)) ?? 0) + 1);
  };
  kept.forEach(add);
  const out = [...kept];
  const hosts = [...input.hosts].filter((h) => !again || again.has(h.id)).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const h of hosts) {
    const max = maxSysPortsOf(h.maxNumSysPorts);
    for (const pd of [...new Set(h.domains)].sort()) {
      const entry = { hostId: h.id, protectionDomainId: pd, ports: choosePorts(input.portsByDomain.get(pd) ?? [], max, load) };
      add(entry);
      out.push(entry);
    }
  }
  return out.sort((a, b) => compare([a.hostId, a.protectionDomainId], [b.hostId, b.protectionDomainId]));
}
