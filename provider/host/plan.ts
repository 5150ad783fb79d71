import { usesOf, type ControllerScope, type FabricsController, type NamespaceUse } from "./nvme/controller";
import { describePath, identityKey, isPath, type PathIdentity } from "./nvme/identity";
import { EXTERNAL, type Ledger, type LedgerRecord } from "./ledger/records";

/**
 * The planner: pure functions from (what we want, what the host has, who owns what) to actions.
 * No I/O here, so every rule of teardown can be tested exhaustively (test/unit/plan*.test.ts).
 */

/** One step the engine may take for one path, with the reason a person can read. */
export type Action =
  /** No live controller for the path: connect one. */
  | { readonly kind: "connect"; readonly identity: PathIdentity; readonly reason: string }
  /**
   * A live controller we do not hold yet: become an owner of it. `createdBy` is who made that object: the
   * record's maker when it is the object the record names, else {@link EXTERNAL}.
   */
  | { readonly kind: "adopt"; readonly identity: PathIdentity; readonly controller: FabricsController; readonly createdBy: string; readonly reason: string }
  /** We already hold the object the record names, and it is present. */
  | { readonly kind: "keep"; readonly identity: PathIdentity; readonly controller: FabricsController; readonly reason: string }
  /** Drop our ownership; the controller stays (someone else holds it, or we did not make it). */
  | { readonly kind: "release"; readonly identity: PathIdentity; readonly reason: string }
  /** We are the last owner and an owner made it: delete exactly this object (pinned, see nvme/delete.ts). */
  | { readonly kind: "disconnect"; readonly identity: PathIdentity; readonly controller: FabricsController; readonly reason: string }
  /** The object our record names is no longer on the host: forget it (a look-alike is never ours). */
  | { readonly kind: "forget"; readonly identity: PathIdentity; readonly reason: string }
  /** Disconnecting would cut the last live path of a namespace in use: refuse unless forced. */
  | {
      readonly kind: "refuse-in-use";
      readonly identity: PathIdentity;
      readonly controller: FabricsController;
      readonly namespaces: readonly string[];
      readonly reason: string;
    };

/** States in which the kernel still counts a controller as the path (a second connect gets EALREADY). */
const PRESENT_STATES = new Set(["new", "live", "connecting", "resetting"]);

/** The controllers on the host that are this path, by identity (never by name): any maker's. */
export function controllersOf(observed: readonly FabricsController[], id: PathIdentity): FabricsController[] {
  return observed.filter((c) => PRESENT_STATES.has(c.state) && isPath(c, id));
}

/**
 * The present controller that is the object `rec` names: its name, its identity and (ledger v2) its
 * controller ID. Undefined when that object is gone, whatever else now has the name or the identity.
 */
export function recordedController(observed: readonly FabricsController[], rec: LedgerRecord): FabricsController | undefined {
  return controllersOf(observed, rec.identity).find((c) => isRecordedObject(c, rec));
}

/**
 * Whether `c` (a controller of the record's path) is the kernel object `rec` names: its name, controller ID
 * and inode, as far as the record has them. Name and controller ID alone are not enough: the kernel hands
 * out the lowest free of each, so the same path made again by someone else often gets both.
 */
export function isRecordedObject(c: FabricsController, rec: LedgerRecord): boolean {
  return rec.device !== undefined && c.device === rec.device && (rec.cntlid === undefined || c.cntlid === rec.cntlid) && (rec.inode === undefined || c.inode === rec.inode);
}

/** "nvme2, nvme5": the look-alikes of a path (same identity, not our object), for messages. */
function lookAlikes(observed: readonly FabricsController[], rec: LedgerRecord): string {
  return controllersOf(observed, rec.identity)
    .map((c) => c.device)
    .join(", ");
}

export interface AttachInput {
  readonly desired: readonly PathIdentity[];
  readonly observed: readonly FabricsController[];
  readonly ledger: Ledger;
  readonly owner: string;
}

