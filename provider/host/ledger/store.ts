import { createHash } from "node:crypto";
import * as path from "node:path/posix";
import type { HostAccess, HostSettings } from "../access/access";
import { UnexpectedFileError } from "../access/files";
import { stamp, tooNew } from "./format";
import { dirKey, homeOf, POINTER_FILE } from "./home";
import { lockLingering } from "./linger";
import { unsafeStateEntry } from "./safety";
import { emptyLedger, ledgerSchema, type Ledger } from "./records";

/** The ledger file and its lock inside the state dir. */
export const LEDGER_FILE = "ledger.json";
export const LOCK_FILE = "lock";

/**
 * The ledger file exists but cannot be trusted as the truth. Taking it as "nothing held" would make every
 * destroy keep its controllers and the next attach adopt them as external, so nothing acts on it.
 */
export class LedgerRefusedError extends Error {
  constructor(readonly file: string, readonly where: string, readonly reason: string, advice: string) {
    super(`refusing the ownership ledger ${file} on ${where}: ${reason}. ${advice}`);
    this.name = "LedgerRefusedError";
  }
}

/** The ledger could not be written (a full disk most often): says which file, where, and what to do. */
export class LedgerWriteError extends Error {
  constructor(readonly file: string, readonly where: string, cause: unknown) {
    const code = (cause as { code?: unknown }).code;
    const advice =
      code === "ENOSPC" || code === "EDQUOT" || /no space left|quota/i.test(String((cause as Error).message))
        ? `The filesystem of ${path.dirname(file)} is full: free space there (\`df ${path.dirname(file)}\`), then run again`
        : `Check that ${path.dirname(file)} is writable and its filesystem healthy, then run again`;
    super(`could not write the ownership ledger ${file} on ${where}: ${(cause as Error).message}. ${advice}`, { cause });
    this.name = "LedgerWriteError";
  }
}

/** What to do about a ledger whose content is lost: only the operator knows whether anything is held. */
const LOST =
  "The provider will not guess what it holds. Check the host with `powerflex-nvme status`: if no attachment " +
  "of this host is live, remove the file; otherwise restore it from a backup or write it again from the " +
  "Pulumi states of the attachments (their paths), then run again";

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

/** What a ledger holds, in words, or undefined when nothing. */
function holdings(ledger: Ledger): string | undefined {
  const counts = [
    [Object.keys(ledger.paths).length, "path"],
    [Object.keys(ledger.volumes).length, "volume mapping"],
    [Object.keys(ledger.hosts).length, "registered host object"],
  ] as const;
  const parts = counts.filter(([n]) => n > 0).map(([n, what]) => `${n} ${what}${n > 1 ? "s" : ""}`);
  return parts.length > 0 ? parts.join(", ") : undefined;
}

/**
 * Object locks are striped over a fixed set of files: a file per object was never removed (unlinking a
 * lock file safely needs an inode check flock(1) cannot make), so they piled up. Two objects may share a
 * stripe and then wait for each other, which is safe: no one holds two object locks at once.
 */
export const OBJECT_LOCK_STRIPES = 16;

export function objectLockFile(name: string): string {
  const stripe = createHash("sha256").update(name).digest()[0] % OBJECT_LOCK_STRIPES;
  return `object-${stripe.toString(16)}.lock`;
}

export class LedgerStore {
  constructor(
    private readonly host: HostAccess,
    private readonly settings: HostSettings,
    private readonly lockTimeoutMs = 120_000,
  ) {}

  /** The host's fixed place (home.ts): the lock is always here, and the pointer to a state dir elsewhere. */
  get home(): string {
    return homeOf(this.settings);
  }

  get file(): string {
    return path.join(this.settings.stateDir, LEDGER_FILE);
  }

  get lockFile(): string {
    return path.join(this.home, LOCK_FILE);
  }

  private get pointerFile(): string {
    return path.join(this.home, POINTER_FILE);
  }

  /** Refuse a state dir, ledger, lock or pointer that someone else could have written or planted. */
  private async checkSafe(): Promise<void> {
    const entries: [Parameters<typeof unsafeStateEntry>[0], string][] = [
      ["state dir", this.settings.stateDir],
      ["ledger", this.file],
      ["state dir", this.home],
      ["lock file", this.lockFile],
      ["pointer", this.pointerFile],
    ];
    const infos = await Promise.all(entries.map(([, p]) => this.host.inspect(p)));
    entries.forEach(([what, p], i) => {
      const unsafe = unsafeStateEntry(what, p, infos[i]);
      if (unsafe) throw new LedgerRefusedError(this.file, this.host.description, unsafe.reason, unsafe.fix);
    });
  }

  /** Read the ledger without the lock (status, refresh): a consistent snapshot thanks to atomic writes. */
  async read(): Promise<Ledger> {
    await this.checkSafe();
    await this.checkHome(false);
    return this.parse(this.file);
  }

