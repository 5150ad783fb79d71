import type { Inputs } from "../pulumi/inputs";
import { isSubsystemRecord, type DiscoveryRecord } from "../host/nvme/discover";
import type { HostIdentity } from "../host/nvme/hostid";
import { NvmeCommandError } from "../host/nvme/cli";
import type { PathIdentity } from "../host/nvme/identity";
import { printable } from "../printable";
import { placementOf } from "./placement";
import { DEFAULT_PATH_SOURCE, MAX_REFERRALS, pathsFromDiscovery, referralsOf, whyNoPlan, type DiscoveryAnswer, type DiscoveryEndpoint, type DiscoveryPlan, type NoPlan, type PathSource } from "./discovery-plan";
import { planPaths, subsystemNqnOf, type PathPlan, type PlannedPath, type PowerFlexClient, type Sdt, type SkippedSdt, type System } from ".";

/**
 * From the inputs and what PowerFlex reports now to the exact NVMe/TCP paths of an attachment. Only reads
 * (GETs and `nvme discover`): diff (preview) uses it too; the SDTs are asked for every time, the system
 * and protection domain once a minute (placement.ts). The subsystem NQN comes from the system
 * (`systemNqn`, PowerFlex 4.x/5.x), else from the state (already known), else from `nvme discover` at an
 * SDT (only where `discover` is given: never for a resource that does not exist yet). With pathSource "plan" (the default) the paths are the ports PowerFlex's load balancer planned
 * for the host, as its discovery controllers list them (discovery-plan.ts); without a plan, every usable
 * SDT address, as with "all-sdts", and a warning that says why.
 */

export interface PlannedTarget extends PlannedPath {
  readonly identity: PathIdentity;
}

export interface PlannedTargets {
  readonly systemId: string;
  readonly protectionDomainId: string;
  readonly subsystemNqn: string;
  /** In SDT order; `identity` is what we connect and record. */
  readonly paths: readonly PlannedTarget[];
  readonly skipped: readonly SkippedSdt[];
  /** Where the paths came from: the array's plan, or every usable SDT address. */
  readonly source: PathSource;
  /** For the person running Pulumi: why there was no plan to follow, entries of the log left out. */
  readonly warnings: readonly string[];
  /** With pathSource "plan": why the plan was not followed (absent when it was, or with "all-sdts"). */
  readonly noPlan?: NoPlan;
}

export interface TargetOptions {
  /** The NQN this attachment already uses (from state), when the gateway does not report one. */
  readonly knownSubsystemNqn?: string;
  /** `nvme discover` at a discovery port (every record of the log); absent where discovery must not run. */
  readonly discover?: (traddr: string, port: number, hostnqn: string, hostid: string) => Promise<DiscoveryRecord[]>;
  /** Volumes mapped for this attachment once `beforeDiscovery` ran: PowerFlex plans ports only for those hosts. */
  readonly mappedVolumes?: () => number;
  /**
   * Runs once the system is known and before the subsystem NQN is looked up: registering the host and
   * mapping volumes go here, because a 4.x discovery log lists the subsystem only once a volume is mapped.
   */
  readonly beforeDiscovery?: (systemId: string) => Promise<void>;
}

