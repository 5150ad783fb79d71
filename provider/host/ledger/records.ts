import { z } from "zod";
import { identityKey, type PathIdentity } from "../nvme/identity";
import { LEDGER_FORMAT, LEDGER_MIN_WRITER } from "./format";

/**
 * The host-wide ownership ledger: who holds each path, and who made its controller. It lives on the
 * host (not in Pulumi state) because several resources, stacks and processes share one host's controllers.
 * This file is pure data: reading, writing and locking are in store.ts, versions in format.ts.
 *
 * Every object is loose: keys a newer release added survive our rewrite, so an older writer never erases
 * what it does not know (a dropped `volumes` once left a volume mapped after a "successful" destroy).
 */

/** `createdBy` for a controller that was already there before any ledger owner: never ours to cut. */
export const EXTERNAL = "external";

const identitySchema = z.looseObject({
  transport: z.literal("tcp"),
  traddr: z.string(),
  trsvcid: z.number().int(),
  subsysnqn: z.string(),
  hostnqn: z.string(),
  hostid: z.string(),
  hostTraddr: z.string().optional(),
  hostIface: z.string().optional(),
});

const recordSchema = z.looseObject({
  identity: identitySchema,
  /** Owner id that made the controller, or {@link EXTERNAL}. */
  createdBy: z.string(),
  /** Owner ids holding the path. */
  owners: z.array(z.string()),
  /**
   * The kernel object we hold: its name when we made or adopted it. Names are reused at once, so it is the
   * object only together with `cntlid` and the identity (see plan.ts, recordedController).
   */
  device: z.string().optional(),
  /** Controller ID of that object (ledger v2). Records from v1 have none: name and identity decide alone. */
  cntlid: z.number().int().optional(),
  /** Inode of its `delete_controller` (ledger v2): the kernel object itself, beyond name and controller ID. */
  inode: z.string().optional(),
  /**
   * Written before `nvme connect` so that a crash leaves a truthful record: the next locked operation
   * finds the controller it made (then `pending.owner` made it) or not (then the intent is dropped).
   * `instances`: controller names present when it was written (none of them can be the one it makes);
   * `expires`: after this the intent claims nothing (the connect has long returned or died). Both v2.
   */
  pending: z
    .looseObject({ owner: z.string(), since: z.string(), expires: z.string().optional(), instances: z.array(z.string()).optional() })
    .optional(),
});

/**
 * A volume mapping to a host object, held by attachments on this host: the mapping is ref-counted like a
 * controller, so one attachment's destroy never unmaps a volume another one still uses.
 */
const volumeHoldSchema = z.looseObject({
  /** Owner id that made the mapping, or {@link EXTERNAL} when it existed before any owner. */
  createdBy: z.string(),
  owners: z.array(z.string()),
});

export const ledgerSchema = z.looseObject({
  /** Ledger format of the newest release that wrote it (format.ts). Releases before format 2 read only 1. */
  version: z.number().int().min(1),
  /** Releases whose ledger format is below this must not write the file. Absent before format 2. */
  minWriter: z.number().int().min(1).optional(),
  /** Count of writes: a writer checks it is still the one it read (store.ts). Absent before format 2. */
  generation: z.number().int().min(0).optional(),
  paths: z.record(z.string(), recordSchema),
  /** Key: `<host object id>/<volume id>`. Absent in ledgers written before volumes existed. */
  volumes: z.record(z.string(), volumeHoldSchema).default({}),
  /**
   * NVMe host objects (by id) an attachment on this host registered in PowerFlex: whichever attachment is
   * the last to use the host NQN removes it, also when another one registered it. Absent in older ledgers.
   */
  hosts: z.record(z.string(), z.looseObject({ nqn: z.string() })).default({}),
  /** Owner id -> when its attachment ended (ended.ts): nothing is held for it again. Absent before format 3. */
  ended: z.record(z.string(), z.string()).default({}),
});

export type LedgerRecord = z.infer<typeof recordSchema>;
export type Ledger = z.infer<typeof ledgerSchema>;

export type VolumeHold = z.infer<typeof volumeHoldSchema>;

export function emptyLedger(): Ledger {
  return { version: LEDGER_FORMAT, minWriter: LEDGER_MIN_WRITER, paths: {}, volumes: {}, hosts: {}, ended: {} };
}

export function recordOf(ledger: Ledger, id: PathIdentity): LedgerRecord | undefined {
  return ledger.paths[identityKey(id)];
}

/** A kernel object as the ledger names it. */
export interface ControllerObject {
  readonly device: string;
  readonly cntlid?: number;
  readonly inode?: string;
}

/** Add `owner` to the holders of the record's object (creating the record with `createdBy` and `object` when new). */
export function addOwner(ledger: Ledger, id: PathIdentity, owner: string, createdBy: string, object?: ControllerObject): void {
  const key = identityKey(id);
  const rec = ledger.paths[key] ?? { identity: { ...id }, createdBy, owners: [], ...(object ? objectFields(object) : {}) };
  if (!rec.owners.includes(owner)) rec.owners.push(owner);
  delete rec.pending;
  ledger.paths[key] = rec;
}

/**
 * The path is now held through `object`, made by `createdBy` (an owner that just made it, or
 * {@link EXTERNAL}): whatever object the record named before is gone, and so is its maker's claim.
 */
export function recordObject(ledger: Ledger, id: PathIdentity, owner: string, createdBy: string, object: ControllerObject): void {
  const key = identityKey(id);
  const owners = ledger.paths[key]?.owners ?? [];
  ledger.paths[key] = { identity: { ...id }, createdBy, owners: owners.includes(owner) ? owners : [...owners, owner], ...objectFields(object) };
}

/** Record that `owner` has just made the path's controller `object`. */
export function recordCreated(ledger: Ledger, id: PathIdentity, owner: string, object: ControllerObject): void {
  recordObject(ledger, id, owner, owner, object);
}

function objectFields(object: ControllerObject): { device: string; cntlid?: number; inode?: string } {
  return {
    device: object.device,
    ...(object.cntlid !== undefined ? { cntlid: object.cntlid } : {}),
    ...(object.inode !== undefined ? { inode: object.inode } : {}),
  };
}

/** Remove `owner` from the path; drop the record when nobody holds it any more. */
export function removeOwner(ledger: Ledger, id: PathIdentity, owner: string): void {
  const key = identityKey(id);
  const rec = ledger.paths[key];
  if (!rec) return;
  rec.owners = rec.owners.filter((o) => o !== owner);
  if (rec.owners.length === 0 && !rec.pending) delete ledger.paths[key];
}

/** Forget a path entirely (its controller is gone). */
export function forget(ledger: Ledger, id: PathIdentity): void {
  delete ledger.paths[identityKey(id)];
}

/**
 * Record the intent to connect a path that has no live controller: written at `now`, claiming nothing
 * after `expires`, never one of `instances` (the controller names present now).
 */
export function markPending(ledger: Ledger, id: PathIdentity, owner: string, now: Date, expires: Date, instances: readonly string[]): void {
  const key = identityKey(id);
  const rec = ledger.paths[key] ?? { identity: { ...id }, createdBy: owner, owners: [] };
  rec.pending = { owner, since: now.toISOString(), expires: expires.toISOString(), instances: [...instances].sort() };
  ledger.paths[key] = rec;
}

/** Drop an intent whose connect failed (nothing was made). */
export function clearPending(ledger: Ledger, id: PathIdentity): void {
  const key = identityKey(id);
  const rec = ledger.paths[key];
  if (!rec) return;
  delete rec.pending;
  if (rec.owners.length === 0) delete ledger.paths[key];
}