  /**
   * Whether our state dir is the host's one ledger location. With `claim` (under the host lock), make it
   * so when the location named so far holds nothing (a first use, or the operator moved the file).
   */
  private async checkHome(claim: boolean): Promise<void> {
    const mine = dirKey(this.settings.stateDir);
    const text = await this.host.readFile(this.pointerFile, { noFollow: true }).catch((err: unknown) => {
      if (!(err instanceof UnexpectedFileError)) throw err;
      throw new LedgerRefusedError(this.file, this.host.description, err.message, `Remove ${this.pointerFile}; the next run writes it again`);
    });
    const named = text?.trim();
    if (named !== undefined && !path.isAbsolute(named)) {
      throw new LedgerRefusedError(this.file, this.host.description, `${this.pointerFile} does not name an absolute directory`, `Remove it; the next run writes it again`);
    }
    const current = dirKey(named ?? this.home);
    if (current === mine) return;
    const held = holdings(await this.parse(path.join(current, LEDGER_FILE)));
    if (held) {
      throw new LedgerRefusedError(
        this.file,
        this.host.description,
        `this host's ledger is ${path.join(current, LEDGER_FILE)}${named !== undefined ? ` (named by ${this.pointerFile})` : " (its fixed place)"}, which holds ${held}; every attachment of a host uses that one ledger, or one destroy cuts another's paths`,
        `Set hostAccess.stateDir to ${current}. To move the ledger instead: with nothing running for this host, move ${path.join(current, LEDGER_FILE)} to ${this.file} and run again (an attachment whose state names the old directory moves with \`pulumi up\`, before its destroy). Nothing was changed`,
      );
    }
    if (claim) await this.host.writeFileAtomic(this.pointerFile, mine + "\n");
  }

  /** The ledger in `file`: empty when the file is missing; anything unreadable is refused. */
  private async parse(file: string): Promise<Ledger> {
    // Not through a link, only a regular file, bounded: a FIFO or /dev/zero here would hang us under the lock.
    const text = await this.host.readFile(file, { noFollow: true }).catch((err: unknown) => {
      if (!(err instanceof UnexpectedFileError)) throw err;
      throw new LedgerRefusedError(file, this.host.description, err.message, "Move it aside and restore the ledger (see `powerflex-nvme status`)");
    });
    // Only a missing file is a new ledger: we never write an empty one (atomic rename of a full file).
    if (text === undefined) return emptyLedger();
    const refuse = (reason: string, advice = LOST) => new LedgerRefusedError(file, this.host.description, reason, advice);
    if (text.trim() === "") throw refuse(text === "" ? "it is empty (0 bytes)" : "it holds only whitespace");
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      throw refuse("it is not valid JSON");
    }
    const parsed = ledgerSchema.safeParse(data);
    if (!parsed.success) throw refuse(`it has an unknown shape (${parsed.error.issues[0]?.message})`);
    // Also for reads: a decision (unmap, remove a host object) taken on fields we do not know is no safer.
    const newer = tooNew(parsed.data);
    if (newer) throw refuse(newer, "Upgrade pulumi-powerflex-nvme in every stack and on every machine that manages this host");
    return parsed.data;
  }

  /**
   * Run `fn` holding a host-wide lock of one object (e.g. a volume mapping), not the ledger's: slow work on
   * it (a PowerFlex call) is ordered against other work on the same object while the ledger stays free.
   * Its ledger changes go through {@link transact} inside `fn`.
   */
  async withObjectLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const file = path.join(this.home, objectLockFile(name));
    return serialize(`${this.host.description}\u0000${file}`, async () => {
      await this.checkSafe();
      const unlock = await this.host.lock(file, { timeoutMs: this.lockTimeoutMs });
      try {
        return await fn();
      } finally {
        await unlock();
      }
    });
  }

  /** Run `fn` holding the in-process queue and the host lock; save the ledger if it changed. */
  async transact<T>(fn: (tx: LedgerTransaction) => Promise<T>): Promise<T> {
    // Keyed by the home: every state dir of one host queues on the one host lock.
    return serialize(`${this.host.description}\u0000${this.home}`, async () => {
      await this.checkSafe(); // before creating anything in the dirs
      const unlock = await lockLingering(this.host, this.lockFile, this.lockTimeoutMs);
      try {
        await this.checkHome(true);
        const ledger = await this.parse(this.file);
        let saved = JSON.stringify(ledger);
        let generation = ledger.generation ?? 0;
        const tx: LedgerTransaction = {
          ledger,
          save: async () => {
            const lost = unlock.lost();
            if (lost) throw lost;
            // Behind the lock, a second guard: a write since ours means the lock was not ours (lost unnoticed).
            const onDisk = (await this.parse(this.file)).generation ?? 0;
            if (onDisk !== generation) {
              throw new LedgerRefusedError(
                this.file,
                this.host.description,
                `it changed under our host lock (generation ${onDisk}; we read ${generation}): another process wrote it, so the lock was not ours`,
                "This operation wrote nothing more; run it again",
              );
            }
            stamp(ledger);
            ledger.generation = generation + 1;
            const text = JSON.stringify(ledger, null, 2);
            await this.host.writeFileAtomic(this.file, text + "\n").catch((err: unknown) => {
              // A lost connection says what to do itself; the file's own failures get the file's advice.
              if ((err as Error).name === "SshError") throw err;
              throw new LedgerWriteError(this.file, this.host.description, err);
            });
            generation += 1;
            saved = JSON.stringify(ledger);
          },
        };
        let result: T;
        try {
          result = await fn(tx);
        } catch (err) {
          // Also on failure: the ledger is changed only after the host changed, so it is the truth. When it
          // cannot be written either, the first error is the one to see; the write's is added to it.
          if (JSON.stringify(ledger) !== saved) {
            await tx.save().catch((saveErr: unknown) => {
              if (err instanceof Error) err.message += ` (and then: ${(saveErr as Error).message})`;
            });
          }
          throw err;
        }
        if (JSON.stringify(ledger) !== saved) await tx.save();
        return result;
      } finally {
        await unlock();
      }
    });
  }
}
