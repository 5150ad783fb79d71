import { randomBytes } from "node:crypto";
import { Codes, GatewayError } from "./errors";
import { parseTopology, type Topology, type TopologyInput } from "./topology";
import { DEFAULT_MAX_NUM_SYS_PORTS, replan, sysPortsOf, type BalancerPlan, type SysPort } from "./balancer";

/** A stored object: the REST shape, served back as it is (plus links). */
export type Obj = Record<string, unknown> & { id: string };

/** Arguments of {@link EmulatorState.addSdt}. Unknown fields are stored and served as given. */
export interface AddSdtArgs {
  id?: string;
  name?: string;
  /** Default: the first protection domain. */
  protectionDomainId?: string;
  ipList: { ip: string | null; role: string | null }[];
  nvmePort?: number | string;
  discoveryPort?: number | string;
  mdmConnectionState?: string;
  maintenanceState?: string;
  [field: string]: unknown;
}

/** Arguments of {@link EmulatorState.addHost}. */
export interface AddHostArgs {
  id?: string;
  nqn: string;
  name?: string;
  maxNumPaths?: number | string;
  maxNumSysPorts?: number | string;
}

/** Fields of an NVMe host {@link EmulatorState.updateHost} changes (as `modifyMaxNumSysPorts` does on 4.6+). */
export interface UpdateHostArgs {
  maxNumPaths?: number | string;
  maxNumSysPorts?: number | string;
}

/** Arguments of {@link EmulatorState.addVolume}. */
export interface AddVolumeArgs {
  id?: string;
  name: string;
  /** Default: the first storage pool. */
  storagePoolId?: string;
  sizeInKb?: number;
}

/** Options of a mapping. */
export interface MapArgs {
  accessMode?: string;
  allowMultipleMappings?: boolean;
}

/** A mapping made or removed: what the array's NVMe target would now expose to that host. */
export interface MappingEvent {
  readonly kind: "map" | "unmap";
  readonly volume: Obj;
  readonly host: Obj;
}

/** The subsystem NQN an emulated system serves: its `systemNqn`, else the 5.x form built from its id. */
export function systemNqnOf(system: Obj): string {
  return typeof system["systemNqn"] === "string" && system["systemNqn"] ? system["systemNqn"] : `nqn.1988-11.com.dell:powerflex:00:${system.id}`;
}

/** A 16-hex-digit id like the gateway's. */
export function newId(): string {
  return randomBytes(8).toString("hex");
}

/** Longest host or volume name the gateway accepts. */
export const MAX_NAME = 31;

/**
 * The emulated gateway's objects. Tests and the demo change it at runtime (add an SDT mid-story, point an
 * SDT at a real local target); the REST layer reads and writes it through the same methods, so both see
 * the same rules (a mapped host cannot be removed, a volume maps to one host unless told otherwise).
 */
export class EmulatorState {
  /** Systems by id. */
  readonly systems = new Map<string, Obj>();
  /** Protection domains by id. */
  readonly protectionDomains = new Map<string, Obj>();
  /** Storage pools by id. */
  readonly storagePools = new Map<string, Obj>();
  /** SDTs by id. */
  readonly sdts = new Map<string, Obj>();
  /** Hosts (NVMe hosts and SDCs) by id. */
  readonly hosts = new Map<string, Obj>();
  /** Volumes by id; `mappedSdcInfo` is an array, or null as older arrays send it for an unmapped volume. */
  readonly volumes = new Map<string, Obj>();
  /**
   * Called after each mapping change. The demo and tests bridge it to the simulated host or to kernel
   * targets (a namespace appears or goes), as the array's NVMe target does.
   */
  readonly mappingListeners: ((event: MappingEvent) => void)[] = [];
  /**
   * Called after each recalculation of the load balancer's plan (a mapping, an SDT, a host's budget or first
   * connection, the admin's rebalance). The kernel tests bridge it to nvmet, whose discovery then answers the plan.
   */
  readonly planListeners: ((plan: { generation: number; hosts: BalancerPlan }) => void)[] = [];
  /** The load balancer's plan, kept between the events that recalculate it (see {@link rebalance}). */
  private kept: BalancerPlan = [];
  /** Recalculations so far: a test can see that one happened (or did not). */
  private generation = 0;
  /** NVMe hosts seen connected at least once: their first connection is a recalculation event. */
  private readonly seenConnected = new Set<string>();

