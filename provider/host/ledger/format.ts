/**
 * Ledger format versions. A release writes `version` (the newest format in the file) and `minWriter` (the
 * lowest format allowed to write it), and refuses to write under a `minWriter` above its own format: a
 * writer that does not know a field may get its meaning wrong even when it keeps the key.
 *
 * 1: paths; volumes and hosts were added later without a bump, and its readers dropped unknown keys.
 * 2: minWriter and generation; unknown keys kept; records name their kernel object (`cntlid`, `inode`) and
 *    intents expire (`expires`, `instances`). Format-1 releases accept only `version: 1`, so they refuse it.
 * 3: `ended`, the owners whose attachment ended (ended.ts). A format-2 writer keeps it (unknown keys are
 *    kept) and only does not refuse an ended owner, as before, so format 2 may still write: minWriter 2.
 */
export const LEDGER_FORMAT = 3;

/** The lowest format this release lets write after it (nothing it added is wrong in a format-2 writer's hands). */
export const LEDGER_MIN_WRITER = 2;

/** The format a ledger needs of its writers (format-1 files name none). */
export function minWriterOf(ledger: { readonly minWriter?: number }): number {
  return ledger.minWriter ?? 1;
}

/** Why this release must not act on the ledger, or undefined when it may. */
export function tooNew(ledger: { readonly version: number; readonly minWriter?: number }): string | undefined {
  const need = minWriterOf(ledger);
  if (need <= LEDGER_FORMAT) return undefined;
  return `it was written by a newer release (ledger format ${ledger.version}) that allows only writers of format ${need} or later; this release writes format ${LEDGER_FORMAT}`;
}

/** Mark the ledger as written by this release: never lowers what a newer release set. */
export function stamp(ledger: { version: number; minWriter?: number }): void {
  ledger.version = Math.max(ledger.version, LEDGER_FORMAT);
  ledger.minWriter = Math.max(minWriterOf(ledger), LEDGER_MIN_WRITER);
}
