import { identityKey, type PathIdentity } from "../nvme/identity";
import { removeOwner, type Ledger } from "./records";

/**
 * Owners whose attachment ended: its destroy began, or refresh dropped it. Two `pulumi` processes on one
 * stack (a stale `up` next to a `destroy`) serialise on the host lock, but an update that comes after the
 * destroy would hold paths and volumes again for an owner nobody will ever release: a ghost. So the ledger
 * remembers ended owners and nothing is held for them again; letting go stays allowed (a destroy that
 * failed half way is run again).
 */

/** Ended owners remembered, newest kept: enough for any stale process, and the file stays small. */
export const ENDED_KEPT = 256;

/** An attach, mapping or update for an owner whose attachment ended. Nothing was changed. */
export class EndedOwnerError extends Error {
  constructor(readonly owner: string, readonly since: string, where: string) {
    super(
      `attachment ${owner} has ended on this host (destroyed, or dropped by refresh, at ${since}) on ${where}: ` +
        `nothing is held for it again, as no destroy would ever let go of it. This is a stale \`pulumi up\` next to ` +
        `a destroy, or a destroy that did not finish: run \`pulumi destroy\` (or \`pulumi up\` without this ` +
        `resource) to finish it; to keep an attachment on this host, make a new one (\`pulumi up --replace <urn>\`, ` +
        `or \`pulumi refresh\` then \`pulumi up\`). Nothing was changed.`,
    );
    this.name = "EndedOwnerError";
  }
}

/** Throw {@link EndedOwnerError} when `owner` has ended. */
export function refuseEnded(ledger: Ledger, owner: string, where: string): void {
  const since = ledger.ended[owner];
  if (since !== undefined) throw new EndedOwnerError(owner, since, where);
}

/**
 * Remember that `owner` ended at `now` (the first time counts); only the newest {@link ENDED_KEPT} stay.
 * Returns whether it had ended before (another destroy of it began first).
 */
export function endOwner(ledger: Ledger, owner: string, now: Date): boolean {
  const before = ledger.ended[owner] !== undefined;
  ledger.ended[owner] ??= now.toISOString();
  const newest = Object.entries(ledger.ended).sort(([, a], [, b]) => (a < b ? 1 : a > b ? -1 : 0));
  ledger.ended = Object.fromEntries(newest.slice(0, ENDED_KEPT));
  return before;
}

/**
 * `owner`'s destroy failed, so its attachment stays (Pulumi keeps a resource whose delete failed): it may
 * hold again (e.g. an update setting `force`), and its next destroy lets go of all it holds.
 */
export function reopenOwner(ledger: Ledger, owner: string): void {
  delete ledger.ended[owner];
}

/** What the ledger holds for `owner`: its paths and its volume holds (`<host object id>/<volume id>`). */
export interface Holdings {
  readonly paths: readonly PathIdentity[];
  readonly volumes: readonly string[];
}

/** What {@link endOwner} found: the owner's holdings, and whether it had ended before. */
export interface Ending extends Holdings {
  readonly endedBefore: boolean;
}

export function holdingsOf(ledger: Ledger, owner: string): Holdings {
  return {
    paths: Object.values(ledger.paths).filter((r) => r.owners.includes(owner)).map((r) => r.identity),
    volumes: Object.entries(ledger.volumes).filter(([, h]) => h.owners.includes(owner)).map(([k]) => k),
  };
}

/** A volume hold `owner` let go of without unmapping: `left` when the mapping is now nobody's on this host. */
export interface DroppedHold {
  readonly key: string;
  readonly left: boolean;
}

/**
 * Drop every hold of `owner` without touching the host or PowerFlex (refresh found its attachment gone),
 * and forget its host registration (`hostObjectId`) when no attachment here uses it any more. Returns the
 * holds dropped and whether the registration was forgotten, for the warning: what stays in PowerFlex is
 * for the user to clean up.
 */
export function dropHoldings(ledger: Ledger, owner: string, hostObjectId?: string): { volumes: DroppedHold[]; host: boolean } {
  for (const id of holdingsOf(ledger, owner).paths) removeOwner(ledger, id, owner);
  const volumes: DroppedHold[] = [];
  for (const [key, hold] of Object.entries(ledger.volumes)) {
    if (!hold.owners.includes(owner)) continue;
    hold.owners = hold.owners.filter((o) => o !== owner);
    const left = hold.owners.length === 0;
    if (left) delete ledger.volumes[key];
    volumes.push({ key, left });
  }
  const mark = hostObjectId === undefined ? undefined : ledger.hosts[hostObjectId];
  if (!mark) return { volumes, host: false };
  const used =
    Object.values(ledger.paths).some((r) => r.identity.hostnqn === mark.nqn && r.owners.length > 0) ||
    Object.keys(ledger.volumes).some((k) => k.startsWith(`${hostObjectId}/`));
  if (!used) delete ledger.hosts[hostObjectId!];
  return { volumes, host: !used };
}

/** Paths without duplicates (by identity), first seen first. */
export function uniquePaths(paths: readonly PathIdentity[]): PathIdentity[] {
  return [...new Map(paths.map((p) => [identityKey(p), p])).values()];
}
