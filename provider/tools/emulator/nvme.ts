import { createHash } from "node:crypto";
import { DEFAULT_DISCOVERY_PORT, DEFAULT_HOST_ROLES, DEFAULT_NVME_PORT, planPaths } from "../../powerflex/paths";
import { Sdt } from "../../powerflex/rest/types";
import { canonicalIp } from "../../host/nvme/identity";
import { portKey } from "./balancer";
import type { InitiatorConnection } from "./initiators";
import { systemNqnOf, type EmulatorState, type Obj } from "./state";

/*
 * PowerFlex's side of NVMe/TCP as the emulator shows it: system port ids, the NvmeController relationship
 * of a host (its connections, marked assigned when the plan holds that port) and the discovery log an
 * SDT's discovery controller returns to a host (the host's planned ports).
 */

const HOST_ROLES = new Set(DEFAULT_HOST_ROLES);
const DISCOVERY_NQN = "nqn.2014-08.org.nvmexpress.discovery";
// What real logs (nvmet, and the arrays' samples) show for TCP entries.
const TREQ = "not specified, sq flow control disable supported";

/** One host-role address of an SDT: a system port, with its system-wide port id. */
interface SystemPort {
  readonly sdt: Obj;
  /** Canonical address text. */
  readonly traddr: string;
  /** 1-based position among the host-role addresses of all SDTs (SDTs in id order, addresses in `ipList` order). */
  readonly portId: number;
}

function systemPorts(state: EmulatorState): SystemPort[] {
  const out: SystemPort[] = [];
  const sdts = [...state.sdts.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const sdt of sdts) {
    for (const e of (sdt["ipList"] as { ip?: unknown; role?: unknown }[] | null) ?? []) {
      if (typeof e.ip !== "string" || typeof e.role !== "string" || !HOST_ROLES.has(e.role)) continue;
      let traddr: string;
      try {
        traddr = canonicalIp(e.ip);
      } catch {
        continue;
      }
      out.push({ sdt, traddr, portId: out.length + 1 });
    }
  }
  return out;
}

const nvmePortOf = (sdt: Obj) => Number(sdt["nvmePort"] ?? DEFAULT_NVME_PORT);
const discoveryPortOf = (sdt: Obj) => Number(sdt["discoveryPort"] ?? DEFAULT_DISCOVERY_PORT);
const adrfam = (traddr: string) => (traddr.includes(":") ? "ipv6" : "ipv4");

/** The NVMe host with this NQN (case-insensitive, as the gateway compares them). */
export function hostByNqn(state: EmulatorState, nqn: string): Obj | undefined {
  const want = nqn.toLowerCase();
  return [...state.hosts.values()].find((h) => h["hostType"] === "NVMeHost" && typeof h["nqn"] === "string" && h["nqn"].toLowerCase() === want);
}

/**
 * `Host::{id}/relationships/NvmeController`, in the gateway's shape: one entry per live connection of that
 * host to a system port, `isAssigned` when the host's plan holds that port.
 */
export function controllersOfHost(state: EmulatorState, hostId: string, connections: readonly InitiatorConnection[]): Obj[] {
  const host = state.hosts.get(hostId);
  if (!host || typeof host["nqn"] !== "string") return [];
  const nqn = host["nqn"].toLowerCase();
  const ports = systemPorts(state);
  const planned = new Set(state.plannedPorts(hostId).map(portKey));
  return connections.flatMap((c) => {
    if (c.hostnqn.toLowerCase() !== nqn) return [];
    const port = ports.find((p) => p.traddr === c.traddr && nvmePortOf(p.sdt) === c.trsvcid);
    if (!port) return [];
    const key = portKey({ sdtId: port.sdt.id, traddr: port.traddr, trsvcid: c.trsvcid });
    const id = createHash("sha256").update(`${hostId}|${key}|${c.cntlid ?? ""}`).digest("hex").slice(0, 16);
    return [
      {
        name: null,
        isConnected: true,
        sdtId: port.sdt.id,
        hostIp: c.hostIp,
        hostId,
        controllerId: c.cntlid ?? null,
        sysPortId: port.portId,
        sysPortIp: port.traddr,
        subsystem: "Io",
        isAssigned: planned.has(key),
        id,
        links: [{ rel: "self", href: `/api/instances/NvmeController::${id}` }],
      },
    ];
  });
}

/** One discovery log entry (the fields `nvme discover -o json` prints; eflags/sectype are the printer's). */
export interface DiscoveryEntry {
  readonly trtype: "tcp";
  readonly adrfam: "ipv4" | "ipv6";
  readonly subtype: "nvme subsystem" | "current discovery subsystem";
  readonly treq: string;
  readonly portid: number;
  readonly trsvcid: string;
  readonly subnqn: string;
  readonly traddr: string;
}

/** What an SDT's discovery controller answers: a log, or a refused connection and why. */
export type DiscoveryAnswer = { readonly records: DiscoveryEntry[] } | { readonly refused: string };

/**
 * The discovery log the discovery controller at `traddr:trsvcid` returns to `hostnqn`: the current
 * discovery subsystem, then one `nvme subsystem` entry per port planned for that host. Empty when the host
 * is unknown or has no volume mapped (no plan). Refused when no usable SDT listens there with a host role.
 */
export function discoveryLog(state: EmulatorState, traddr: string, trsvcid: number, hostnqn: string): DiscoveryAnswer {
  let addr: string;
  try {
    addr = canonicalIp(traddr);
  } catch {
    return { refused: `${traddr} is not an IP address` };
  }
  const ports = systemPorts(state);
  const here = ports.find((p) => p.traddr === addr && discoveryPortOf(p.sdt) === trsvcid);
  const where = addr.includes(":") ? `[${addr}]:${trsvcid}` : `${addr}:${trsvcid}`;
  if (!here) return { refused: `no SDT has a discovery address ${where} with a host role (StorageAndHost or HostOnly)` };
  const system = [...state.systems.values()][0]!;
  // The SDT must be usable (the provider's own rule): one down or in maintenance does not answer.
  const parsed = Sdt.safeParse(here.sdt);
  const served = planPaths({ system, sdts: parsed.success ? [parsed.data] : [] });
  if (!served.paths.some((p) => p.traddr === addr)) {
    const why = served.skipped[0]?.reason ?? "its object does not parse";
    return { refused: `SDT ${String(here.sdt["name"] ?? here.sdt.id)} (id ${here.sdt.id}) does not serve ${where}: ${why}` };
  }
  const host = hostByNqn(state, hostnqn);
  const planned = host ? state.plannedPorts(host.id) : [];
  if (planned.length === 0) return { records: [] };
  const subnqn = systemNqnOf(system);
  const portIdOf = (sdtId: string, a: string) => ports.find((p) => p.sdt.id === sdtId && p.traddr === a)?.portId ?? 0;
  return {
    records: [
      { trtype: "tcp", adrfam: adrfam(addr), subtype: "current discovery subsystem", treq: TREQ, portid: here.portId, trsvcid: String(trsvcid), subnqn: DISCOVERY_NQN, traddr: addr },
      ...planned.map((p): DiscoveryEntry => ({
        trtype: "tcp",
        adrfam: adrfam(p.traddr),
        subtype: "nvme subsystem",
        treq: TREQ,
        portid: portIdOf(p.sdtId, p.traddr),
        trsvcid: String(p.trsvcid),
        subnqn,
        traddr: p.traddr,
      })),
    ],
  };
}
