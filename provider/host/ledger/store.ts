import * as path from "node:path/posix";
import type { HostAccess, HostSettings } from "../access/access";
import { emptyLedger, ledgerSchema, type Ledger } from "./records";

/** The ledger file and its lock inside the state dir. */
export const LEDGER_FILE = "ledger.json";
export const LOCK_FILE = "lock";

/** A ledger opened under the host lock: change `ledger`, call `save()` to persist mid-way (intents). */
export interface LedgerTransaction {
  readonly ledger: Ledger;
  save(): Promise<void>;
}

/**
 * One provider process serves many resources at once, and several processes (stacks, refresh next to up)
 * may share a host. The in-process queue orders our own callers; the host lock (flock, released by the
 * kernel if we die) orders the processes. Both are held from scan to re-scan, so no decision is made on a
 * stale view of the host.
 */
const queues = new Map<string, Promise<unknown>>();

async function serialize<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const previous = queues.get(key) ?? Promise.resolve();
  const run = previous.then(fn, fn);
  const tail = run.catch(() => undefined);
  queues.set(key, tail);
  try {
    return await run;
  } finally {
    if (queues.get(key) === tail) queues.delete(key);
  }
}

export class LedgerStore {
  constructor(
    private readonly host: HostAccess,
    private readonly settings: HostSettings,
    private readonly lockTimeoutMs = 120_000,
  ) {}

  get file(): string {
    return path.join(this.settings.stateDir, LEDGER_FILE);
  }

  /** Read the ledger without the lock (status, refresh): a consistent snapshot thanks to atomic writes. */
  async read(): Promise<Ledger> {
    const text = await this.host.readFile(this.file);
    if (text === undefined || text.trim() === "") return emptyLedger();
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      throw new Error(`the ownership ledger ${this.file} on ${this.host.description} is not valid JSON; move it aside only if no attachment is live`);
    }
    const parsed = ledgerSchema.safeParse(data);
    if (!parsed.success) {
      throw new Error(`the ownership ledger ${this.file} on ${this.host.description} has an unknown shape: ${parsed.error.issues[0]?.message}`);
    }
    return parsed.data;
  }

  /** Run `fn` holding the in-process queue and the host lock; save the ledger if it changed. */
  async transact<T>(fn: (tx: LedgerTransaction) => Promise<T>): Promise<T> {
    return serialize(`${this.host.description}\u0000${this.settings.stateDir}`, async () => {
      const unlock = await this.host.lock(path.join(this.settings.stateDir, LOCK_FILE), { timeoutMs: this.lockTimeoutMs });
      try {
        const ledger = await this.read();
        let saved = JSON.stringify(ledger);
        const tx: LedgerTransaction = {
          ledger,
          save: async () => {
            const text = JSON.stringify(ledger, null, 2);
            await this.host.writeFileAtomic(this.file, text + "\n");
            saved = JSON.stringify(ledger);
          },
        };
        try {
          return await fn(tx);
        } finally {
          // Also on failure: the ledger is changed only after the host changed, so it is the truth.
          if (JSON.stringify(ledger) !== saved) await tx.save();
        }
      } finally {
        await unlock();
      }
    });
  }
}
