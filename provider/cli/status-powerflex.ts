import type { PowerFlexClient } from "../powerflex/rest/client";
import { DEFAULT_NVME_PORT, subsystemNqnOf } from "../powerflex/paths";
import { addressKey, compareWithArray, type UnconnectedPort } from "../powerflex/array-view";
import type { ControllerStatus } from "../host/status";

/**
 * `powerflex-nvme status --powerflex`: PowerFlex's view beside the host's. Reads the gateway (systems,
 * NVMe hosts, protection domains and their SDTs, each host's NvmeController list) and judges with the pure
 * {@link compareWithArray}, as refresh does.
 */

/** PowerFlex's entry for one controller on the host. */
export interface ControllerArrayView {
  readonly isAssigned: boolean | null;
  readonly isConnected: boolean | null;
  readonly sdtId: string | null;
}

export interface DomainBudget {
  readonly id: string;
  readonly name: string | null;
  /** System ports of this protection domain PowerFlex lists connected for the host. */
  readonly connectedPorts: number;
  readonly overBudget: boolean;
}

/** One NVMe host object of a host NQN seen on this host. */
export interface HostArrayView {
  readonly hostId: string;
  readonly hostnqn: string;
  readonly name: string | null;
  /** The host object's budget per protection domain; null when the gateway reports none. */
  readonly maxNumSysPorts: number | null;
  readonly protectionDomains: readonly DomainBudget[];
  /** Ports PowerFlex assigned to the host that no controller on this host connects to. */
  readonly plannedNotConnected: readonly UnconnectedPort[];
}

export interface PowerFlexStatus {
  readonly endpoint: string;
  /** Per controller of `status.controllers`, in order: PowerFlex's entry; null when not a system's subsystem or not listed. */
  readonly controllers: readonly (ControllerArrayView | null)[];
  readonly hosts: readonly HostArrayView[];
  /** Host NQNs connected to a system's subsystem that PowerFlex has no NVMe host for. */
  readonly unknownHostNqns: readonly string[];
}

export async function readPowerFlexStatus(client: PowerFlexClient, controllers: readonly ControllerStatus[], ownNqn: string | undefined): Promise<PowerFlexStatus> {
  const [systems, hosts, domains] = await Promise.all([client.listSystems(), client.listNvmeHosts(), client.listProtectionDomains()]);
  const subsystems = new Set(systems.flatMap((s) => subsystemNqnOf(s).nqn ?? []));
  const sdts = new Map(await Promise.all(domains.map(async (d) => [d.id, await client.listSdts(d.id)] as const)));
  const sdtsOf = new Map([...sdts].map(([id, list]) => [id, new Set(list.map((t) => t.id))]));
  // A system without systemNqn (some 4.5 gateways): its controllers are those to an SDT address at the SDT's NVMe port.
  const unnamed = new Set(systems.filter((s) => subsystemNqnOf(s).nqn === null).map((s) => s.id));
  const sdtPorts = new Set(
    domains.filter((d) => unnamed.has(d.systemId ?? [...unnamed][0] ?? "")).flatMap((d) => sdts.get(d.id)!).flatMap((t) => (t.ipList ?? []).flatMap((a) => (typeof a.ip === "string" ? [`${addressKey(a.ip)}|${t.nvmePort ?? DEFAULT_NVME_PORT}`] : []))),
  );
  const ours = (c: ControllerStatus) => c.traddr !== null && (subsystems.has(c.subsysnqn) || sdtPorts.has(`${addressKey(c.traddr)}|${c.trsvcid}`));
  const nqns = [...new Set([...controllers.filter(ours).map((c) => c.hostnqn), ...(ownNqn !== undefined ? [ownNqn] : [])])];
  const found = nqns.map((nqn) => ({ nqn, host: hosts.find((h) => h.nqn.toLowerCase() === nqn.toLowerCase()) }));
  const entries = new Array<ControllerArrayView | null>(controllers.length).fill(null);
  const views: HostArrayView[] = [];
  for (const { nqn, host } of found) {
    if (!host) continue;
    const connected = controllers.map((c, i) => ({ c, i })).filter(({ c }) => ours(c) && c.hostnqn === nqn);
    const array = await client.listNvmeControllersOfHost(host.id);
    const maxNumSysPorts = host.maxNumSysPorts ?? null;
    const all = compareWithArray(connected.map(({ c, i }) => ({ traddr: c.traddr!, trsvcid: c.trsvcid, i })), array, { maxNumSysPorts });
    for (const v of all.connections) {
      if (v.array) entries[v.connection.i] = { isAssigned: v.array.isAssigned ?? null, isConnected: v.array.isConnected ?? null, sdtId: v.array.sdtId ?? null };
    }
    const perDomain = domains.map((d) => ({ d, view: compareWithArray(connected.map(({ c }) => ({ traddr: c.traddr!, trsvcid: c.trsvcid })), array, { sdtIds: sdtsOf.get(d.id)!, maxNumSysPorts }) }));
    views.push({
      hostId: host.id,
      hostnqn: host.nqn,
      name: host.name ?? null,
      maxNumSysPorts,
      protectionDomains: perDomain
        .filter(({ view }) => view.connectedPorts > 0)
        .map(({ d, view }) => ({ id: d.id, name: d.name ?? null, connectedPorts: view.connectedPorts, overBudget: view.overBudget !== undefined })),
      plannedNotConnected: all.plannedNotConnected,
    });
  }
  return { endpoint: client.endpoint, controllers: entries, hosts: views, unknownHostNqns: found.filter((f) => !f.host && f.nqn !== ownNqn).map((f) => f.nqn) };
}