export async function planTargets(
  client: PowerFlexClient,
  inputs: Pick<Inputs, "system" | "protectionDomain" | "sdts" | "roles" | "addresses" | "connect" | "pathSource">,
  host: HostIdentity,
  options: TargetOptions = {},
): Promise<PlannedTargets> {
  const { system, protectionDomain: pd } = await placementOf(client, inputs.system, inputs.protectionDomain);
  const sdts = await client.listSdts(pd.id);
  // A name that matches no SDT is a typo or a stale input: say so rather than plan without it.
  const known = (name: string) => sdts.some((t) => t.id === name || t.name === name);
  const named = [...(inputs.sdts ?? []).map((s, i) => [`sdts.${i}`, s]), ...(inputs.addresses ?? []).map((a, i) => [`addresses.${i}.sdt`, a.sdt])];
  const unknown = named.filter(([, name]) => !known(name));
  if (unknown.length > 0) {
    throw new Error(
      printable(
        `${unknown.map(([field, name]) => `${field}: "${name}" is no SDT of protection domain "${inputs.protectionDomain}"`).join("; ")} ` +
          `(its SDTs: ${sdts.map((t) => t.name ?? t.id).join(", ") || "none"})`,
      ),
    );
  }
  const overrides: Record<string, string[]> = {};
  for (const a of inputs.addresses ?? []) (overrides[a.sdt] ??= []).push(a.traddr);
  const plan = planPaths({ system, sdts, roles: inputs.roles, sdtFilter: inputs.sdts, addressOverrides: overrides });
  if (plan.paths.length === 0) {
    const why = plan.skipped.map((s) => `${s.sdtName || s.sdtId}: ${s.reason}`).join("; ") || "it has no SDT";
    throw new Error(printable(`protection domain "${inputs.protectionDomain}" (${pd.id}) offers no NVMe/TCP path to connect: ${why}`));
  }

  await options.beforeDiscovery?.(system.id);
  const knownNqn = subsystemNqnOf(system).nqn ?? options.knownSubsystemNqn;
  const { planned, warnings, noPlan } =
    (inputs.pathSource ?? DEFAULT_PATH_SOURCE) === "plan"
      ? await followPlan({ system, sdts, inputs, overrides, plan, knownNqn, host, options })
      : { planned: undefined, warnings: [], noPlan: undefined };
  const paths = (planned?.paths ?? plan.paths).map((p) => ({ ...p, trsvcid: portOverride(inputs, p) ?? p.trsvcid }));
  const subsystemNqn = planned?.subsystemNqn ?? knownNqn ?? (await discoverNqn(paths, host, options));
  const hostTraddr = inputs.connect?.hostTraddr;
  const hostIface = inputs.connect?.hostIface;
  return {
    systemId: system.id,
    protectionDomainId: pd.id,
    subsystemNqn,
    skipped: plan.skipped,
    source: planned ? "plan" : "all-sdts",
    warnings,
    ...(noPlan ? { noPlan } : {}),
    paths: paths.map((p) => ({
      ...p,
      identity: {
        transport: "tcp",
        traddr: p.traddr,
        trsvcid: p.trsvcid,
        subsysnqn: subsystemNqn,
        hostnqn: host.hostnqn,
        hostid: host.hostid,
        ...(hostTraddr !== undefined ? { hostTraddr } : {}),
        ...(hostIface !== undefined ? { hostIface } : {}),
      },
    })),
  };
}

/**
 * The paths PowerFlex planned for this host, read from its discovery log; none (and why, as a warning)
 * when there is no plan to follow.
 */
async function followPlan(c: {
  readonly system: System;
  readonly sdts: readonly Sdt[];
  readonly inputs: Pick<Inputs, "roles" | "sdts">;
  readonly overrides: Readonly<Record<string, readonly string[]>>;
  /** Every usable SDT address, overrides applied: what "all-sdts" connects. */
  readonly plan: PathPlan;
  readonly knownNqn: string | undefined;
  readonly host: HostIdentity;
  readonly options: TargetOptions;
}): Promise<{ planned?: DiscoveryPlan; warnings: string[]; noPlan?: NoPlan }> {
  const { plan, options } = c;
  const warnings: string[] = [];
  let facts: Parameters<typeof whyNoPlan>[0] = { mappedVolumes: options.mappedVolumes?.() ?? 0, canDiscover: options.discover !== undefined };
  let planned: DiscoveryPlan | undefined;
  if (facts.mappedVolumes > 0 && options.discover) {
    const read = await readDiscoveryLog(endpointsOf(plan.paths), c.host, options.discover);
    warnings.push(...read.warnings);
    facts = { ...facts, asked: read.asked };
    if (read.records.length > 0) {
      // The plan names the SDTs' own addresses: match against those, then connect a planned SDT at its overrides.
      const overridden = new Set(plan.paths.filter((p) => p.sdtId in c.overrides || p.sdtName in c.overrides).map((p) => p.sdtId));
      const candidates = overridden.size > 0 ? planPaths({ system: c.system, sdts: c.sdts, roles: c.inputs.roles, sdtFilter: c.inputs.sdts }) : plan;
      try {
        const found = pathsFromDiscovery({ records: read.records, ...(c.knownNqn ? { subsystemNqn: c.knownNqn } : {}), sdts: c.sdts, candidates, connectable: plan.paths, overridden });
        facts = { ...facts, planned: found.paths.length, leftOut: found.leftOut };
        if (found.paths.length > 0) {
          warnings.push(...found.leftOut.map((l) => `the discovery log entry ${l}; it is left out`));
          planned = found;
        }
      } catch (err) {
        facts = { ...facts, planned: 0, leftOut: [(err as Error).message] };
      }
    }
  }
  const noPlan = whyNoPlan(facts);
  if (noPlan) warnings.push(`pathSource "plan": ${noPlan.reason}; connecting every usable address of the protection domain's SDTs instead (as pathSource "all-sdts")`);
  return { ...(planned ? { planned } : {}), warnings, ...(noPlan ? { noPlan } : {}) };
}

