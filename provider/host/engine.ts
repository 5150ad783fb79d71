import type { HostAccess, HostSettings } from "./access/access";
import { clearPending, EXTERNAL, forget, markPending, recordCreated, recordObject, recordOf, removeOwner, type ControllerObject } from "./ledger/records";
import { dropHoldings, EndedOwnerError, endOwner, holdingsOf, refuseEnded, reopenOwner, type DroppedHold, type Ending } from "./ledger/ended";
import { LedgerStore, type LedgerTransaction } from "./ledger/store";
import { NvmeCli } from "./nvme/cli";
import type { ConnectOptions } from "./nvme/connect-options";
import type { ControllerScope, FabricsController } from "./nvme/controller";
import { describePath, identityKey, type PathIdentity } from "./nvme/identity";
import { readHostAttributes, OldKernelError } from "./nvme/kernel-support";
import { deleteControllerObject } from "./nvme/delete";
import { controllerNames, readControllers } from "./nvme/sysfs";
import { controllersOf, guardInUse, inScope, planAttach, planRelease, reconcilePending, recordedController, settleConnect, type Action } from "./plan";

/**
 * The host engine: the procedure an operator would follow, with the planner deciding and the adapters
 * acting. Every operation runs under the ledger transaction (in-process queue + host lock): scan, decide,
 * act, re-scan, record.
 */

/**
 * The nvme-cli adapter as the engine uses it ({@link NvmeCli} in production, anything alike in tests).
 * Only connect: a controller is deleted through its own `delete_controller` (nvme/delete.ts), never by name.
 */
export type NvmeDriver = Pick<NvmeCli, "connect">;

/** An intent outlives its connect's timeout by this much: the kernel may finish a connect nvme-cli gave up on. */
const INTENT_MARGIN_MS = 30_000;
/** nvme-cli connect timeout when the options name none (as NvmeCli.connect). */
const CONNECT_TIMEOUT_MS = 60_000;

export interface EngineDeps {
  readonly host: HostAccess;
  readonly settings: HostSettings;
  readonly driver: NvmeDriver;
  /** Controllers outside the scope may be left out (read no further than its attributes); `devices`: only these names. */
  readonly readControllers: (only?: ControllerScope & { readonly devices?: readonly string[] }) => Promise<FabricsController[]>;
  /** How long a deleted controller may take to go (ms); default 30 000. The kernel deletes before the write returns. */
  readonly goneTimeoutMs?: number;
  readonly now?: () => Date;
}

/** How we hold a path after attach. */
export interface AttachedPath {
  readonly identity: PathIdentity;
  /** `created`: our connect made the controller; `adopted`: it was live already (someone else's or pre-existing). */
  readonly origin: "created" | "adopted";
  /** Name of the controller object we hold. */
  readonly device: string;
  /** Its controller ID, when the kernel shows one (with `device`, the object). */
  readonly cntlid?: number;
  /** `connecting`: the controller exists but has not reached the target yet (the kernel keeps retrying). */
  readonly state: "live" | "connecting";
}

export interface PathFailure {
  readonly identity: PathIdentity;
  /** nvme-cli failure class (refused, unreachable, rejected-by-target, …) or `not-in-sysfs`. */
  readonly kind: string;
  readonly message: string;
}

export interface AttachOptions {
  readonly connect?: ConnectOptions;
  /** Fewest paths that must be held for attach to succeed; default all of them. */
  readonly minPaths?: number;
}

export interface AttachResult {
  readonly paths: readonly AttachedPath[];
  /** Paths that could not be connected (only when at least `minPaths` succeeded). */
  readonly failures: readonly PathFailure[];
}

export interface ReleaseResult {
  /** Controllers we disconnected. */
  readonly disconnected: readonly { readonly identity: PathIdentity; readonly device: string }[];
  /** Paths we let go of whose controllers stay (another owner, or pre-existing). */
  readonly released: readonly PathIdentity[];
  /** Paths whose controllers (the objects we made) were already gone. */
  readonly forgotten: readonly PathIdentity[];
  /** For a person: each controller of ours that was gone (and any look-alike left alone). */
  readonly warnings: readonly string[];
}

export type PathState = "live" | "connecting" | "missing";