  constructor(topology: TopologyInput) {
    const t: Topology = parseTopology(topology);
    const firstSystem = t.systems[0]!.id;
    for (const s of t.systems) this.systems.set(s.id, { ...s });
    for (const pd of t.protectionDomains) this.protectionDomains.set(pd.id, { systemId: firstSystem, ...pd });
    for (const p of t.storagePools) this.storagePools.set(p.id, { ...p });
    for (const s of t.sdts) this.sdts.set(s.id, { systemId: this.protectionDomains.get(s.protectionDomainId)?.["systemId"], ...s });
    for (const h of t.hosts) this.hosts.set(h.id, { systemId: firstSystem, ...h });
    for (const v of t.volumes) this.volumes.set(v.id, { ...v, mappedSdcInfo: v.mappedSdcInfo === null ? null : [...(v.mappedSdcInfo ?? [])] });
    this.rebalance();
  }

  /** The load balancer's plan as kept now, and how many recalculations made it. */
  plan(): { generation: number; hosts: BalancerPlan } {
    return { generation: this.generation, hosts: this.kept };
  }

  /** The ports planned for a host, over all its protection domains (none: no volume mapped, or unknown). */
  plannedPorts(hostId: string): SysPort[] {
    return this.kept.filter((e) => e.hostId === hostId).flatMap((e) => e.ports);
  }

  /**
   * Recalculate the plan: for the hosts named (a mapping changed, a host connected for the first time),
   * or for every host from nothing ("all": an SDT added, removed or changed; the admin's rebalance).
   */
  rebalance(which: readonly string[] | "all" = "all"): void {
    const system = [...this.systems.values()][0]!;
    const portsByDomain = new Map<string, SysPort[]>();
    for (const pd of this.protectionDomains.values()) {
      portsByDomain.set(pd.id, sysPortsOf(system.id, [...this.sdts.values()].filter((s) => s["protectionDomainId"] === pd.id)));
    }
    const hosts = [...this.hosts.values()]
      .filter((h) => h["hostType"] === "NVMeHost")
      .map((h) => ({ id: h.id, maxNumSysPorts: h["maxNumSysPorts"], domains: this.domainsOfHost(h.id) }))
      .filter((h) => h.domains.length > 0);
    this.kept = replan({ hosts, portsByDomain, current: this.kept, which });
    this.generation++;
    for (const l of this.planListeners) l(this.plan());
  }

  /** Hosts seen connected now (by the initiators the emulator watches): a host's first connection recalculates its plan. */
  noteConnected(hostIds: Iterable<string>): void {
    const first = [...new Set(hostIds)].filter((id) => this.hosts.has(id) && !this.seenConnected.has(id));
    for (const id of first) this.seenConnected.add(id);
    if (first.length > 0) this.rebalance(first);
  }

  /** Protection domains where a host has a mapped volume (through the volume's storage pool). */
  private domainsOfHost(hostId: string): string[] {
    const pds = this.volumesOfHost(hostId).map((v) => this.storagePools.get(String(v["storagePoolId"]))?.["protectionDomainId"]);
    return [...new Set(pds.filter((pd): pd is string => typeof pd === "string"))];
  }

  /** Add an SDT (runtime topology change). Returns the stored object. */
  addSdt(args: AddSdtArgs): Obj {
    const pdId = args.protectionDomainId ?? [...this.protectionDomains.keys()][0];
    const pd = pdId ? this.protectionDomains.get(pdId) : undefined;
    if (!pd) throw new GatewayError(500, Codes.protectionDomainNotFound, `Could not find the protection domain ${pdId ?? "(none exists)"}`);
    const sdt: Obj = {
      name: args.name ?? null,
      storagePort: 12200,
      nvmePort: 4420,
      discoveryPort: 8009,
      sdtState: "Normal",
      mdmConnectionState: "Connected",
      membershipState: "Joined",
      maintenanceState: "NoMaintenance",
      faultSetId: null,
      authenticationError: "None",
      persistentDiscoveryControllersNum: 0,
      ...args,
      id: args.id ?? newId(),
      protectionDomainId: pd.id,
      systemId: pd["systemId"],
    };
    this.sdts.set(sdt.id, sdt);
    this.rebalance();
    return sdt;
  }

