import { z } from "zod";
import { hostSettings, type HostSettings } from "../host/access/access";
import type { PathIdentity } from "../host/nvme/identity";

/**
 * The resource's outputs (its Pulumi state). The serialized provider is a shim that loads the newest
 * implementation, so this code must read every state an older version wrote: bump `schemaVersion` on any
 * change of shape and add a migration below. The v1 fixture in test/fixtures/ keeps us honest.
 */
export const SCHEMA_VERSION = 4;

const pathSchema = z.object({
  sdtId: z.string(),
  sdtName: z.string(),
  transport: z.literal("tcp"),
  traddr: z.string(),
  trsvcid: z.number().int(),
  subsysnqn: z.string(),
  hostnqn: z.string(),
  hostid: z.string(),
  hostTraddr: z.string().nullable(),
  hostIface: z.string().nullable(),
  /** Controller name when last seen (a hint; names are reused). */
  device: z.string().nullable(),
  origin: z.enum(["created", "adopted"]),
  state: z.enum(["live", "connecting", "missing"]),
});

const settingsSchema = z.object({
  nvmeCli: z.string(),
  sysfsRoot: z.string(),
  stateDir: z.string(),
  etcNvmeDir: z.string(),
  mountsFile: z.string(),
});

/** The remote host (v3); never the private key, which stays in the secret `hostAccess` output only. */
const sshTargetSchema = z.object({
  host: z.string(),
  port: z.number().int(),
  user: z.string(),
  hostKey: z.string(),
  agent: z.boolean(),
  sudo: z.boolean(),
});

const volumeSchema = z.object({
  spec: z.string(),
  volumeId: z.string(),
  volumeName: z.string(),
  accessMode: z.enum(["ReadWrite", "ReadOnly"]),
  origin: z.enum(["created", "adopted"]),
  nguid: z.string(),
});

const deviceSchema = z.object({
  volumeId: z.string(),
  volumeName: z.string(),
  nsid: z.number().int(),
  devicePath: z.string(),
  kernelName: z.string(),
  origin: z.enum(["created", "adopted"]),
});

/** The part of the state this code relies on (outputs also echo the inputs, which it reads separately). */
export const stateSchemaV1 = z.object({
  schemaVersion: z.literal(1),
  endpoint: z.string().nullable(),
  systemId: z.string(),
  protectionDomainId: z.string(),
  subsystemNqn: z.string(),
  hostNqn: z.string(),
  hostId: z.string(),
  hostObjectId: z.string().nullable(),
  hostRegistered: z.boolean(),
  hostSettings: settingsSchema,
  paths: z.array(pathSchema),
});

/** v2 (volumes): the mapped volumes and their devices. */
export const stateSchemaV2 = stateSchemaV1.extend({
  schemaVersion: z.literal(2),
  /** Not `volumes`: that key is the input's (outputs echo the inputs). */
  mappedVolumes: z.array(volumeSchema),
  devices: z.array(deviceSchema),
});

/** v3 (remote hosts): `hostSettings.ssh` when the host is reached over SSH. */
export const stateSchemaV3 = stateSchemaV2.extend({
  schemaVersion: z.literal(3),
  hostSettings: settingsSchema.extend({ ssh: sshTargetSchema.optional() }),
});

/** v4 (issue 14): each path names the controller object it holds by its controller ID too. */
const pathSchemaV4 = pathSchema.extend({
  /** Controller ID of the object held (with `device`, which kernel object it was); null before v4. */
  cntlid: z.number().int().nullable(),
});

export const stateSchemaV4 = stateSchemaV3.extend({
  schemaVersion: z.literal(4),
  paths: z.array(pathSchemaV4),
});

export type State = z.infer<typeof stateSchemaV4>;
export type StatePath = z.infer<typeof pathSchemaV4>;

/** Paths of a state before v4: no controller ID was recorded. */
function withoutCntlid<T extends { paths: z.infer<typeof pathSchema>[] }>(state: T): T & { paths: StatePath[] } {
  return { ...state, paths: state.paths.map((p) => ({ ...p, cntlid: null })) };
}

function parse<T extends z.ZodType>(schema: T, props: Record<string, unknown>): z.infer<T> {
  const parsed = schema.safeParse(props);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new Error(`the stored state of this attachment is damaged at ${issue.path.join(".") || "(root)"}: ${issue.message}`);
}

/** Read a state written by any version of this provider, migrated to the current shape. */
export function loadState(props: Record<string, unknown>): State {
  const version = props.schemaVersion;
  if (version === 1) return withoutCntlid({ ...parse(stateSchemaV1, props), schemaVersion: 4 as const, mappedVolumes: [], devices: [] });
  if (version === 2) return withoutCntlid({ ...parse(stateSchemaV2, props), schemaVersion: 4 as const });
  if (version === 3) return withoutCntlid({ ...parse(stateSchemaV3, props), schemaVersion: 4 as const });
  if (version === 4) return parse(stateSchemaV4, props);
  throw new Error(
    `this attachment's state has schemaVersion ${JSON.stringify(version)}, which this version of pulumi-powerflex-nvme does not know; ` +
      `upgrade the package (npm install pulumi-powerflex-nvme@latest) and run again`,
  );
}

export function identityOf(p: StatePath): PathIdentity {
  return {
    transport: "tcp",
    traddr: p.traddr,
    trsvcid: p.trsvcid,
    subsysnqn: p.subsysnqn,
    hostnqn: p.hostnqn,
    hostid: p.hostid,
    ...(p.hostTraddr ? { hostTraddr: p.hostTraddr } : {}),
    ...(p.hostIface ? { hostIface: p.hostIface } : {}),
  };
}

export function settingsOf(state: State): HostSettings {
  return hostSettings(state.hostSettings);
}