export interface PathObservation {
  readonly identity: PathIdentity;
  readonly state: PathState;
  readonly device?: string;
  readonly cntlid?: number;
  /** Whether the ledger lists the owner for this path. */
  readonly held: boolean;
  /** Connect options the controller shows in sysfs (attribute -> text), to compare with the ones asked for. */
  readonly options?: Readonly<Record<string, string>>;
  /** Held, but the object we hold is gone and these controllers have the path now (someone else's). */
  readonly lookAlikes?: readonly string[];
}

/** Attach could not reach `minPaths`; everything this call made was undone. */
export class AttachError extends Error {
  constructor(
    message: string,
    readonly failures: readonly PathFailure[],
    /** Cleanup that itself failed (empty when rollback was complete). */
    readonly rollbackProblems: readonly string[],
  ) {
    super(message);
    this.name = "AttachError";
  }
}

/** Release refused: it would cut the last live path of a namespace in use. Nothing was changed. */
export class InUseError extends Error {
  constructor(readonly refusals: readonly Extract<Action, { kind: "refuse-in-use" }>[]) {
    super(
      `refusing to disconnect: ${refusals.map((r) => `${describePath(r.identity)}: ${r.reason}`).join("; ")}. ` +
        `Unmount or stop using the device first, or set force: true to cut it anyway. Nothing was changed.`,
    );
    this.name = "InUseError";
  }
}

/**
 * nvme-cli said "already connected" yet sysfs has no controller with our identity: nvme-cli 2.3–2.5 match
 * existing controllers without the host NQN, so a path another host NQN holds (another tool) blocks us.
 */
function alreadyConnectedElsewhere(failure: { readonly class: string; readonly message: string }): string {
  if (failure.class !== "already-connected") return failure.message;
  return (
    `${failure.message} No controller with this host NQN exists for the path, so another host NQN holds it: ` +
    `nvme-cli before 2.6 ignores the host NQN in its "already connected" check. Upgrade nvme-cli to 2.6 or later, ` +
    `or attach with the host NQN that holds the path; when this is a replace onto a new host NQN (the old ` +
    `one still holds the path), give the resource the option deleteBeforeReplace: true.`
  );
}

/** The one subsystem all `paths` belong to (an attachment's always do), as a scan filter; none when mixed. */
function subsystemOf(paths: readonly PathIdentity[]): { subsysnqn?: string } {
  const nqns = new Set(paths.map((p) => p.subsysnqn));
  return nqns.size === 1 ? { subsysnqn: [...nqns][0] } : {};
}

/**
 * The controllers that can be `paths` (their subsystem and host NQNs): all that judging by identity needs.
 * The in-use guard needs more (another host NQN's live path may carry the namespace): see {@link guarded}.
 */
function scopeOf(paths: readonly PathIdentity[]): ControllerScope {
  return { ...subsystemOf(paths), hostnqns: [...new Set(paths.map((p) => p.hostnqn))] };
}

/** Whether the controller reached its target: `live`, else `connecting` (new, connecting, resetting). */
function liveness(ctrl: FabricsController): "live" | "connecting" {
  return ctrl.state === "live" ? "live" : "connecting";
}

/** The kernel object as the ledger records it. */
function objectOf(ctrl: FabricsController): ControllerObject {
  return { device: ctrl.device, ...(ctrl.cntlid !== undefined ? { cntlid: ctrl.cntlid } : {}), ...(ctrl.inode !== undefined ? { inode: ctrl.inode } : {}) };
}

/** A release plan and the scan it was made on; `whole`: the scan read the whole subsystem, not just the scope. */
interface Judged {
  readonly plan: Action[];
  readonly observed: readonly FabricsController[];
  readonly whole: boolean;
}

export class NvmeEngine {
  private readonly store: LedgerStore;

  constructor(private readonly deps: EngineDeps) {
    this.store = new LedgerStore(deps.host, deps.settings);
  }

  /** The production wiring: nvme-cli for connect/disconnect, sysfs for the truth, both through `host`. */
  static on(host: HostAccess, settings: HostSettings): NvmeEngine {
    return new NvmeEngine({
      host,
      settings,
      driver: new NvmeCli(host, settings),
      readControllers: (only) => readControllers(host, settings, only ?? {}),
    });
  }

