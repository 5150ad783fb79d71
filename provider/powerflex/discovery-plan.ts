import { isSubsystemRecord, type DiscoveryRecord } from "../host/nvme/discover";
import { canonicalIp } from "../host/nvme/identity";
import { DEFAULT_NVME_PORT, type PathPlan, type PlannedPath } from "./paths";
import type { Sdt } from "./rest/types";

/**
 * PURE: from the discovery log PowerFlex serves a host to the paths that host should connect. PowerFlex
 * 4.x/5.x returns the system ports its load balancer selected for the host on NVMe discovery (Dell,
 * PowerFlex 4.6 Technical Overview, "Load balancing"); a log entry is used only where it names the
 * system's subsystem over TCP at an address of an SDT of the protection domain that the other rules
 * (roles, SDT state, the `sdts` filter) allow.
 */

/** Where a path list comes from: the array's plan (discovery), or every usable SDT address (REST). */
export const PATH_SOURCES = ["plan", "all-sdts"] as const;
export type PathSource = (typeof PATH_SOURCES)[number];
export const DEFAULT_PATH_SOURCE: PathSource = "plan";

/** A discovery controller to ask: an address and its discovery port. */
export interface DiscoveryEndpoint {
  readonly traddr: string;
  readonly port: number;
}

/** How many referred discovery controllers we ask at most after the first log (each endpoint once). */
export const MAX_REFERRALS = 16;

/** Subtypes of a referral to another discovery controller: 2.x text, and nvme-cli 1.x's for the same value 1. */
const REFERRAL_SUBTYPES = new Set(["discovery subsystem referral", "discovery subsystem"]);

const key = (traddr: string, port: number) => `${traddr}|${port}`;

/** Canonical address text, or undefined for text that is no IP literal. */
function ipOf(text: string): string | undefined {
  try {
    return canonicalIp(text);
  } catch {
    return undefined;
  }
}

/** Port text of a log entry as a number, or undefined when it is none. */
function portOf(text: string): number | undefined {
  const n = Number(text.trim());
  return Number.isInteger(n) && n >= 1 && n <= 65535 ? n : undefined;
}

/** Discovery controllers a log refers to (TCP referrals), in log order, without duplicates. */
export function referralsOf(records: readonly DiscoveryRecord[]): DiscoveryEndpoint[] {
  const out: DiscoveryEndpoint[] = [];
  for (const r of records) {
    if (!REFERRAL_SUBTYPES.has(r.subtype) || r.trtype !== "tcp") continue;
    const traddr = ipOf(r.traddr);
    const port = portOf(r.trsvcid);
    if (traddr === undefined || port === undefined || out.some((e) => e.traddr === traddr && e.port === port)) continue;
    out.push({ traddr, port });
  }
  return out;
}

/** Input of {@link pathsFromDiscovery}. */
export interface DiscoveryPlanInput {
  /** Every record read (the first non-empty log and the referred ones). */
  readonly records: readonly DiscoveryRecord[];
  /** The system's subsystem NQN when known (systemNqn or state); else the log must name exactly one. */
  readonly subsystemNqn?: string;
  /** Every SDT of the protection domain (to say whose address an entry is). */
  readonly sdts: readonly Sdt[];
  /** The SDTs' own addresses after roles, state and the `sdts` filter (planPaths without overrides). */
  readonly candidates: PathPlan;
  /** What would be connected with pathSource "all-sdts" (overrides applied), in SDT order. */
  readonly connectable: readonly PlannedPath[];
  /** SDTs (ids) whose addresses the `addresses` input overrides: a planned SDT is reached at those. */
  readonly overridden: ReadonlySet<string>;
}

/** Output of {@link pathsFromDiscovery}. */
export interface DiscoveryPlan {
  /** Paths to connect, a subset of `connectable` in its order; empty when the log plans none of ours. */
  readonly paths: PlannedPath[];
  /** The subsystem NQN: the one given, else the one the log names at our addresses (undefined: none). */
  readonly subsystemNqn?: string;
  /** Each entry left out, with why (`<traddr>:<trsvcid> <subnqn>: <reason>`), once per entry. */
  readonly leftOut: string[];
}

/**
 * The planned paths in a discovery log. The plan names SDT ports; an SDT whose addresses `addresses`
 * overrides (NAT, a host network) is connected at those when the plan names any port of it: the plan picks
 * the SDTs, the overrides give their addresses. Throws when the NQN is unknown and the log names several.
 */
