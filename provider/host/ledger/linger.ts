import type { HostAccess, Unlock } from "../access/access";

/**
 * The host lock outlives a ledger transaction by a moment, for this process's next one: `pulumi up` sends
 * its operations one after another, and a lock taken anew each time is a flock process pair (over SSH a
 * round trip) per transaction, most of what a create costs on a small host. The lock is still the kernel's
 * flock: released when we die, and checked for loss before each reuse. Another process waits at most
 * {@link LINGER_MS} longer, and a lock reused for {@link MAX_HOLD_MS} is released so that others get a turn.
 */
export const LINGER_MS = 250;
export const MAX_HOLD_MS = 1000;

interface Held {
  readonly unlock: Unlock;
  readonly since: number;
  timer?: NodeJS.Timeout;
}

/** Locks held between transactions, by host and lock file. Callers queue per key (store.ts serialize). */
const lingering = new Map<string, Held>();

/** Take the host lock `file` through `host.lock`, or the one this process still holds from its last transaction. */
export async function lockLingering(host: HostAccess, file: string, timeoutMs: number): Promise<Unlock> {
  const key = `${host.description}\u0000${file}`;
  const kept = lingering.get(key);
  if (kept) {
    lingering.delete(key);
    clearTimeout(kept.timer);
    if (kept.unlock.lost() === undefined && Date.now() - kept.since < MAX_HOLD_MS) return handOver(key, kept);
    await kept.unlock();
  }
  return handOver(key, { unlock: await host.lock(file, { timeoutMs }), since: Date.now() });
}

/** The lock as an {@link Unlock} whose release keeps it {@link LINGER_MS} for the next transaction. */
function handOver(key: string, held: Held): Unlock {
  let released: Promise<void> | undefined;
  const release = () => {
    released ??= (async () => {
      if (held.unlock.lost() !== undefined) return held.unlock();
      held.timer = setTimeout(() => {
        if (lingering.get(key) !== held) return;
        lingering.delete(key);
        void held.unlock();
      }, LINGER_MS);
      lingering.set(key, held);
    })();
    return released;
  };
  return Object.assign(release, { lost: () => held.unlock.lost() });
}