  /**
   * Scan and settle intents a crashed process left behind. Only the subsystem of `paths` is read: a host
   * may carry a thousand controllers of other users, and none of them can be ours to act on here.
   */
  private async scan(tx: LedgerTransaction, paths: readonly PathIdentity[]): Promise<FabricsController[]> {
    const scope = scopeOf(paths);
    const observed = await this.deps.readControllers(scope);
    if (reconcilePending(tx.ledger, observed, this.now(), scope).length > 0) await tx.save();
    return observed;
  }

  /**
   * What a release needs to see: the objects the ledger names for `paths`, read by name, so a delete beside
   * a thousand controllers reads a directory or two. The scope is scanned as {@link scan} does when that
   * cannot decide: an intent or orphan in it to settle, a record without a name, or a recorded object gone
   * (its look-alikes are named in the warning).
   */
  private async scanRecorded(tx: LedgerTransaction, paths: readonly PathIdentity[]): Promise<FabricsController[]> {
    const scope = scopeOf(paths);
    const records = paths.flatMap((p) => recordOf(tx.ledger, p) ?? []);
    const unsettled = Object.values(tx.ledger.paths).some((r) => inScope(r.identity, scope) && (r.pending !== undefined || r.owners.length === 0));
    const devices = records.flatMap((r) => (r.device === undefined ? [] : [r.device]));
    if (!unsettled && devices.length === records.length) {
      const observed = await this.deps.readControllers({ ...scope, devices });
      if (records.every((r) => recordedController(observed, r) !== undefined)) return observed;
    }
    return this.scan(tx, paths);
  }

  /**
   * `plan(observed)` judged on the scope's controllers alone, and again on the whole subsystem when that
   * refuses a disconnect: a refusal may be lifted by a live path of another host NQN, never an allowance
   * taken back (more paths left can only carry more), so the thousand controllers of other users are read
   * only when something is in use.
   */
  private async guarded(
    paths: readonly PathIdentity[],
    observed: readonly FabricsController[],
    plan: (observed: readonly FabricsController[]) => Action[],
  ): Promise<Judged> {
    const first = plan(observed);
    if (!first.some((a) => a.kind === "refuse-in-use")) return { plan: first, observed, whole: false };
    const whole = await this.deps.readControllers(subsystemOf(paths));
    return { plan: plan(whole), observed: whole, whole: true };
  }

  private now(): Date {
    return (this.deps.now ?? (() => new Date()))();
  }

