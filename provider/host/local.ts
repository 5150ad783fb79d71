import { promises as fs } from "node:fs";
import * as path from "node:path";
import type { HostAccess, RunOptions, RunResult, Unlock } from "./access";

/** Default for {@link RunOptions.timeoutMs}. */
const DEFAULT_TIMEOUT_MS = 60_000;

/** The line we push through `flock … cat`: when it comes back, flock has the lock and has exec'd cat. */
const LOCK_PROBE = "locked\n";

type Execa = typeof import("execa", { with: { "resolution-mode": "import" } }).execa;
let execaPromise: Promise<Execa> | undefined;

/** execa 9 is ESM-only; module node16 keeps this a real dynamic import, so CommonJS can load it. */
function loadExeca(): Promise<Execa> {
  execaPromise ??= import("execa").then((m) => m.execa);
  return execaPromise;
}

function isErrno(err: unknown, code: string): boolean {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === code;
}

/** Thrown when {@link LocalHost.lock} could not take the lock in time. */
export class LockTimeoutError extends Error {
  constructor(readonly lockPath: string, readonly timeoutMs: number) {
    super(
      `could not take the lock ${lockPath} within ${timeoutMs} ms: another provider process holds it. ` +
        `Wait for it to finish, or find the holder with \`fuser ${lockPath}\`.`,
    );
    this.name = "LockTimeoutError";
  }
}

/**
 * The machine this process runs on. Commands run through execa with an argv array (never a shell),
 * files through node:fs, and the host-wide lock through flock(1) so the kernel drops it when we die.
 */
export class LocalHost implements HostAccess {
  readonly description = "local";

  async run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    if (argv.length === 0) throw new Error("run: argv is empty");
    const execa = await loadExeca();
    const result = await execa(argv[0], argv.slice(1), {
      reject: false,
      timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      env: options.env ? { ...options.env } : undefined,
      extendEnv: true,
      stdin: "ignore",
      stripFinalNewline: false,
      encoding: "utf8",
    });
    // execa reports a spawn failure through `code` on the result (reject: false keeps it a value).
    const notFound = (result as { code?: string }).code === "ENOENT";
    const killed = result.timedOut || result.signal !== undefined || result.exitCode === undefined;
    return {
      argv: [...argv],
      exitCode: killed || notFound ? -1 : (result.exitCode ?? -1),
      stdout: typeof result.stdout === "string" ? result.stdout : "",
      stderr: typeof result.stderr === "string" ? result.stderr : "",
      timedOut: result.timedOut,
      notFound,
    };
  }

  async readFile(file: string): Promise<string | undefined> {
    try {
      return await fs.readFile(file, "utf8");
    } catch (err) {
      if (isErrno(err, "ENOENT") || isErrno(err, "ENOTDIR")) return undefined;
      throw err;
    }
  }

  async readDir(dir: string): Promise<string[] | undefined> {
    try {
      return await fs.readdir(dir);
    } catch (err) {
      if (isErrno(err, "ENOENT") || isErrno(err, "ENOTDIR")) return undefined;
      throw err;
    }
  }

  async readLink(file: string): Promise<string | undefined> {
    try {
      return await fs.readlink(file);
    } catch (err) {
      if (isErrno(err, "ENOENT") || isErrno(err, "EINVAL") || isErrno(err, "ENOTDIR")) return undefined;
      throw err;
    }
  }

  async writeFileAtomic(file: string, data: string): Promise<void> {
    const dir = path.dirname(file);
    await fs.mkdir(dir, { recursive: true });
    // Same directory, so the rename is atomic (one filesystem); unique name, so parallel writers don't clash.
    const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
    const handle = await fs.open(tmp, "w", 0o600);
    try {
      await handle.writeFile(data, "utf8");
      await handle.sync(); // the data must be on disk before the name points at it
    } finally {
      await handle.close();
    }
    try {
      await fs.rename(tmp, file);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
  }

  async lock(lockPath: string, options: { readonly timeoutMs?: number } = {}): Promise<Unlock> {
    await fs.mkdir(path.dirname(lockPath), { recursive: true });
    await (await fs.open(lockPath, "a", 0o600)).close();
    const execa = await loadExeca();
    // `cat` inherits flock's descriptor: the lock lives as long as cat, and cat lives as long as our
    // stdin pipe, which the kernel closes when this process dies. So a crash never leaves the host locked.
    const child = execa("flock", ["--exclusive", lockPath, "cat"], {
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
      buffer: false,
      reject: false,
      encoding: "utf8",
    });
    const held = new Promise<void>((resolve, reject) => {
      let seen = "";
      let errText = "";
      child.stderr?.on("data", (chunk: Buffer | string) => (errText += chunk.toString()));
      child.stdout?.on("data", (chunk: Buffer | string) => {
        seen += chunk.toString();
        if (seen.includes(LOCK_PROBE)) resolve();
      });
      void child.then((r) => {
        const code = (r as { code?: string }).code;
        const why = code === "ENOENT" ? "flock(1) from util-linux is not installed" : errText.trim() || `exit ${String(r.exitCode ?? r.signal)}`;
        reject(new Error(`could not lock ${lockPath}: ${why}`));
      });
    });
    child.stdin?.write(LOCK_PROBE);
    let timer: NodeJS.Timeout | undefined;
    const timeoutMs = options.timeoutMs;
    try {
      if (timeoutMs === undefined) {
        await held;
      } else {
        await Promise.race([
          held,
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new LockTimeoutError(lockPath, timeoutMs)), timeoutMs);
          }),
        ]);
      }
    } catch (err) {
      child.kill("SIGKILL");
      await child.catch(() => undefined);
      throw err;
    } finally {
      if (timer) clearTimeout(timer);
    }
    let released: Promise<void> | undefined;
    return () => {
      released ??= (async () => {
        child.stdin?.end(); // cat sees EOF and exits; flock then exits and the descriptor (the lock) goes
        await child.catch(() => undefined);
      })();
      return released;
    };
  }

  async close(): Promise<void> {
    // Nothing to release locally.
  }
}
