import type { FabricsController } from "./nvme/controller";
import { describePath, identityKey, isPath, type PathIdentity } from "./nvme/identity";
import { EXTERNAL, type Ledger } from "./ledger/records";

/**
 * The planner: pure functions from (what we want, what the host has, who owns what) to actions.
 * No I/O here, so every rule of teardown can be tested exhaustively (test/unit/plan*.test.ts).
 */

/** One step the engine may take for one path, with the reason a person can read. */
export type Action =
  /** No live controller for the path: run `nvme connect`. */
  | { readonly kind: "connect"; readonly identity: PathIdentity; readonly reason: string }
  /** A live controller we do not hold yet: become an owner; it stays whoever made it. */
  | { readonly kind: "adopt"; readonly identity: PathIdentity; readonly device: string; readonly createdBy: string; readonly reason: string }
  /** We already hold a live controller for the path. */
  | { readonly kind: "keep"; readonly identity: PathIdentity; readonly device: string; readonly reason: string }
  /** Drop our ownership; the controller stays (someone else holds it, or we did not make it). */
  | { readonly kind: "release"; readonly identity: PathIdentity; readonly reason: string }
  /** We are the last owner and an owner made it: `nvme disconnect -d` each of these devices. */
  | { readonly kind: "disconnect"; readonly identity: PathIdentity; readonly devices: readonly string[]; readonly reason: string }
  /** Our record has no controller left on the host: forget it. */
  | { readonly kind: "forget"; readonly identity: PathIdentity; readonly reason: string }
  /** Disconnecting would cut the last live path of a namespace in use: refuse unless forced. */
  | {
      readonly kind: "refuse-in-use";
      readonly identity: PathIdentity;
      readonly devices: readonly string[];
      readonly namespaces: readonly string[];
      readonly reason: string;
    };

/** States in which the kernel still counts a controller as the path (a second connect gets EALREADY). */
const PRESENT_STATES = new Set(["new", "live", "connecting", "resetting"]);

/** The controllers on the host that are this path, by identity (never by name). */
export function controllersOf(observed: readonly FabricsController[], id: PathIdentity): FabricsController[] {
  return observed.filter((c) => PRESENT_STATES.has(c.state) && isPath(c, id));
}

/** The present controller to report for a path: the ledger's device hint when it still matches, else the first. */
function pick(matches: readonly FabricsController[], hint: string | undefined): FabricsController {
  return matches.find((c) => c.device === hint) ?? matches[0];
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
    const matches = controllersOf(observed, id);
    if (matches.length === 0) {
      actions.push({ kind: "connect", identity: id, reason: `no controller for ${describePath(id)}` });
      continue;
    }
    const ctrl = pick(matches, rec?.device);
    if (rec?.owners.includes(owner)) {
      actions.push({ kind: "keep", identity: id, device: ctrl.device, reason: `${ctrl.device} is already ours` });
    } else {
      // A record without owners is an orphan a crashed attempt made (see reconcilePending): still ours to cut.
      const createdBy = rec ? rec.createdBy : EXTERNAL;
      const who = createdBy === EXTERNAL ? "it was there before us" : `made by ${createdBy}`;
      actions.push({ kind: "adopt", identity: id, device: ctrl.device, createdBy, reason: `${ctrl.device} is live (${who})` });
    }
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
    const matches = controllersOf(observed, id);
    const others = rec.owners.filter((o) => o !== owner);
    if (others.length > 0) {
      actions.push({ kind: "release", identity: id, reason: `still held by ${others.join(", ")}` });
    } else if (rec.createdBy === EXTERNAL) {
      actions.push({ kind: "release", identity: id, reason: "it was there before us: left connected" });
    } else if (matches.length === 0) {
      actions.push({ kind: "forget", identity: id, reason: "its controller is already gone" });
    } else {
      const hinted = matches.filter((c) => c.device === rec.device);
      const devices = (hinted.length > 0 ? hinted : matches).map((c) => c.device);
      actions.push({ kind: "disconnect", identity: id, devices, reason: `we made it and are its last owner` });
    }
  }
  return guardInUse(actions, observed, force);
}

/**
 * Turn a disconnect into a refusal when it would leave a mounted or held namespace with no live path.
 * Native multipath keeps one namespace head for all paths of a subsystem, so cutting one path of
 * several is safe; cutting the last one fails I/O and shuts filesystems down.
 */
function guardInUse(actions: Action[], observed: readonly FabricsController[], force: boolean): Action[] {
  if (force) return actions;
  const cut = new Set(actions.flatMap((a) => (a.kind === "disconnect" ? a.devices : [])));
  const survivors = observed.filter((c) => c.state === "live" && !cut.has(c.device));
  return actions.map((a): Action => {
    if (a.kind !== "disconnect") return a;
    const inUse = new Set<string>();
    for (const ctrl of observed.filter((c) => a.devices.includes(c.device))) {
      for (const ns of ctrl.namespaces) {
        if (ns.mountpoints.length === 0 && ns.holders.length === 0) continue;
        const stillReachable = survivors.some((s) => s.namespaces.some((n) => n.blockDevice === ns.blockDevice));
        if (!stillReachable) inUse.add(ns.blockDevice);
      }
    }
    if (inUse.size === 0) return a;
    const namespaces = [...inUse].sort();
    return {
      kind: "refuse-in-use",
      identity: a.identity,
      devices: a.devices,
      namespaces,
      reason: `${a.devices.join(", ")} is the last live path of ${namespaces.map((n) => `/dev/${n}`).join(", ")}, which is mounted or held`,
    };
  });
}

/**
 * Settle intents left by a crash between "intent written" and "ledger committed", or by a connect that
 * timed out (the kernel may finish it after nvme-cli was killed): a present controller was made by the
 * owner that meant to connect it; an absent one never came to be. The owner is not added: its operation
 * never returned, so nobody may know that owner id again. The controller stays recorded as an orphan we
 * made (no owners, `createdBy` an owner): the next attach of that path adopts it and the last owner's
 * release disconnects it. An orphan whose controller is gone is forgotten.
 * With `subsysnqn`, `observed` holds only that subsystem's controllers, so only its records are settled.
 * Returns the keys it changed (the caller saves the ledger when any did).
 */
export function reconcilePending(ledger: Ledger, observed: readonly FabricsController[], subsysnqn?: string): string[] {
  const changed: string[] = [];
  for (const [key, rec] of Object.entries(ledger.paths)) {
    if (subsysnqn !== undefined && rec.identity.subsysnqn !== subsysnqn) continue; // not scanned: cannot judge
    const matches = controllersOf(observed, rec.identity);
    if (rec.pending) {
      if (matches.length > 0) {
        rec.createdBy = rec.pending.owner;
        rec.device = matches[0].device;
      }
      delete rec.pending;
      if (rec.owners.length === 0 && matches.length === 0) delete ledger.paths[key];
      changed.push(key);
    } else if (rec.owners.length === 0 && matches.length === 0) {
      delete ledger.paths[key];
      changed.push(key);
    }
  }
  return changed;
}