  /**
   * Make `owner` hold every desired path: connect the missing ones (one at a time), adopt live ones. All-or-nothing down to `minPaths`: when fewer succeed, undo exactly what this call did.
   */
  async attach(owner: string, desired: readonly PathIdentity[], options: AttachOptions = {}): Promise<AttachResult> {
    const unique = [...new Map(desired.map((d) => [identityKey(d), d])).values()];
    const minPaths = Math.min(options.minPaths ?? unique.length, unique.length);
    return this.store.transact(async (tx) => {
      refuseEnded(tx.ledger, owner, this.deps.host.description);
      const observed = await this.scan(tx, unique);
      const hostAttributes = await readHostAttributes(this.deps.host, this.deps.settings, observed);
      if (hostAttributes === "absent") throw new OldKernelError(this.deps.host.description);
      const actions = planAttach({ desired: unique, observed, ledger: tx.ledger, owner });
      const now = this.now();
      const connects = actions.filter((a) => a.kind === "connect");
      // Every name on the host, not only our subsystem's: a name any controller has now is never the one we make.
      const instances = connects.length > 0 ? [...new Set([...observed.map((c) => c.device), ...(await controllerNames(this.deps.host, this.deps.settings))])] : [];
      const expires = new Date(now.getTime() + (options.connect?.timeoutMs ?? CONNECT_TIMEOUT_MS) + INTENT_MARGIN_MS);
      for (const a of connects) markPending(tx.ledger, a.identity, owner, now, expires, instances);
      if (connects.length > 0) await tx.save(); // intent before `nvme connect`

      // One at a time: the kernel answers one connect per host at a time anyway (nvmf_dev_mutex), so parallel
      // ones gain nothing, and a connect's timeout then measures its own attempt, not a queue of ours.
      const outcomes: Awaited<ReturnType<NvmeDriver["connect"]>>[] = [];
      for (const a of connects) outcomes.push(await this.deps.driver.connect(a.identity, options.connect ?? {}));
      const after = connects.length > 0 ? await this.deps.readControllers(scopeOf(unique)) : observed;
      // A host without any fabrics controller could not tell before: our own connects tell now.
      if (hostAttributes === "unknown" && connects.length > 0 && (await readHostAttributes(this.deps.host, this.deps.settings, after)) === "absent") {
        // Without a hostnqn attribute no controller is in a host NQN's scope: look at the whole subsystem.
        const made = await this.deps.readControllers(subsystemOf(unique));
        throw new OldKernelError(this.deps.host.description, await this.undoUnidentifiable(tx, connects, outcomes, made));
      }

      const held: AttachedPath[] = [];
      const made: AttachedPath[] = [];
      const adoptedNow: PathIdentity[] = [];
      const failures: PathFailure[] = [];
      connects.forEach((a, i) => {
        const outcome = outcomes[i];
        // Killed before nvme-cli told the kernel's answer; a kernel ETIMEDOUT (SYNs dropped) is an answer.
        const killed = !outcome.ok && outcome.failure.killed;
        const settled = settleConnect(a.identity, instances, after, { ok: outcome.ok, killed, device: outcome.ok ? outcome.device : undefined });
        if (settled.kind === "created") {
          const path: AttachedPath = { identity: a.identity, origin: "created", ...objectOf(settled.controller), state: liveness(settled.controller) };
          recordCreated(tx.ledger, a.identity, owner, objectOf(settled.controller));
          made.push(path);
          held.push(path);
        } else if (settled.kind === "lost") {
          // Someone outside the ledger connected it between our scan and our connect: not ours to cut.
          recordObject(tx.ledger, a.identity, owner, EXTERNAL, objectOf(settled.controller));
          adoptedNow.push(a.identity);
          held.push({ identity: a.identity, origin: "adopted", ...objectOf(settled.controller), state: liveness(settled.controller) });
        } else {
          // A killed `nvme connect` may still be finished by the kernel: keep the intent for the next scan.
          if (!killed) clearPending(tx.ledger, a.identity);
          failures.push(
            outcome.ok
              ? { identity: a.identity, kind: "not-in-sysfs", message: `nvme connect reported success for ${describePath(a.identity)} but no controller appeared in sysfs` }
              : { identity: a.identity, kind: outcome.failure.class, message: alreadyConnectedElsewhere(outcome.failure) },
          );
        }
      });
      for (const a of actions) {
        if (a.kind === "adopt") {
          // The record's own object keeps its maker; a look-alike of a gone object is someone else's.
          recordObject(tx.ledger, a.identity, owner, a.createdBy, objectOf(a.controller));
          adoptedNow.push(a.identity);
          // createdBy === owner: an orphan our own earlier, interrupted attempt made.
          const now = controllersOf(after, a.identity).find((c) => c.device === a.controller.device) ?? a.controller;
          held.push({ identity: a.identity, origin: a.createdBy === owner ? "created" : "adopted", ...objectOf(a.controller), state: liveness(now) });
        } else if (a.kind === "keep") {
          const rec = recordOf(tx.ledger, a.identity);
          const now = controllersOf(after, a.identity).find((c) => c.device === a.controller.device) ?? a.controller;
          held.push({ identity: a.identity, origin: rec?.createdBy === owner ? "created" : "adopted", ...objectOf(a.controller), state: liveness(now) });
        }
      }

      if (held.length >= minPaths) {
        const order = new Map(unique.map((d, i) => [identityKey(d), i]));
        held.sort((x, y) => order.get(identityKey(x.identity))! - order.get(identityKey(y.identity))!);
        try {
          await tx.save(); // the commit: what we made is ours only once the ledger says so
        } catch (err) {
          throw await this.undoUnrecorded(tx, made, after, err as Error);
        }
        return { paths: held, failures };
      }
      const problems = await this.rollback(tx, owner, made, adoptedNow);
      const detail = failures.map((f) => `${describePath(f.identity)}: ${f.message}`).join("; ");
      throw new AttachError(
        `attached ${held.length} of ${unique.length} paths, fewer than the ${minPaths} required; ` +
          `${problems.length === 0 ? "undid what this attempt connected" : `undo was incomplete (${problems.join("; ")})`}. Failures: ${detail}`,
        failures,
        problems,
      );
    });
  }

