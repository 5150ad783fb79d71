import type { FabricsController } from "./nvme/controller";
import { identityKey, isPath, type PathIdentity } from "./nvme/identity";
import type { Ledger } from "./ledger/records";
import { hostAttributesOf, type HostAttributes } from "./nvme/kernel-support";
import { intentClaim, isRecordedObject } from "./plan";

/**
 * What `powerflex-nvme status` reports: every fabrics controller on the host joined with its ledger
 * record. Pure: the caller reads sysfs and the ledger.
 */

/** One fabrics controller and who holds it. */
export interface ControllerStatus {
  readonly device: string;
  readonly transport: string;
  /** From sysfs `address`; null when the transport has none (e.g. `loop`). */
  readonly traddr: string | null;
  readonly trsvcid: number | null;
  readonly subsysnqn: string;
  readonly hostnqn: string;
  readonly state: string;
  /** Owner ids (resource ids) holding the path; empty for a foreign controller. */
  readonly owners: readonly string[];
  /** Owner id that made the controller, `external` when it was there before any owner; null when foreign. */
  readonly createdBy: string | null;
  /** Owner id whose `nvme connect` for this path is in flight (or was cut short by a crash). */
  readonly connecting?: string;
}

/** A ledger record with no controller left on the host (the next locked operation forgets it). */
export interface StaleRecord {
  readonly identity: PathIdentity;
  readonly owners: readonly string[];
  readonly createdBy: string;
}

export interface VolumeHoldStatus {
  /** `<host object id>/<volume id>`. */
  readonly key: string;
  readonly owners: readonly string[];
  readonly createdBy: string;
}

export interface HostStatus {
  /** `absent`: a kernel before 5.7, which shows no controller's host NQN/ID (nothing is attached there). */
  readonly hostAttributes: HostAttributes;
  readonly controllers: readonly ControllerStatus[];
  readonly stale: readonly StaleRecord[];
  readonly volumes: readonly VolumeHoldStatus[];
}

/**
 * Join controllers and ledger at `now`. A controller is ours only as the planner judges it: the object a
 * record names, or the one its intent may claim (not expired, an instance that did not exist before it).
 */
export function hostStatus(observed: readonly FabricsController[], ledger: Ledger, now: Date): HostStatus {
  const matched = new Set<string>();
  const controllers = observed.map((c): ControllerStatus => {
    const key = c.identity ? identityKey(c.identity) : "";
    const found = ledger.paths[key];
    // The key matches; isPath also compares the address text (as the kernel does).
    const claimed = found?.pending !== undefined && intentClaim(found.pending, [c], now) !== undefined;
    const rec = found && isPath(c, found.identity) && (isRecordedObject(c, found) || claimed) ? found : undefined;
    const port = c.addressFields.trsvcid;
    const base = {
      device: c.device,
      transport: c.transport,
      traddr: c.addressFields.traddr ?? null,
      trsvcid: port !== undefined && /^\d+$/.test(port) ? Number(port) : null,
      subsysnqn: c.subsysnqn,
      hostnqn: c.hostnqn,
      state: c.state,
    };
    if (!rec) return { ...base, owners: [], createdBy: null };
    matched.add(key);
    // An intent with no owner yet: the connect has not been recorded, so nobody holds it so far. Without an
    // intent, a record nobody holds is an orphan an interrupted attempt made (still ours to remove).
    const createdBy = rec.owners.length === 0 && claimed ? null : rec.createdBy;
    return { ...base, owners: [...rec.owners], createdBy, ...(claimed ? { connecting: rec.pending!.owner } : {}) };
  });
  const stale = Object.entries(ledger.paths)
    .filter(([key, rec]) => !matched.has(key) && rec.owners.length > 0)
    .map(([, rec]) => ({ identity: rec.identity, owners: [...rec.owners], createdBy: rec.createdBy }));
  const volumes = Object.entries(ledger.volumes)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, hold]) => ({ key, owners: [...hold.owners], createdBy: hold.createdBy }));
  return { hostAttributes: hostAttributesOf(observed), controllers, stale, volumes };
}
