import { z } from "zod";

/*
 * zod schemas for what the PowerFlex gateway answers. Every object schema is loose: gateways add fields
 * between releases and we must not break on them. Numbers and booleans travel as strings on some
 * releases and through some proxies ("4420", "true", "True"), so the scalar helpers accept both.
 */

/** An integer that may travel as a JSON number or a decimal string ("4420"). */
export const IntLike = z.union([
  z.number().int(),
  z
    .string()
    .trim()
    .regex(/^-?\d+$/, "expected an integer or a decimal string")
    .transform((s) => Number(s)),
]);

/** A boolean that may travel as a JSON boolean or a string ("true", "True", "false"). */
export const BoolLike = z.union([
  z.boolean(),
  z
    .string()
    .trim()
    .toLowerCase()
    .refine((s) => s === "true" || s === "false", "expected true or false")
    .transform((s) => s === "true"),
]);

/** A `links[]` entry (HATEOAS style, present on most objects). */
export const Link = z.looseObject({ rel: z.string(), href: z.string() });

/** `GET /api/types/System/instances` entry or `GET /api/instances/System::{id}`. */
export const System = z.looseObject({
  /** 16 hex digits on real systems. */
  id: z.string(),
  name: z.string().nullish(),
  /** e.g. "DellEMC PowerFlex Version: R4_5.0.0"; absent on minimal mocks. */
  systemVersionName: z.string().nullish(),
  /** Subsystem NQN of the system (PowerFlex 5.x, some 4.x); absent elsewhere. */
  systemNqn: z.string().nullish(),
  links: z.array(Link).optional(),
});
export type System = z.infer<typeof System>;

/** A protection domain. */
export const ProtectionDomain = z.looseObject({
  id: z.string(),
  name: z.string().nullish(),
  systemId: z.string().nullish(),
  /** "Active" on healthy domains. */
  protectionDomainState: z.string().nullish(),
  links: z.array(Link).optional(),
});
export type ProtectionDomain = z.infer<typeof ProtectionDomain>;

/** A storage pool. */
export const StoragePool = z.looseObject({
  id: z.string(),
  name: z.string().nullish(),
  protectionDomainId: z.string().nullish(),
  links: z.array(Link).optional(),
});
export type StoragePool = z.infer<typeof StoragePool>;

/** Role of an SDT address: which traffic it carries. Unknown roles are kept as strings. */
export const SdtIpRole = z.string();
export type SdtIpRole = "StorageAndHost" | "HostOnly" | "StorageOnly" | (string & {});

/** One `ipList[]` entry of an SDT. Either may be null on a half-configured SDT: planning skips that entry. */
export const SdtIp = z.looseObject({ ip: z.string().nullish(), role: SdtIpRole.nullish() });
export type SdtIp = z.infer<typeof SdtIp>;

/** A Storage Data Target (the NVMe/TCP target side of PowerFlex). Carries no NQN. */
export const Sdt = z.looseObject({
  id: z.string(),
  name: z.string().nullish(),
  protectionDomainId: z.string().nullish(),
  systemId: z.string().nullish(),
  ipList: z.array(SdtIp).nullish().transform((v) => v ?? []),
  /** NVMe/TCP I/O port (4420 when the gateway omits it). */
  nvmePort: IntLike.nullish(),
  /** NVMe discovery port (8009 when omitted). */
  discoveryPort: IntLike.nullish(),
  /** SDS-to-SDT port; never used by hosts. */
  storagePort: IntLike.nullish(),
  /** "Normal" when healthy. */
  sdtState: z.string().nullish(),
  /** "Connected" | "Disconnected". */
  mdmConnectionState: z.string().nullish(),
  /** "Joined" when part of the cluster. */
  membershipState: z.string().nullish(),
  /** "NoMaintenance" | "SetMaintenanceInProgress" | "InMaintenance" | "ExitMaintenanceInProgress". */
  maintenanceState: z.string().nullish(),
  softwareVersionInfo: z.string().nullish(),
  links: z.array(Link).optional(),
});
export type Sdt = z.infer<typeof Sdt>;

/**
 * A host object: the `Sdc` family holds both SDC hosts (`hostType: "SdcHost"`, or no hostType on old
 * releases) and NVMe hosts (`hostType: "NVMeHost"`, with `nqn`).
 */
export const Host = z.looseObject({
  id: z.string(),
  /** May be null or empty on NVMe hosts; at most 31 characters. */
  name: z.string().nullish(),
  nqn: z.string().nullish(),
  hostType: z.string().nullish(),
  /** goscaleio's mock spells it `systemID`; real arrays `systemId`. */
  systemId: z.string().nullish(),
  /** Paths per volume (4 by default; null on some gateways). */
  maxNumPaths: IntLike.nullish(),
  /** System ports the array's load balancer plans per protection domain (10 by default; null on some gateways). */
  maxNumSysPorts: IntLike.nullish(),
  links: z.array(Link).optional(),
});
export type Host = z.infer<typeof Host>;