/** The port the `addresses` input gives this path, if any. */
function portOverride(inputs: Pick<Inputs, "addresses">, p: PlannedPath): number | undefined {
  return inputs.addresses?.find((a) => (a.sdt === p.sdtId || a.sdt === p.sdtName) && a.traddr === p.traddr)?.trsvcid;
}

/** Ask the SDTs' discovery controllers which subsystem they serve; they must all agree. */
async function discoverNqn(paths: readonly PlannedPath[], host: HostIdentity, options: TargetOptions): Promise<string> {
  if (!options.discover) {
    throw new Error(
      "the gateway does not report the system's subsystem NQN (systemNqn; PowerFlex before 4.x), and it cannot be " +
        "discovered during preview. Run `pulumi up` (it runs `nvme discover` at an SDT), or upgrade the gateway.",
    );
  }
  const problems: string[] = [];
  for (const p of paths) {
    try {
      const records = (await options.discover(p.traddr, p.discoverySvcid, host.hostnqn, host.hostid)).filter(isSubsystemRecord);
      const nqns = [...new Set(records.map((r) => r.subnqn))];
      if (nqns.length === 1) return nqns[0];
      problems.push(`${p.traddr}:${p.discoverySvcid} lists ${nqns.length === 0 ? "no NVMe subsystem (PowerFlex 4.x lists it only once a volume is mapped to this host)" : `several subsystems (${nqns.join(", ")})`}`);
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  throw new Error(`could not learn the subsystem NQN by discovery: ${problems.join("; ")}`);
}

/** Each discovery controller of these paths once, in path order. */
function endpointsOf(paths: readonly PlannedPath[]): DiscoveryEndpoint[] {
  const out: DiscoveryEndpoint[] = [];
  for (const p of paths) if (!out.some((e) => e.traddr === p.traddr && e.port === p.discoverySvcid)) out.push({ traddr: p.traddr, port: p.discoverySvcid });
  return out;
}

/**
 * The discovery log as PowerFlex serves it to this host: each endpoint in turn until one lists entries, then
 * the discovery controllers it refers to (each once, at most MAX_REFERRALS), all entries together. A
 * discovery controller may list only its own port plus referrals (as Linux nvmet does).
 */
async function readDiscoveryLog(
  endpoints: readonly DiscoveryEndpoint[],
  host: HostIdentity,
  discover: NonNullable<TargetOptions["discover"]>,
): Promise<{ asked: DiscoveryAnswer[]; records: DiscoveryRecord[]; warnings: string[] }> {
  const asked: DiscoveryAnswer[] = [];
  const records: DiscoveryRecord[] = [];
  const warnings: string[] = [];
  const visited = new Set<string>();
  const id = (e: DiscoveryEndpoint) => `${e.traddr}|${e.port}`;
  for (const endpoint of endpoints) {
    visited.add(id(endpoint));
    try {
      const log = await discover(endpoint.traddr, endpoint.port, host.hostnqn, host.hostid);
      asked.push({ endpoint, records: log.length });
      if (log.length > 0) {
        records.push(...log);
        break;
      }
    } catch (err) {
      asked.push({ endpoint, problem: (err as Error).message, records: 0, refused: err instanceof NvmeCommandError && err.failure.class === "refused" });
    }
  }
  const queue = referralsOf(records).filter((e) => !visited.has(id(e)));
  for (let followed = 0; queue.length > 0; ) {
    const endpoint = queue.shift()!;
    if (visited.has(id(endpoint))) continue;
    if (followed++ >= MAX_REFERRALS) {
      warnings.push(`the discovery log refers to more than ${MAX_REFERRALS} discovery controllers; ${endpoint.traddr}:${endpoint.port} and later ones were not asked`);
      break;
    }
    visited.add(id(endpoint));
    try {
      const log = await discover(endpoint.traddr, endpoint.port, host.hostnqn, host.hostid);
      records.push(...log);
      queue.push(...referralsOf(log).filter((e) => !visited.has(id(e))));
    } catch (err) {
      warnings.push(`the discovery controller ${endpoint.traddr}:${endpoint.port} the log refers to did not answer: ${(err as Error).message}`);
    }
  }
  return { asked, records, warnings };
}
