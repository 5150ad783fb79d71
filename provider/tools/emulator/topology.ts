import { z } from "zod";

/*
 * The emulator's world, in the gateway's own REST shape (as in test/fixtures/powerflex/), so a payload
 * captured from a real gateway can be dropped into a topology file. Objects are loose: unknown fields are
 * kept and served back as they are.
 */

const id = z.string().min(1, "must be a non-empty id");
const INT_LIKE = "must be an integer or a decimal string";
const intLike = z.union([z.number().int(INT_LIKE), z.string().regex(/^\d+$/, INT_LIKE)], { error: INT_LIKE });

/** A system object. */
export const TopologySystem = z.looseObject({ id, name: z.string().nullish(), systemNqn: z.string().nullish() });
/** A protection domain object. */
export const TopologyProtectionDomain = z.looseObject({ id, name: z.string().min(1), systemId: z.string().optional() });
/** A storage pool object. */
export const TopologyStoragePool = z.looseObject({ id, name: z.string().min(1), protectionDomainId: z.string() });
/** An SDT object (`ipList` as on reads). */
export const TopologySdt = z.looseObject({
  id,
  name: z.string().nullish(),
  protectionDomainId: z.string(),
  // Half-configured SDTs carry null here; served as they are (the client skips such entries).
  ipList: z.array(z.looseObject({ ip: z.string().nullable(), role: z.string().nullable() })),
  nvmePort: intLike.optional(),
  discoveryPort: intLike.optional(),
  storagePort: intLike.optional(),
  sdtState: z.string().optional(),
  mdmConnectionState: z.string().optional(),
  membershipState: z.string().optional(),
  maintenanceState: z.string().optional(),
});
/** A host object (NVMe host or SDC). */
export const TopologyHost = z.looseObject({
  id,
  name: z.string().nullish(),
  nqn: z.string().nullish(),
  hostType: z.string().nullish(),
  // Ports per protection domain and paths per volume (null on some gateways: the balancer then uses 10).
  maxNumSysPorts: intLike.nullish(),
  maxNumPaths: intLike.nullish(),
});
/** A volume object. */
export const TopologyVolume = z.looseObject({
  id,
  name: z.string().min(1),
  storagePoolId: z.string().nullish(),
  mappedSdcInfo: z.array(z.looseObject({ sdcId: z.string() })).nullish(),
});

/** A topology file: `{"systems":[], "protectionDomains":[], "storagePools":[], "sdts":[], "hosts":[], "volumes":[]}`. */
export const Topology = z
  .object({
    systems: z.array(TopologySystem).min(1, "needs at least one system"),
    protectionDomains: z.array(TopologyProtectionDomain).default([]),
    storagePools: z.array(TopologyStoragePool).default([]),
    sdts: z.array(TopologySdt).default([]),
    hosts: z.array(TopologyHost).default([]),
    volumes: z.array(TopologyVolume).default([]),
  })
  .strict();
export type Topology = z.infer<typeof Topology>;
/** Topology as written in a file (defaults not yet applied). */
export type TopologyInput = z.input<typeof Topology>;

/**
 * Validate a topology; the error names the entry that is wrong (`sdts[2].ipList: ...`, with the entry's
 * id when it has one) and checks that references (systemId, protectionDomainId, ...) resolve.
 */
export function parseTopology(value: unknown, source = "topology"): Topology {
  const parsed = Topology.safeParse(value);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const [list, index] = i.path;
      const entry =
        typeof list === "string" && typeof index === "number"
          ? ((value as Record<string, unknown[]>)[list]?.[index] as { id?: unknown } | undefined)
          : undefined;
      const label = entry && typeof entry.id === "string" ? ` (id ${entry.id})` : "";
      return `${fieldPath(i.path) || "(root)"}${label}: ${i.message.replace(/^Invalid input: /, "")}`;
    });
    throw new Error(`${source} is not a valid emulator topology: ${lines.join("; ")}`);
  }
  const t = parsed.data;
  const problems: string[] = [];
  const ids = (xs: { id: string }[]) => new Set(xs.map((x) => x.id));
  const systems = ids(t.systems);
  const pds = ids(t.protectionDomains);
  const pools = ids(t.storagePools);
  const hosts = ids(t.hosts);
  t.protectionDomains.forEach((pd, i) => {
    if (pd.systemId !== undefined && !systems.has(pd.systemId)) problems.push(`protectionDomains[${i}] (id ${pd.id}): unknown systemId ${pd.systemId}`);
  });
  t.storagePools.forEach((p, i) => {
    if (!pds.has(p.protectionDomainId)) problems.push(`storagePools[${i}] (id ${p.id}): unknown protectionDomainId ${p.protectionDomainId}`);
  });
  t.sdts.forEach((s, i) => {
    if (!pds.has(s.protectionDomainId)) problems.push(`sdts[${i}] (id ${s.id}): unknown protectionDomainId ${s.protectionDomainId}`);
  });
  t.volumes.forEach((v, i) => {
    if (v.storagePoolId && !pools.has(v.storagePoolId)) problems.push(`volumes[${i}] (id ${v.id}): unknown storagePoolId ${v.storagePoolId}`);
    (v.mappedSdcInfo ?? []).forEach((m, j) => {
      if (!hosts.has(m.sdcId)) problems.push(`volumes[${i}].mappedSdcInfo[${j}] (id ${v.id}): unknown sdcId ${m.sdcId}`);
    });
  });
  for (const [name, list] of Object.entries({ systems: t.systems, protectionDomains: t.protectionDomains, storagePools: t.storagePools, sdts: t.sdts, hosts: t.hosts, volumes: t.volumes })) {
    const seen = new Set<string>();
    list.forEach((x, i) => {
      if (seen.has(x.id)) problems.push(`${name}[${i}]: duplicate id ${x.id}`);
      seen.add(x.id);
    });
  }
  // The gateway refuses a second host with an NQN (any case); a topology must not hold one either.
  const byNqn = new Map<string, number>();
  t.hosts.forEach((h, i) => {
    if (typeof h.nqn !== "string" || h.nqn === "") return;
    const first = byNqn.get(h.nqn.toLowerCase());
    if (first === undefined) byNqn.set(h.nqn.toLowerCase(), i);
    else problems.push(`hosts[${i}] (id ${h.id}): NQN ${h.nqn} is also hosts[${first}] (id ${t.hosts[first]!.id})`);
  });
  if (problems.length > 0) throw new Error(`${source} is not a valid emulator topology: ${problems.join("; ")}`);
  return t;
}