  /** Change fields of an SDT (e.g. `{maintenanceState: "InMaintenance"}` or a new `ipList`). */
  updateSdt(id: string, patch: Partial<AddSdtArgs>): Obj {
    const sdt = this.sdts.get(id);
    if (!sdt) throw new GatewayError(500, Codes.notFound, `Could not find the SDT ${id}`);
    Object.assign(sdt, patch, { id });
    if (Object.keys(patch).some((k) => PLAN_FIELDS_OF_SDT.has(k))) this.rebalance();
    return sdt;
  }

  /** Remove an SDT. */
  removeSdt(id: string): void {
    if (!this.sdts.delete(id)) throw new GatewayError(500, Codes.notFound, `Could not find the SDT ${id}`);
    this.rebalance();
  }

  /** Register an NVMe host, with the gateway's checks (name length, NQN present and unique). */
  addHost(args: AddHostArgs): Obj {
    if (typeof args.nqn !== "string" || args.nqn === "") {
      throw new GatewayError(400, Codes.generic, "Request message is not valid: The following parameter(s) must be part of the request body: nqn.");
    }
    if (args.name !== undefined && args.name.length > MAX_NAME) {
      throw new GatewayError(500, Codes.nameTooLong, `The name is too long: at most ${MAX_NAME} characters are allowed`);
    }
    const lower = args.nqn.toLowerCase();
    for (const h of this.hosts.values()) {
      if (typeof h["nqn"] === "string" && h["nqn"].toLowerCase() === lower) {
        throw new GatewayError(500, Codes.generic, "An object with the same NQN already exists");
      }
      if (args.name !== undefined && h["name"] === args.name) throw new GatewayError(500, Codes.generic, "A host with this name already exists");
    }
    const maxNumPaths = positiveInt("maxNumPaths", args.maxNumPaths, 4);
    const maxNumSysPorts = positiveInt("maxNumSysPorts", args.maxNumSysPorts, DEFAULT_MAX_NUM_SYS_PORTS);
    const system = [...this.systems.keys()][0];
    const host: Obj = {
      name: args.name ?? null,
      hostOsFullType: "Generic",
      sdcIps: null,
      osType: null,
      sdcApproved: null,
      sdcIp: null,
      mdmConnectionState: null,
      nqn: args.nqn,
      maxNumPaths,
      maxNumSysPorts,
      sdcGuid: null,
      hostType: "NVMeHost",
      systemId: system,
      id: args.id ?? newId(),
    };
    this.hosts.set(host.id, host);
    return host;
  }

  /** Remove a host; refused while volumes are mapped to it (as the gateway does). */
  removeHost(id: string): void {
    if (!this.hosts.has(id)) throw new GatewayError(500, Codes.notFound, `Could not find the SDC ${id}`);
    const mapped = this.volumesOfHost(id);
    if (mapped.length > 0) {
      throw new GatewayError(500, Codes.generic, `SDC has mapped volume(s): ${mapped.map((v) => v.id).join(", ")}`);
    }
    this.hosts.delete(id);
    this.seenConnected.delete(id);
    this.rebalance([id]);
  }

  /** Change an NVMe host's port or path budget; a new `maxNumSysPorts` recalculates its plan. */
  updateHost(id: string, patch: UpdateHostArgs): Obj {
    const host = this.hosts.get(id);
    if (!host) throw new GatewayError(500, Codes.notFound, `Could not find the SDC ${id}`);
    if (patch.maxNumPaths !== undefined) host["maxNumPaths"] = positiveInt("maxNumPaths", patch.maxNumPaths, 4);
    if (patch.maxNumSysPorts !== undefined) {
      host["maxNumSysPorts"] = positiveInt("maxNumSysPorts", patch.maxNumSysPorts, DEFAULT_MAX_NUM_SYS_PORTS);
      this.rebalance([id]);
    }
    return host;
  }

  /** Add a volume. */
  addVolume(args: AddVolumeArgs): Obj {
    if (args.name.length > MAX_NAME) throw new GatewayError(500, Codes.nameTooLong, `The name is too long: at most ${MAX_NAME} characters are allowed`);
    const pool = args.storagePoolId ?? [...this.storagePools.keys()][0] ?? null;
    const vol: Obj = {
      name: args.name,
      sizeInKb: args.sizeInKb ?? 8388608,
      storagePoolId: pool,
      volumeType: "ThinProvisioned",
      volumeClass: "defaultclass",
      accessModeLimit: "ReadWrite",
      mappingToAllSdcsEnabled: false,
      mappedSdcInfo: [],
      id: args.id ?? newId(),
    };
    this.volumes.set(vol.id, vol);
    return vol;
  }

