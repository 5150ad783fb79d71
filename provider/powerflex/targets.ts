import type { Inputs } from "../pulumi/inputs";
import type { DiscoveryRecord } from "../host/nvme/discover";
import type { HostIdentity } from "../host/nvme/hostid";
import type { PathIdentity } from "../host/nvme/identity";
import { printable } from "../printable";
import { placementOf } from "./placement";
import { planPaths, subsystemNqnOf, type PlannedPath, type PowerFlexClient, type SkippedSdt } from ".";

/**
 * From the inputs and what PowerFlex reports now to the exact NVMe/TCP paths of an attachment. Only GETs:
 * diff (preview) uses it too; the SDTs are asked for every time, the system and protection domain once a
 * minute (placement.ts). The subsystem NQN comes from the system (`systemNqn`, PowerFlex 4.x/5.x),
 * else from the state (already known), else from `nvme discover` at an SDT (only where allowed: never in
 * preview).
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
}

export interface TargetOptions {
  /** The NQN this attachment already uses (from state), when the gateway does not report one. */
  readonly knownSubsystemNqn?: string;
  /** `nvme discover` at an SDT's discovery port; absent where discovery must not run (preview). */
  readonly discover?: (traddr: string, port: number, hostnqn: string, hostid: string) => Promise<DiscoveryRecord[]>;
  /**
   * Runs once the system is known and before the subsystem NQN is looked up: registering the host and
   * mapping volumes go here, because a 4.x discovery log lists the subsystem only once a volume is mapped.
   */
  readonly beforeDiscovery?: (systemId: string) => Promise<void>;
}

export async function planTargets(
  client: PowerFlexClient,
  inputs: Pick<Inputs, "system" | "protectionDomain" | "sdts" | "roles" | "addresses" | "connect">,
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
  const paths = plan.paths.map((p) => ({ ...p, trsvcid: portOverride(inputs, p) ?? p.trsvcid }));

  await options.beforeDiscovery?.(system.id);
  const subsystemNqn = subsystemNqnOf(system).nqn ?? options.knownSubsystemNqn ?? (await discoverNqn(paths, host, options));
  const hostTraddr = inputs.connect?.hostTraddr;
  const hostIface = inputs.connect?.hostIface;
  return {
    systemId: system.id,
    protectionDomainId: pd.id,
    subsystemNqn,
    skipped: plan.skipped,
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

/** A not-found answer is about an input: put the input's name in front of the message. */
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
      const records = await options.discover(p.traddr, p.discoverySvcid, host.hostnqn, host.hostid);
      const nqns = [...new Set(records.map((r) => r.subnqn))];
      if (nqns.length === 1) return nqns[0];
      problems.push(`${p.traddr}:${p.discoverySvcid} lists ${nqns.length === 0 ? "no NVMe subsystem (PowerFlex 4.x lists it only once a volume is mapped to this host)" : `several subsystems (${nqns.join(", ")})`}`);
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  throw new Error(`could not learn the subsystem NQN by discovery: ${problems.join("; ")}`);
}
