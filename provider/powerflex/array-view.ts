import { canonicalIp } from "../host/nvme/identity";
import type { NvmeController } from "./rest/types";

/*
 * PURE: the host's view of its connections beside PowerFlex's (`Host::{id}/relationships/NvmeController`
 * and the host object's `maxNumSysPorts`). PowerFlex accepts a connection its load balancer did not plan
 * and marks it `isAssigned: false`; it lists a planned port the host has not connected as assigned, not
 * connected. Refresh and `powerflex-nvme status` both judge with this.
 */

/** One connection of the host to a system port, as the host sees it (sysfs, or the state's paths). */
export interface HostConnection {
  readonly traddr: string;
  readonly trsvcid: number | null;
}

/** One connection with PowerFlex's entry for it (absent when PowerFlex lists none for that port). */
export interface ConnectionView<C extends HostConnection> {
  readonly connection: C;
  readonly array?: NvmeController;
}

/** A port PowerFlex assigned to the host that the host has no connection to. */
export interface UnconnectedPort {
  readonly sysPortIp: string;
  readonly sdtId: string | null;
}

export interface ArrayView<C extends HostConnection> {
  readonly connections: readonly ConnectionView<C>[];
  /** Connections PowerFlex lists with `isAssigned: false`: accepted, not planned. */
  readonly notAssigned: readonly C[];
  /** Ports PowerFlex assigned (`isAssigned: true`, in the SDTs given) with no connection of the host to them. */
  readonly plannedNotConnected: readonly UnconnectedPort[];
  /** System ports PowerFlex lists connected for the host (in the SDTs given). */
  readonly connectedPorts: number;
  /** Connected system ports (PowerFlex's count, in the SDTs given) beyond the host's `maxNumSysPorts`. */
  readonly overBudget?: { readonly ports: number; readonly maxNumSysPorts: number };
}

/** Address text compared as the array and the kernel mean it (IPv6 forms, brackets); raw text when not an address. */
export function addressKey(text: string): string {
  try {
    return canonicalIp(text);
  } catch {
    return text;
  }
}

/**
 * Compare. `sdtIds`: the SDTs of the protection domain whose ports are planned and counted (all when absent);
 * `maxNumSysPorts`: the host object's, null when the gateway reports none (no budget check then).
 */
export function compareWithArray<C extends HostConnection>(
  host: readonly C[],
  array: readonly NvmeController[],
  options: { readonly sdtIds?: ReadonlySet<string>; readonly maxNumSysPorts?: number | null } = {},
): ArrayView<C> {
  // PowerFlex's entry carries the system port's address, not its NVMe port: one address is one system port.
  const connectedAt = (c: NvmeController) => (c.isConnected !== false && typeof c.sysPortIp === "string" ? addressKey(c.sysPortIp) : undefined);
  const connections = host.map((connection): ConnectionView<C> => {
    const key = addressKey(connection.traddr);
    const seen = array.find((c) => connectedAt(c) === key);
    return seen ? { connection, array: seen } : { connection };
  });
  const hostKeys = new Set(host.map((c) => addressKey(c.traddr)));
  const inDomain = array.filter((c) => options.sdtIds === undefined || (typeof c.sdtId === "string" && options.sdtIds.has(c.sdtId)));
  const plannedNotConnected = inDomain
    .filter((c) => c.isAssigned === true && typeof c.sysPortIp === "string" && !hostKeys.has(addressKey(c.sysPortIp)))
    .map((c) => ({ sysPortIp: c.sysPortIp!, sdtId: c.sdtId ?? null }));
  const ports = new Set(inDomain.flatMap((c) => connectedAt(c) ?? [])).size;
  const max = options.maxNumSysPorts;
  return {
    connections,
    notAssigned: connections.filter((v) => v.array?.isAssigned === false).map((v) => v.connection),
    plannedNotConnected: dedupe(plannedNotConnected),
    connectedPorts: ports,
    ...(typeof max === "number" && ports > max ? { overBudget: { ports, maxNumSysPorts: max } } : {}),
  };
}

function dedupe(ports: readonly UnconnectedPort[]): UnconnectedPort[] {
  const seen = new Set<string>();
  return ports.filter((p) => {
    const key = `${p.sdtId}|${addressKey(p.sysPortIp)}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * What refresh tells the user about PowerFlex's view of the attachment's paths; `describe` names a path.
 * Gateway text (addresses, ids) goes out escaped by the caller.
 */
export function arrayViewWarnings<C extends HostConnection>(view: ArrayView<C>, describe: (c: C) => string): string[] {
  return [
    ...view.notAssigned.map(
      (c) =>
        `PowerFlex did not assign ${describe(c)} to this host (isAssigned false in its NvmeController list): ` +
        "the array accepts the connection, but its load balancer planned other ports",
    ),
    ...view.plannedNotConnected.map(
      (p) => `PowerFlex assigned the system port ${p.sysPortIp}${p.sdtId ? ` (SDT ${p.sdtId})` : ""} to this host, but this attachment holds no path to it`,
    ),
    ...(view.overBudget
      ? [
          `this host is connected to ${view.overBudget.ports} system ports of the protection domain, more than its maxNumSysPorts ` +
            `(${view.overBudget.maxNumSysPorts}) in PowerFlex: the load balancer plans at most that many`,
        ]
      : []),
  ];
}