/** What to do so that `owner` holds every desired path. */
export function planAttach({ desired, observed, ledger, owner }: AttachInput): Action[] {
  const seen = new Set<string>();
  const actions: Action[] = [];
  for (const id of desired) {
    const key = identityKey(id);
    if (seen.has(key)) continue;
    seen.add(key);
    const rec = ledger.paths[key];
    const ours = rec && recordedController(observed, rec);
    if (rec && ours) {
      if (rec.owners.includes(owner)) {
        actions.push({ kind: "keep", identity: id, controller: ours, reason: `${ours.device} is already ours` });
      } else {
        // A record without owners is an orphan a crashed attempt made (see reconcilePending): still ours to cut.
        const who = rec.createdBy === EXTERNAL ? "it was there before us" : `made by ${rec.createdBy}`;
        actions.push({ kind: "adopt", identity: id, controller: ours, createdBy: rec.createdBy, reason: `${ours.device} is live (${who})` });
      }
      continue;
    }
    const present = controllersOf(observed, id);
    if (present.length === 0) {
      actions.push({ kind: "connect", identity: id, reason: `no controller for ${describePath(id)}` });
      continue;
    }
    // The object the record names is gone; what has the path now is someone else's, whatever its name.
    const why = rec?.device ? `our ${rec.device} is gone; ${present[0].device} is the same path made by someone else` : "it was there before us";
    actions.push({ kind: "adopt", identity: id, controller: present[0], createdBy: EXTERNAL, reason: `${present[0].device} is live (${why})` });
  }
  return actions;
}

export interface ReleaseInput {
  readonly release: readonly PathIdentity[];
  readonly observed: readonly FabricsController[];
  readonly ledger: Ledger;
  readonly owner: string;
  /** Disconnect even when it cuts the last live path of a mounted or held namespace. */
  readonly force: boolean;
}

/** What to do so that `owner` no longer holds the given paths, cutting only what is ours alone. */
export function planRelease({ release, observed, ledger, owner, force }: ReleaseInput): Action[] {
  const seen = new Set<string>();
  const actions: Action[] = [];
  for (const id of release) {
    const key = identityKey(id);
    if (seen.has(key)) continue;
    seen.add(key);
    const rec = ledger.paths[key];
    const orphanWeMade = rec !== undefined && rec.owners.length === 0 && rec.createdBy === owner;
    if (!rec || (!rec.owners.includes(owner) && !orphanWeMade)) continue; // not ours: nothing to do, ever
    const others = rec.owners.filter((o) => o !== owner);
    const ours = recordedController(observed, rec);
    if (others.length > 0) {
      actions.push({ kind: "release", identity: id, reason: `still held by ${others.join(", ")}` });
    } else if (rec.createdBy === EXTERNAL) {
      actions.push({ kind: "release", identity: id, reason: "it was there before us: left connected" });
    } else if (!ours) {
      const others = lookAlikes(observed, rec);
      const left = others === "" ? "" : `; ${others} has the same path but is not the object we made: left connected`;
      actions.push({ kind: "forget", identity: id, reason: `our controller ${rec.device ?? "(never recorded)"}${rec.cntlid === undefined ? "" : ` (cntlid ${rec.cntlid})`} is gone${left}` });
    } else {
      actions.push({ kind: "disconnect", identity: id, controller: ours, reason: `we made ${ours.device} and are its last owner` });
    }
  }
  return guardInUse(actions, observed, force);
}

/**
 * Turn a disconnect into a refusal when it would leave a namespace in use (mounted, swap, held, or open
 * exclusively) with no live path. Cutting one path of several is safe when the user's I/O has another:
 * native multipath keeps one namespace head for all paths of a subsystem; with `multipath=N`, dm-multipath
 * holds one device per path, so the same namespace (NGUID) held by the same dm device on a live path left
 * carries it, as long as nothing uses this path's device directly.
 */
export function guardInUse(actions: Action[], observed: readonly FabricsController[], force: boolean): Action[] {
  if (force) return actions;
  const cut = new Set(actions.flatMap((a) => (a.kind === "disconnect" ? [a.controller.device] : [])));
  const survivors = observed.filter((c) => c.state === "live" && !cut.has(c.device));
  return actions.map((a): Action => {
    if (a.kind !== "disconnect") return a;
    const stranded = a.controller.namespaces.filter((ns) => usesOf(ns).length > 0 && !carriedElsewhere(ns, survivors));
    if (stranded.length === 0) return a;
    const namespaces = stranded.map((ns) => ns.blockDevice).sort();
    const uses = stranded.map((ns) => `/dev/${ns.blockDevice} (${usesOf(ns).join(", ")})`).join(", ");
    return { kind: "refuse-in-use", identity: a.identity, controller: a.controller, namespaces, reason: `${a.controller.device} is the last live path of ${uses}` };
  });
}

/** Whether a live path left still carries the I/O of `ns`'s users. */
function carriedElsewhere(ns: NamespaceUse, survivors: readonly FabricsController[]): boolean {
  const others = survivors.flatMap((s) => s.namespaces);
  if (others.some((n) => n.blockDevice === ns.blockDevice)) return true; // one native multipath head
  const direct = ns.mountpoints.length > 0 || ns.swaps.length > 0 || (ns.exclusive === "busy" && ns.holders.length === 0);
  if (direct || ns.holders.length === 0 || ns.nguid === undefined) return false;
  return others.some((n) => n.nguid === ns.nguid && n.holders.some((h) => ns.holders.includes(h)));
}