/** `sdts[0].ipList[1].ip`: a field as README and the reference checks write it. */
function fieldPath(path: readonly PropertyKey[]): string {
  return path.map((k, i) => (typeof k === "number" ? `[${k}]` : `${i === 0 ? "" : "."}${String(k)}`)).join("");
}

/** System id of the built-in topology. */
export const DEFAULT_SYSTEM_ID = "5fd1a0c900000001";

/**
 * The built-in world (the demo's): one system, two protection domains, three SDTs in the first (two
 * addresses each, one address StorageOnly, one SDT in maintenance), a pool per domain, two volumes, and
 * one legacy SDC host. Addresses are TEST-NET (RFC 5737): the emulator never contacts them.
 */
export function defaultTopology(): TopologyInput {
  const sys = DEFAULT_SYSTEM_ID;
  const sdtBase = {
    protectionDomainId: "7a1e9d0000000001",
    systemId: sys,
    storagePort: 12200,
    nvmePort: 4420,
    discoveryPort: 8009,
    certificateInfo: null,
    sdtState: "Normal",
    mdmConnectionState: "Connected",
    membershipState: "Joined",
    faultSetId: null,
    softwareVersionInfo: "R5_0.0.0",
    maintenanceState: "NoMaintenance",
    authenticationError: "None",
    persistentDiscoveryControllersNum: 0,
  };
  return {
    systems: [{ id: sys, name: "emulated-powerflex", systemVersionName: "DellEMC PowerFlex Version: R5_0.0.0" }],
    protectionDomains: [
      { id: "7a1e9d0000000001", name: "pd1", systemId: sys, protectionDomainState: "Active" },
      { id: "7a1e9d0000000002", name: "pd2", systemId: sys, protectionDomainState: "Active" },
    ],
    storagePools: [
      { id: "b0c1d2e300000001", name: "pool1", protectionDomainId: "7a1e9d0000000001" },
      { id: "b0c1d2e300000002", name: "pool2", protectionDomainId: "7a1e9d0000000002" },
    ],
    sdts: [
      {
        ...sdtBase,
        id: "a1b2c3d400000001",
        name: "sdt-1",
        ipList: [
          { ip: "192.0.2.11", role: "StorageAndHost" },
          { ip: "198.51.100.11", role: "HostOnly" },
        ],
      },
      {
        ...sdtBase,
        id: "a1b2c3d400000002",
        name: "sdt-2",
        ipList: [
          { ip: "192.0.2.12", role: "StorageAndHost" },
          { ip: "203.0.113.12", role: "StorageOnly" },
        ],
      },
      {
        ...sdtBase,
        id: "a1b2c3d400000003",
        name: "sdt-3",
        maintenanceState: "InMaintenance",
        ipList: [
          { ip: "192.0.2.13", role: "StorageAndHost" },
          { ip: "198.51.100.13", role: "HostOnly" },
        ],
      },
    ],
    hosts: [
      {
        id: "c0ffee0000000001",
        name: "legacy-sdc",
        hostType: "SdcHost",
        nqn: null,
        sdcIp: "192.0.2.200",
        sdcIps: ["192.0.2.200"],
        sdcGuid: "5B4B2A6E-1D3C-4E8F-9A0B-1C2D3E4F5A6B",
        mdmConnectionState: "Connected",
        systemId: sys,
      },
    ],
    volumes: [
      { id: "3bd1f78800000001", name: "vol1", storagePoolId: "b0c1d2e300000001", sizeInKb: 8388608, volumeType: "ThinProvisioned", mappedSdcInfo: [] },
      { id: "3bd1f78800000002", name: "vol2", storagePoolId: "b0c1d2e300000001", sizeInKb: 8388608, volumeType: "ThinProvisioned", mappedSdcInfo: [] },
    ],
  };
}