export function pathsFromDiscovery(input: DiscoveryPlanInput): DiscoveryPlan {
  const candidates = new Map(input.candidates.paths.map((p) => [key(p.traddr, p.trsvcid), p]));
  const leftOut: string[] = [];
  const seen = new Set<string>();
  const usable: { readonly path: PlannedPath; readonly subnqn: string; readonly label: string }[] = [];
  for (const r of input.records) {
    if (!isSubsystemRecord(r)) continue; // referrals and the discovery controller itself
    const label = `${r.traddr}:${r.trsvcid} ${r.subnqn}`;
    const traddr = ipOf(r.traddr);
    const port = portOf(r.trsvcid);
    const id = `${traddr ?? r.traddr}|${port ?? r.trsvcid}|${r.subnqn}|${r.trtype}`;
    if (seen.has(id)) continue; // the same entry served by several discovery controllers
    seen.add(id);
    const leave = (why: string) => leftOut.push(`${label}: ${why}`);
    if (r.trtype !== "tcp") leave(`transport ${r.trtype}, not tcp`);
    else if (input.subsystemNqn !== undefined && r.subnqn !== input.subsystemNqn) leave(`another subsystem than the system's ${input.subsystemNqn}`);
    else if (traddr === undefined || port === undefined) leave("the address or port is not an IP literal and a TCP port");
    else {
      const path = candidates.get(key(traddr, port));
      if (path) usable.push({ path, subnqn: r.subnqn, label });
      else leave(whyNotOurs(input, traddr, port));
    }
  }
  let subsystemNqn = input.subsystemNqn;
  if (subsystemNqn === undefined) {
    const nqns = [...new Set(usable.map((u) => u.subnqn))];
    if (nqns.length > 1) throw new Error(`the discovery log lists several subsystems at this protection domain's SDTs (${nqns.join(", ")}); cannot tell which is the system's`);
    subsystemNqn = nqns[0];
  }
  const planned = new Set(usable.map((u) => key(u.path.traddr, u.path.trsvcid)));
  const plannedSdts = new Set(usable.map((u) => u.path.sdtId));
  const paths = input.connectable.filter((p) =>
    input.overridden.has(p.sdtId) ? plannedSdts.has(p.sdtId) : planned.has(key(p.traddr, p.trsvcid)),
  );
  return { paths, ...(subsystemNqn !== undefined ? { subsystemNqn } : {}), leftOut };
}

/** Why an address the log plans is not one we connect: whose it is, and which rule leaves it out. */
function whyNotOurs(input: DiscoveryPlanInput, traddr: string, port: number): string {
  const sdt = input.sdts.find((t) => (t.nvmePort ?? DEFAULT_NVME_PORT) === port && t.ipList.some((e) => e.ip && ipOf(e.ip) === traddr));
  if (!sdt) return "no SDT of the protection domain has this address and NVMe port";
  const name = sdt.name || sdt.id;
  const skipped = input.candidates.skipped.find((s) => s.sdtId === sdt.id);
  if (skipped) return `SDT ${name} is left out: ${skipped.reason}`;
  const role = sdt.ipList.find((e) => e.ip && ipOf(e.ip) === traddr)?.role ?? "none";
  return `the address of SDT ${name} has role ${role}, not one of roles`;
}

/** What one discovery endpoint answered. */
export interface DiscoveryAnswer {
  readonly endpoint: DiscoveryEndpoint;
  /** Entries in its log (0 when it failed). */
  readonly records: number;
  /** Why it gave no log, when it failed. */
  readonly problem?: string;
  /** It failed with "connection refused": no discovery controller listens there (an answer, unlike a timeout). */
  readonly refused?: boolean;
}

/** Why there is no plan to follow. */
export interface NoPlan {
  readonly reason: string;
  /**
   * The plan could not be read (discovery cannot run here; an endpoint unreachable, timing out or failing
   * otherwise, and none answering), as opposed to: there is none (no volume mapped, an empty log, no
   * discovery controller listening, nothing we may use). Preview must not read an unread plan as "no change".
   */
  readonly unread: boolean;
}

/** Why there is no plan to follow, or undefined when there is one. */
export function whyNoPlan(facts: {
  /** Volumes mapped to the host for this attachment. */
  readonly mappedVolumes: number;
  /** Whether discovery may run here. */
  readonly canDiscover: boolean;
  /** Endpoints asked, in order (undefined: none asked). */
  readonly asked?: readonly DiscoveryAnswer[];
  /** Planned paths found in the log. */
  readonly planned?: number;
  readonly leftOut?: readonly string[];
}): NoPlan | undefined {
  const none = (reason: string) => ({ reason, unread: false });
  if (facts.mappedVolumes === 0) return none("no volume is mapped to this host by this attachment (volumes), and PowerFlex plans ports only for a host with mapped volumes");
  if (!facts.canDiscover) return { reason: "nvme discover cannot run here", unread: true };
  const asked = facts.asked ?? [];
  if (asked.length === 0) return none("there is no discovery endpoint to ask");
  if (asked.every((a) => a.records === 0)) {
    const empty = asked.filter((a) => a.problem === undefined).map((a) => `${a.endpoint.traddr}:${a.endpoint.port}`);
    const failed = asked.filter((a) => a.problem !== undefined);
    const problems = failed.map((a) => a.problem).join("; ");
    if (empty.length > 0) return none(`the discovery log is empty at ${empty.join(", ")} (the array plans no port for this host)${problems ? `; ${problems}` : ""}`);
    if (failed.every((a) => a.refused)) return none(`no discovery controller listens at the SDTs' discovery ports: ${problems}`);
    return { reason: `no discovery controller answered: ${problems}`, unread: true };
  }
  if (facts.planned === 0) {
    const why = facts.leftOut && facts.leftOut.length > 0 ? `: ${facts.leftOut.join("; ")}` : "";
    return none(`the discovery log plans no port this attachment may use${why}`);
  }
  return undefined;
}