  /**
   * Disconnect what our connects made on a kernel that cannot show whose a controller is: nothing may stay
   * that no record could ever match. A controller counts as ours when it has the name nvme-cli reported
   * for our connect and our subsystem, address and port. Returns what it did, for the error message.
   */
  private async undoUnidentifiable(
    tx: LedgerTransaction,
    connects: readonly { readonly identity: PathIdentity }[],
    outcomes: readonly Awaited<ReturnType<NvmeDriver["connect"]>>[],
    after: readonly FabricsController[],
  ): Promise<string> {
    const notes: string[] = [];
    for (const [i, a] of connects.entries()) {
      clearPending(tx.ledger, a.identity);
      const outcome = outcomes[i];
      if (!outcome.ok) continue;
      const id = a.identity;
      const made = after.find(
        (c) => c.device === outcome.device && c.subsysnqn === id.subsysnqn && c.addressFields.traddr === id.traddr && c.addressFields.trsvcid === String(id.trsvcid),
      );
      if (!made) {
        notes.push(`${describePath(id)} connected, but which controller it made is unknown: find it with \`nvme list-subsys\` and remove it with \`nvme disconnect -d nvmeN\``);
        continue;
      }
      try {
        const r = await deleteControllerObject(this.deps.host, this.deps.settings, made, { goneTimeoutMs: this.deps.goneTimeoutMs });
        if (!r.deleted) {
          notes.push(`${describePath(id)}: its controller ${made.device} is gone already (${r.why})`);
          continue;
        }
        notes.push(`${describePath(id)}: its controller ${made.device} was disconnected again`);
      } catch (err) {
        notes.push(`${describePath(id)}: its controller ${made.device} could not be disconnected (${(err as Error).message})`);
      }
    }
    return notes.length === 0 ? "" : ` This attempt had connected before it could tell: ${notes.join("; ")}.`;
  }

  /**
   * The ledger could not record what this attach made (a full disk): disconnect it again rather than leave
   * orphans until the next run. Only controllers this call made, by their device; the intents on disk say
   * the same, and the next locked operation drops them.
   */
  private async undoUnrecorded(tx: LedgerTransaction, made: readonly AttachedPath[], after: readonly FabricsController[], cause: Error): Promise<Error> {
    const problems: string[] = [];
    for (const m of made) {
      try {
        // The object this call made, as the scan after the connects saw it: deleted pinned, never by name.
        const ctrl = after.find((c) => c.device === m.device && c.cntlid === m.cntlid);
        if (ctrl) await deleteControllerObject(this.deps.host, this.deps.settings, ctrl, { goneTimeoutMs: this.deps.goneTimeoutMs });
        forget(tx.ledger, m.identity);
      } catch (err) {
        problems.push(`${describePath(m.identity)} (${m.device}): ${(err as Error).message}`);
      }
    }
    const undo = made.length === 0 ? "nothing was connected" : problems.length === 0 ? `disconnected the ${made.length} controller(s) it made` : `could not disconnect ${problems.join("; ")}`;
    return new AttachError(`${cause.message}; so the attach is undone: ${undo}`, [], problems);
  }

  /** Undo an attach: disconnect what it created, drop the ownership it took. Returns what could not be undone. */
  private async rollback(tx: LedgerTransaction, owner: string, made: readonly AttachedPath[], adopted: readonly PathIdentity[]): Promise<string[]> {
    for (const id of adopted) {
      const rec = recordOf(tx.ledger, id);
      // An orphan an interrupted attempt made, adopted by this call: it goes back to being an orphan.
      if (rec && rec.createdBy !== EXTERNAL && rec.owners.length === 1 && rec.owners[0] === owner) rec.owners = [];
      else removeOwner(tx.ledger, id, owner);
    }
    const problems: string[] = [];
    if (made.length === 0) return problems;
    const release = made.map((m) => m.identity);
    const scanned = await this.deps.readControllers(scopeOf(release));
    const judged = await this.guarded(release, scanned, (observed) => planRelease({ release, observed, ledger: tx.ledger, owner, force: false }));
    await this.apply(tx, owner, judged, problems, false);
    return problems;
  }

