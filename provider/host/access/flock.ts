import type { Unlock } from "./access";

type Execa = typeof import("execa", { with: { "resolution-mode": "import" } }).execa;
let execaPromise: Promise<Execa> | undefined;

/** execa 9 is ESM-only; module node16 keeps this a real dynamic import, so CommonJS can load it. */
export function loadExeca(): Promise<Execa> {
  execaPromise ??= import("execa").then((m) => m.execa);
  return execaPromise;
}

/** The line we push through `flock … cat`: when it comes back, flock has the lock and has exec'd cat. */
const LOCK_PROBE = "locked\n";

/** The host lock went while we held it (its holder process ended): nothing more may be written under it. */
export class LockLostError extends Error {
  constructor(readonly lockPath: string, why: string) {
    super(`lost the host lock ${lockPath} while holding it (${why}): another process may hold it now, so this operation stops without writing more. Run it again`);
    this.name = "LockLostError";
  }
}

/** Thrown when a host lock could not be taken in time. */
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
 * Hold a lock through a child that ends in `flock <path> cat` (locally, or on a remote host through ssh).
 * `cat` inherits flock's descriptor: the lock lives as long as cat, and cat as long as its stdin, which
 * closes when we release, when this process dies, or when the ssh connection drops. So a crash or a lost
 * connection never leaves the host locked.
 */
export async function holdFlock(
  file: string,
  args: readonly string[],
  lockPath: string,
  options: {
    readonly timeoutMs?: number;
    /** The child's whole environment (child-env.ts): never the provider's. */
    readonly env: Readonly<Record<string, string>>;
    readonly whyFailed: (r: { code?: string; exitCode?: number; signal?: string }, stderr: string) => string | Error;
  },
): Promise<Unlock> {
  const execa = await loadExeca();
  const child = execa(file, [...args], { stdin: "pipe", stdout: "pipe", stderr: "pipe", buffer: false, reject: false, encoding: "utf8", env: options.env, extendEnv: false });
  const held = new Promise<void>((resolve, reject) => {
    let seen = "";
    let errText = "";
    child.stderr?.on("data", (chunk: Buffer | string) => (errText += chunk.toString()));
    child.stdout?.on("data", (chunk: Buffer | string) => {
      seen += chunk.toString();
      if (seen.includes(LOCK_PROBE)) resolve();
    });
    void child.then((r) => {
      const why = options.whyFailed(r as { code?: string; exitCode?: number; signal?: string }, errText);
      reject(why instanceof Error ? why : new Error(`could not lock ${lockPath}: ${why}`));
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
    // Through ssh, the shared connection may hold the pipes a while longer: do not wait on it for long.
    await Promise.race([child.catch(() => undefined), new Promise((r) => setTimeout(r, 2000).unref())]);
    throw err;
  } finally {
    if (timer) clearTimeout(timer);
  }
  let released: Promise<void> | undefined;
  let lost: Error | undefined;
  void child.then((r) => {
    if (!released) lost = new LockLostError(lockPath, `its holder ended: exit ${String((r as { exitCode?: number }).exitCode ?? (r as { signal?: string }).signal)}`);
  });
  const unlock = () => {
    released ??= (async () => {
      child.stdin?.end(); // cat sees EOF and exits; flock then exits and the descriptor (the lock) goes
      await child.catch(() => undefined);
    })();
    return released;
  };
  return Object.assign(unlock, { lost: () => lost });
}