/**
 * Settle intents left by a crash between "intent written" and "ledger committed", or by a connect that
 * timed out (the kernel may finish it after nvme-cli was killed). An intent claims a present controller
 * of its path only when that controller's name did not exist when the intent was written and the intent
 * has not expired: anything else was made by someone else (an admin, autoconnect), later. The owner is not
 * added: its operation never returned, so nobody may know that owner id again. A claimed controller stays
 * recorded as an orphan we made (no owners, `createdBy` an owner): the next attach of that path adopts it
 * and the last owner's release disconnects it. An orphan whose object is gone is forgotten.
 * With a `scope`, `observed` holds only the controllers in it, so only the records in it are settled.
 * Returns the keys it changed (the caller saves the ledger when any did).
 */
export function reconcilePending(ledger: Ledger, observed: readonly FabricsController[], now: Date, scope: ControllerScope = {}): string[] {
  const changed: string[] = [];
  for (const [key, rec] of Object.entries(ledger.paths)) {
    if (!inScope(rec.identity, scope)) continue; // not scanned: cannot judge
    if (rec.pending) {
      const claimed = intentClaim(rec.pending, controllersOf(observed, rec.identity), now);
      if (claimed) {
        rec.createdBy = rec.pending.owner;
        rec.device = claimed.device;
        if (claimed.cntlid === undefined) delete rec.cntlid;
        else rec.cntlid = claimed.cntlid;
        if (claimed.inode === undefined) delete rec.inode;
        else rec.inode = claimed.inode;
      }
      delete rec.pending;
      if (rec.owners.length === 0 && !claimed) delete ledger.paths[key];
      changed.push(key);
    } else if (rec.owners.length === 0 && !recordedController(observed, rec)) {
      delete ledger.paths[key];
      changed.push(key);
    }
  }
  return changed;
}

/** Whether a scan limited to `scope` reads the controllers that can be path `id`. */
export function inScope(id: PathIdentity, scope: ControllerScope): boolean {
  return (scope.subsysnqn === undefined || id.subsysnqn === scope.subsysnqn) && (scope.hostnqns === undefined || scope.hostnqns.includes(id.hostnqn));
}

/** The controller an intent made: one of `present` that is newer than the intent, while the intent lasts. */
export function intentClaim(pending: NonNullable<LedgerRecord["pending"]>, present: readonly FabricsController[], now: Date): FabricsController | undefined {
  // A v1 intent knows neither: it cannot tell its controller from a later one, so it claims none.
  if (pending.expires === undefined || pending.instances === undefined) return undefined;
  if (now.getTime() > Date.parse(pending.expires)) return undefined;
  const before = new Set(pending.instances);
  return present.find((c) => !before.has(c.device));
}

/** What one connect attempt amounts to, once sysfs has been read again. */
export type ConnectSettlement =
  /** Our connect made this controller (a name that was not there when the intent was written). */
  | { readonly kind: "created"; readonly controller: FabricsController }
  /** Someone else's controller has the path (the kernel said EALREADY, or ours failed): held, never ours to cut. */
  | { readonly kind: "lost"; readonly controller: FabricsController }
  /** No controller for the path. */
  | { readonly kind: "failed" };

/**
 * Settle one connect: `instances` are the controller names present when its intent was written, `after`
 * a scan taken after it returned; `made` the name nvme-cli reported, if any (a hint, confirmed here).
 * Only a connect that succeeded (or whose nvme-cli was killed before it told the kernel's answer: the
 * kernel may finish it) can have made a controller, and only one whose name is new.
 */
export function settleConnect(
  id: PathIdentity,
  instances: readonly string[],
  after: readonly FabricsController[],
  outcome: { readonly ok: boolean; readonly killed: boolean; readonly device?: string },
): ConnectSettlement {
  const present = controllersOf(after, id);
  if (present.length === 0) return { kind: "failed" };
  const before = new Set(instances);
  const fresh = present.filter((c) => !before.has(c.device));
  // The name nvme-cli read back from the kernel for our connect is ours even when it was taken when the intent
  // was written (that controller went and the kernel reused its name); otherwise only a new name can be.
  const reported = outcome.ok ? present.find((c) => c.device === outcome.device) : undefined;
  const made = reported ?? (outcome.ok || outcome.killed ? fresh[0] : undefined);
  return made ? { kind: "created", controller: made } : { kind: "lost", controller: present[0] };
}