  /** Carry out release actions; failures are collected, the ledger keeps what is still true. */
  private async apply(tx: LedgerTransaction, owner: string, { plan, observed, whole }: Judged, problems: string[], force: boolean): Promise<ReleaseResult> {
    const disconnected: { identity: PathIdentity; device: string }[] = [];
    const released: PathIdentity[] = [];
    const forgotten: PathIdentity[] = [];
    const warnings: string[] = [];
    for (const a of plan) {
      if (a.kind === "release") {
        removeOwner(tx.ledger, a.identity, owner);
        released.push(a.identity);
      } else if (a.kind === "forget") {
        forget(tx.ledger, a.identity);
        forgotten.push(a.identity);
        warnings.push(`${describePath(a.identity)}: ${a.reason}; forgotten`);
      } else if (a.kind === "disconnect") {
        const refused = force ? undefined : await this.inUseNow(a, observed, whole);
        if (refused) {
          problems.push(`${describePath(a.identity)}: ${refused} (seen just before the delete; nothing was cut)`);
          continue;
        }
        try {
          const r = await deleteControllerObject(this.deps.host, this.deps.settings, a.controller, { goneTimeoutMs: this.deps.goneTimeoutMs });
          forget(tx.ledger, a.identity);
          if (r.deleted) {
            disconnected.push({ identity: a.identity, device: a.controller.device });
          } else {
            // Ours went between the scan and the delete (ctrl-loss-tmo, someone's `nvme disconnect`): nothing was cut.
            forgotten.push(a.identity);
            warnings.push(`${describePath(a.identity)}: our controller ${a.controller.device} is gone (${r.why}); nothing was disconnected; forgotten`);
          }
        } catch (err) {
          problems.push(`${describePath(a.identity)} (${a.controller.device}): ${(err as Error).message}`);
        }
      } else if (a.kind === "refuse-in-use") {
        problems.push(`${describePath(a.identity)}: ${a.reason}`);
      }
    }
    return { disconnected, released, forgotten, warnings };
  }

  /**
   * The in-use guard again, on a fresh scan, right before a delete: a mount, swap or holder may have come
   * since the plan was made (and the deletes before this one changed which paths are left). Returns the
   * refusal's reason, or undefined when the delete may go ahead.
   */
  private async inUseNow(a: Extract<Action, { kind: "disconnect" }>, planned: readonly FabricsController[], whole: boolean): Promise<string | undefined> {
    // Only the subsystem's controllers the plan saw: a path that came since is not counted on (safe side),
    // and the thousand controllers of other users are not read twice.
    const devices = planned.filter((c) => c.subsysnqn === a.identity.subsysnqn).map((c) => c.device);
    const judge = (observed: readonly FabricsController[]): string | undefined => {
      const now = observed.find((c) => c.device === a.controller.device && c.cntlid === a.controller.cntlid);
      if (!now) return undefined; // gone or replaced: the pinned delete will find that out and touch nothing
      const [checked] = guardInUse([{ ...a, controller: now }], observed, false);
      return checked.kind === "refuse-in-use" ? checked.reason : undefined;
    };
    const refused = judge(await this.deps.readControllers({ ...subsystemOf([a.identity]), devices }));
    // The plan saw only its scope (nothing was in use then): judge again on the whole subsystem as it is
    // now, where a live path of another host NQN may carry the namespace.
    if (refused === undefined || whole) return refused;
    return judge(await this.deps.readControllers(subsystemOf([a.identity])));
  }