/** A host whose `hostType` is "NVMeHost" (and so has an NQN). */
export type NvmeHost = Host & { hostType: "NVMeHost"; nqn: string };

/** One `Volume.mappedSdcInfo[]` entry: a mapping of the volume to a host (SDC or NVMe). */
export const MappedSdcInfo = z.looseObject({
  /** The host id (an NVMe host id for NVMe mappings). */
  sdcId: z.string(),
  sdcIp: z.string().nullish(),
  sdcName: z.string().nullish(),
  /** "ReadWrite" | "ReadOnly" | "NoAccess". */
  accessMode: z.string().nullish(),
  nqn: z.string().nullish(),
  hostType: z.string().nullish(),
});
export type MappedSdcInfo = z.infer<typeof MappedSdcInfo>;

/** A volume. `mappedSdcInfo` is `[]` on current gateways and `null` on old ones; we always give `[]`. */
export const Volume = z.looseObject({
  id: z.string(),
  name: z.string().nullish(),
  sizeInKb: IntLike.nullish(),
  storagePoolId: z.string().nullish(),
  nsid: IntLike.nullish(),
  mappedSdcInfo: z
    .array(MappedSdcInfo)
    .nullish()
    .transform((v) => v ?? []),
  links: z.array(Link).optional(),
});
export type Volume = z.infer<typeof Volume>;

/**
 * An NVMe controller of a host as PowerFlex sees it (`Host::{id}/relationships/NvmeController`): one per
 * connection of the host to a system port. `isAssigned` says whether the array's load balancer planned
 * that port for the host (a real 4.5 sample shows `isAssigned: false, isConnected: true`: accepted, not
 * planned). Every field but `id` may be null on real payloads.
 */
export const NvmeController = z.looseObject({
  id: z.string(),
  name: z.string().nullish(),
  isConnected: BoolLike.nullish(),
  isAssigned: BoolLike.nullish(),
  /** The SDT the connection lands on. */
  sdtId: z.string().nullish(),
  hostId: z.string().nullish(),
  /** The host's address on that connection. */
  hostIp: z.string().nullish(),
  /** The NVMe controller ID (cntlid) the array gave. */
  controllerId: IntLike.nullish(),
  sysPortId: IntLike.nullish(),
  /** The system port's address (the SDT address connected to). */
  sysPortIp: z.string().nullish(),
  /** "Io" for I/O controllers. */
  subsystem: z.string().nullish(),
  links: z.array(Link).optional(),
});
export type NvmeController = z.infer<typeof NvmeController>;

/** Answer of a create (`POST /api/types/{Type}/instances`). */
export const Created = z.looseObject({ id: z.string().min(1) });

/**
 * Answer of PowerFlex Manager's `POST /rest/auth/login`. 3.6 gateways answer `{}` (no access_token),
 * which is how the auto flow knows to fall back to `GET /api/login`.
 */
export const ManagerLogin = z.looseObject({
  access_token: z.string().min(1).optional(),
  refresh_token: z.string().min(1).optional(),
  expires_in: IntLike.optional(),
});
export type ManagerLogin = z.infer<typeof ManagerLogin>;

/**
 * The gateway's error body. `httpStatusCode`/`errorCode` are missing on some releases, `message` on others
 * (`{"httpStatusCode":500,"errorCode":79}`, or `message: null`).
 */
export const ErrorBody = z.looseObject({
  message: z.string().nullish(),
  httpStatusCode: IntLike.nullish(),
  errorCode: IntLike.nullish(),
  details: z.array(z.looseObject({ error: z.string().nullish(), rc: IntLike.nullish(), errorMessage: z.string().nullish() })).nullish(),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

/**
 * A bare string answer (`GET /api/login` token, `GET /api/version`, `queryIdByKey`): JSON-quoted on real
 * gateways, unquoted on some mocks. Returns undefined when the text is empty.
 */
export function parseBareString(text: string): string | undefined {
  const trimmed = text.trim();
  if (trimmed === "") return undefined;
  if (trimmed.startsWith('"')) {
    try {
      const value: unknown = JSON.parse(trimmed);
      if (typeof value === "string") return value.trim() || undefined;
    } catch {
      // fall through: strip the quotes by hand
    }
    return trimmed.replace(/^"+|"+$/g, "").trim() || undefined;
  }
  return trimmed;
}

/** `major.minor` of a version answer such as "4.5" or "4.0.1"; undefined when it does not look like one. */
export function parseApiVersion(text: string): { major: number; minor: number; text: string } | undefined {
  const value = parseBareString(text);
  const m = value ? /^(\d+)\.(\d+)/.exec(value) : null;
  if (!m || !value) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), text: value };
}