  /** Remove a volume; refused while it is mapped. */
  removeVolume(id: string): void {
    const vol = this.volume(id);
    if (mappings(vol).length > 0) throw new GatewayError(500, Codes.generic, "Volume is mapped");
    this.volumes.delete(id);
  }

  /** A volume or the gateway's "Could not find the volume" (79). */
  volume(id: string): Obj {
    const vol = this.volumes.get(id);
    if (!vol) throw new GatewayError(500, Codes.volumeNotFound, "Could not find the volume");
    return vol;
  }

  /** Map a volume to an NVMe host, with the gateway's refusals. */
  mapVolume(volumeId: string, hostId: string, args: MapArgs = {}): void {
    const vol = this.volume(volumeId);
    const host = this.hosts.get(hostId);
    if (!host) throw new GatewayError(500, Codes.notFound, "Could not find the host");
    const list = mappings(vol);
    if (list.some((m) => m["sdcId"] === hostId)) throw new GatewayError(500, Codes.generic, "The volume is already mapped to this SDC");
    if (list.length > 0 && !args.allowMultipleMappings) {
      throw new GatewayError(500, Codes.generic, "This volume is already mapped and may not be mapped to additional SDCs.");
    }
    const mode = args.accessMode ?? "ReadWrite";
    if (!["ReadWrite", "ReadOnly", "NoAccess"].includes(mode)) {
      throw new GatewayError(400, Codes.generic, `accessMode should get one of the following values: ReadOnly, ReadWrite, NoAccess, but its value is ${mode}`);
    }
    // The namespace id the volume is exposed with (PowerFlex keeps one per volume).
    if (vol["nsid"] === undefined || vol["nsid"] === null) {
      const used = new Set([...this.volumes.values()].map((v) => Number(v["nsid"])));
      let n = 1;
      while (used.has(n)) n++;
      vol["nsid"] = n;
    }
    vol["mappedSdcInfo"] = list;
    list.push({
      limitIops: 0,
      limitBwInMbps: 0,
      isDirectBufferMapping: false,
      sdcId: hostId,
      sdcIp: host["sdcIp"] ?? null,
      sdcName: host["name"] ?? null,
      accessMode: mode,
      nqn: host["nqn"] ?? null,
      hostType: host["hostType"] ?? "SdcHost",
    });
    this.rebalance([hostId]);
    for (const l of this.mappingListeners) l({ kind: "map", volume: vol, host });
  }

  /** Remove a mapping; a missing one is the gateway's 500 / errorCode 4039. */
  unmapVolume(volumeId: string, hostId: string): void {
    const vol = this.volume(volumeId);
    const list = mappings(vol);
    const i = list.findIndex((m) => m["sdcId"] === hostId);
    if (i < 0) throw new GatewayError(500, Codes.invalidMapping, "The volume is not mapped to SDC");
    list.splice(i, 1);
    this.rebalance([hostId]);
    const host = this.hosts.get(hostId);
    if (host) for (const l of this.mappingListeners) l({ kind: "unmap", volume: vol, host });
  }

  /** Volumes mapped to a host. */
  volumesOfHost(hostId: string): Obj[] {
    return [...this.volumes.values()].filter((v) => mappings(v).some((m) => m["sdcId"] === hostId));
  }
}

/** SDT fields whose change recalculates the plan: its addresses, ports, state and failure domain. */
const PLAN_FIELDS_OF_SDT = new Set(["ipList", "nvmePort", "discoveryPort", "sdtState", "mdmConnectionState", "membershipState", "maintenanceState", "faultSetId", "protectionDomainId"]);

/** A count the gateway takes as a number or a decimal string; anything else is its 400. */
function positiveInt(field: string, value: number | string | undefined, dflt: number): number {
  if (value === undefined) return dflt;
  const n = typeof value === "string" && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1) {
    throw new GatewayError(400, Codes.generic, `Request message is not valid: ${field} should be a positive integer, but its value is ${String(value)}`);
  }
  return n;
}

// Reads leave a null mappedSdcInfo as it is (served back as null); mapVolume stores the array it fills.
function mappings(vol: Obj): Record<string, unknown>[] {
  return Array.isArray(vol["mappedSdcInfo"]) ? (vol["mappedSdcInfo"] as Record<string, unknown>[]) : [];
}