  /**
   * Stop holding the given paths. Disconnects only controllers an owner made and nobody else holds;
   * refuses (changing nothing) to cut the last live path of a mounted or held namespace unless `force`.
   */
  async release(owner: string, paths: readonly PathIdentity[], options: { readonly force?: boolean } = {}): Promise<ReleaseResult> {
    return this.store.transact(async (tx) => {
      const scanned = await this.scanRecorded(tx, paths);
      const judged = await this.guarded(paths, scanned, (observed) => planRelease({ release: paths, observed, ledger: tx.ledger, owner, force: options.force ?? false }));
      const refusals = judged.plan.filter((a): a is Extract<Action, { kind: "refuse-in-use" }> => a.kind === "refuse-in-use");
      if (refusals.length > 0) throw new InUseError(refusals);
      const problems: string[] = [];
      const result = await this.apply(tx, owner, judged, problems, options.force ?? false);
      if (problems.length > 0) {
        throw new Error(`could not disconnect every path we own: ${problems.join("; ")}. The ledger still lists them as ours; run again to retry.`);
      }
      return result;
    });
  }

  /**
   * Hold a volume mapping for `owner`. When another owner holds it already, only the owner is added;
   * otherwise `map` says whether it mapped the volume or found it mapped. `map` is a PowerFlex call: it runs
   * under the mapping's own lock, not the ledger's, so a slow gateway never stalls the host's other users.
   * Refused for an owner whose attachment ended; `unmap` undoes what `map` made when it ended meanwhile.
   */
  async holdVolume(owner: string, key: string, map: () => Promise<"created" | "adopted">, unmap?: () => Promise<void>): Promise<"created" | "adopted"> {
    return this.store.withObjectLock(`volume ${key}`, async () => {
      await this.refuseEnded(owner);
      const origin = await map();
      try {
        await this.store.transact(async (tx) => {
          refuseEnded(tx.ledger, owner, this.deps.host.description);
          const hold = tx.ledger.volumes[key];
          if (hold && hold.owners.length > 0) {
            if (!hold.owners.includes(owner)) hold.owners.push(owner);
          } else {
            tx.ledger.volumes[key] = { createdBy: origin === "created" ? owner : EXTERNAL, owners: [owner] };
          }
        });
      } catch (err) {
        // Its destroy began while PowerFlex answered: what `map` made would be nobody's, so it goes again.
        if (err instanceof EndedOwnerError && origin === "created") await unmap?.();
        throw err;
      }
      return origin;
    });
  }

  /** Read-only: whether {@link releaseVolume} by `owner` would unmap (it is the last holder and an owner made it). */
  async wouldUnmap(owner: string, key: string): Promise<boolean> {
    const hold = (await this.store.read()).volumes[key];
    return hold !== undefined && hold.createdBy !== EXTERNAL && hold.owners.every((o) => o === owner);
  }

  /**
   * Let go of a volume mapping: `unmap` runs only when no owner is left and an owner made the mapping
   * (never for one that was there before). Returns whether it ran. Like `map`, `unmap` runs under the
   * mapping's own lock only; the hold is dropped after it succeeded (a failure keeps it: the next destroy retries).
   */
  async releaseVolume(owner: string, key: string, unmap: () => Promise<void>): Promise<boolean> {
    return this.store.withObjectLock(`volume ${key}`, async () => {
      const last = await this.store.transact(async (tx) => {
        const hold = tx.ledger.volumes[key];
        if (!hold) return undefined;
        const owners = hold.owners.filter((o) => o !== owner);
        if (owners.length > 0) {
          hold.owners = owners;
          return undefined;
        }
        return { createdBy: hold.createdBy };
      });
      if (!last) return false;
      if (last.createdBy !== EXTERNAL) await unmap();
      await this.store.transact(async (tx) => {
        delete tx.ledger.volumes[key];
      });
      return last.createdBy !== EXTERNAL;
    });
  }

  /** Remember, or with `registered: false` forget, that an attachment on this host registered this host object. */
  async markRegisteredHost(id: string, nqn: string, registered: boolean): Promise<void> {
    await this.store.transact(async (tx) => {
      if (registered) tx.ledger.hosts[id] = { nqn };
      else delete tx.ledger.hosts[id];
    });
  }

  /** Read-only: whether an attachment on this host registered this host object. */
  async registeredHost(id: string): Promise<boolean> {
    return (await this.store.read()).hosts[id] !== undefined;
  }

  /** Read-only: owners in the ledger holding any path as this host NQN (e.g. before removing its host object). */
  async ownersOfHostNqn(hostnqn: string): Promise<string[]> {
    const ledger = await this.store.read();
    const records = Object.values(ledger.paths).filter((r) => r.identity.hostnqn === hostnqn);
    return [...new Set(records.flatMap((r) => r.owners))].sort();
  }

  /** Read-only: each host NQN the ledger's paths are connected as, with its host ID. */
  async connectedIdentities(): Promise<{ hostnqn: string; hostid: string }[]> {
    const ledger = await this.store.read();
    const ids = new Map(Object.values(ledger.paths).map((r) => [r.identity.hostnqn, r.identity.hostid]));
    return [...ids].map(([hostnqn, hostid]) => ({ hostnqn, hostid }));
  }

  /**
   * `owner`'s attachment ends (its destroy begins): nothing is held for it again (ledger/ended.ts). Returns
   * what the ledger holds for it, also what an update racing with the destroy added after its state was read.
   */
  async end(owner: string): Promise<Ending> {
    return this.store.transact(async (tx) => {
      const endedBefore = endOwner(tx.ledger, owner, this.now());
      return { ...holdingsOf(tx.ledger, owner), endedBefore };
    });
  }

  /** `owner`'s destroy failed: its attachment stays, and may hold again (ledger/ended.ts). */
  async reopen(owner: string): Promise<void> {
    await this.store.transact(async (tx) => reopenOwner(tx.ledger, owner));
  }

  /** Read-only: throws {@link EndedOwnerError} when `owner`'s attachment ended (an update checks before PowerFlex calls). */
  async refuseEnded(owner: string): Promise<void> {
    refuseEnded(await this.store.read(), owner, this.deps.host.description);
  }

  /**
   * Refresh found `owner`'s attachment gone: it ends, and the ledger drops all it held (its registration of
   * `hostObjectId` too, unless another attachment here uses it). Never disconnects nor unmaps: refresh
   * changes nothing on the host or in PowerFlex. Returns what was dropped, for the warnings.
   */
  async forgetOwner(owner: string, hostObjectId?: string): Promise<{ volumes: DroppedHold[]; host: boolean }> {
    return this.store.transact(async (tx) => {
      endOwner(tx.ledger, owner, this.now());
      return dropHoldings(tx.ledger, owner, hostObjectId);
    });
  }

  /**
   * `owner` stops holding the paths of these that have no controller (refresh drops them from its state,
   * so no destroy will ever let go of them). Never disconnects: a path that is live again is left alone.
   */
  async forgetMissing(owner: string, paths: readonly PathIdentity[]): Promise<void> {
    await this.store.transact(async (tx) => {
      const observed = await this.scan(tx, paths);
      for (const id of paths) {
        const rec = recordOf(tx.ledger, id);
        // Judged by the object the ledger names, as observe does: a look-alike someone else made is not ours.
        if (rec?.owners.includes(owner) && !recordedController(observed, rec)) removeOwner(tx.ledger, id, owner);
      }
    });
  }

  /**
   * Read-only: how each path looks on the host now and whether `owner` holds it. No lock taken. A held
   * path is judged by the object the ledger names: a look-alike someone else made is not ours, nor live.
   */
  async observe(owner: string, paths: readonly PathIdentity[]): Promise<PathObservation[]> {
    const [observed, ledger] = await Promise.all([this.deps.readControllers(scopeOf(paths)), this.store.read()]);
    return paths.map((id) => {
      const rec = recordOf(ledger, id);
      const held = rec?.owners.includes(owner) ?? false;
      const matches = controllersOf(observed, id);
      const ctrl = rec && held ? recordedController(observed, rec) : (matches.find((c) => c.state === "live") ?? matches[0]);
      const state: PathState = !ctrl ? "missing" : ctrl.state === "live" ? "live" : "connecting";
      const lookAlikes = held && !ctrl && matches.length > 0 ? { lookAlikes: matches.map((c) => c.device) } : {};
      return { identity: id, state, device: ctrl?.device, ...(ctrl?.cntlid !== undefined ? { cntlid: ctrl.cntlid } : {}), held, ...lookAlikes, options: ctrl?.options };
    });
  }
}
