import { constants as C, promises as fs } from "node:fs";
import * as path from "node:path";
import { pinnedText, type DeleteOutcome, type HostAccess, type RunOptions, type RunResult, type Unlock } from "./access";
import { kindOfMode, MAX_FILE_BYTES, notRegular, symlinkRefused, tooLarge, type FileInfo, type ReadOptions } from "./files";
import { childEnv } from "./child-env";
import { holdFlock, loadExeca } from "./flock";

export { LockTimeoutError } from "./flock";

/** Default for {@link RunOptions.timeoutMs}. */
const DEFAULT_TIMEOUT_MS = 60_000;

function isErrno(err: unknown, code: string): boolean {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === code;
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
      env: childEnv(options.env),
      extendEnv: false,
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

  async readFile(file: string, options: ReadOptions = {}): Promise<string | undefined> {
    let handle: fs.FileHandle;
    try {
      // O_NONBLOCK: opening a FIFO must not wait for a writer; fstat below refuses it.
      handle = await fs.open(file, C.O_RDONLY | C.O_NONBLOCK | (options.noFollow ? C.O_NOFOLLOW : 0));
    } catch (err) {
      if (isErrno(err, "ENOENT") || isErrno(err, "ENOTDIR")) return undefined;
      if (options.noFollow && isErrno(err, "ELOOP")) throw symlinkRefused(file);
      throw err;
    }
    try {
      const st = await handle.stat();
      if (!st.isFile()) throw notRegular(file, kindOfMode(st.mode));
      // procfs reports size 0, so the bound is on what we read, not on st.size. sysfs reports a page for
      // a few bytes of text: a chunk of the reported size (4 KiB when none) keeps each of the thousands of
      // attribute reads of a scan from allocating and zeroing far more than it reads.
      const size = st.size > 0 ? Math.min(st.size + 1, MAX_FILE_BYTES + 1) : 4096;
      const chunks: Buffer[] = [];
      let total = 0;
      for (;;) {
        const chunk = Buffer.allocUnsafe(size); // only the bytes read are kept
        const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
        if (bytesRead === 0) break;
        total += bytesRead;
        if (total > MAX_FILE_BYTES) throw tooLarge(file);
        chunks.push(chunk.subarray(0, bytesRead));
        // Less than a file with a size asked for is its end (sysfs hands an attribute over in one read):
        // spare the read that would return 0. procfs shows no size, so it is read until 0.
        if (st.size > 0 && bytesRead < size) break;
      }
      return Buffer.concat(chunks).toString("utf8");
    } finally {
      await handle.close();
    }
  }

  async inspect(file: string): Promise<FileInfo | undefined> {
    try {
      const st = await fs.lstat(file);
      return { kind: kindOfMode(st.mode), uid: st.uid, mode: st.mode & 0o7777, actorUid: process.geteuid?.() ?? st.uid };
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
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    // Same directory, so the rename is atomic (one filesystem); unique name, so parallel writers don't clash.
    const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
    // O_EXCL|O_NOFOLLOW: a name planted in advance is never written through.
    const handle = await fs.open(tmp, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
    try {
      try {
        await handle.writeFile(data, "utf8");
        await handle.sync(); // the data must be on disk before the name points at it
      } finally {
        await handle.close();
      }
      await fs.rename(tmp, file);
    } catch (err) {
      // Any failure (a full disk most often): no half-written temporary file stays behind.
      await fs.rm(tmp, { force: true });
      throw err;
    }
    // The rename itself is durable only once the directory is on disk.
    const dirHandle = await fs.open(dir, C.O_RDONLY | C.O_DIRECTORY);
    try {
      await dirHandle.sync();
    } finally {
      await dirHandle.close();
    }
  }

  async lock(lockPath: string, options: { readonly timeoutMs?: number } = {}): Promise<Unlock> {
    await fs.mkdir(path.dirname(lockPath), { recursive: true, mode: 0o700 });
    // flock(1) opens the path itself; first make sure it is our regular file, not a planted link or FIFO.
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(lockPath, C.O_RDONLY | C.O_CREAT | C.O_NOFOLLOW | C.O_NONBLOCK, 0o600);
    } catch (err) {
      if (isErrno(err, "ELOOP")) throw symlinkRefused(lockPath);
      throw err;
    }
    try {
      const st = await handle.stat();
      if (!st.isFile()) throw notRegular(lockPath, kindOfMode(st.mode));
    } finally {
      await handle.close();
    }
    return holdFlock("flock", ["--exclusive", lockPath, "cat"], lockPath, {
      timeoutMs: options.timeoutMs,
      env: childEnv(),
      whyFailed: (r, errText) => (r.code === "ENOENT" ? "flock(1) from util-linux is not installed" : errText.trim() || `exit ${String(r.exitCode ?? r.signal)}`),
    });
  }

  async inode(file: string): Promise<string | undefined> {
    try {
      return (await fs.stat(file, { bigint: true })).ino.toString();
    } catch (err) {
      if (isErrno(err, "ENOENT") || isErrno(err, "ENOTDIR")) return undefined;
      throw err;
    }
  }

  async deleteController(
    dir: string,
    expect: Readonly<Record<string, string>>,
    options: { readonly goneTimeoutMs?: number; readonly inode?: string } = {},
  ): Promise<DeleteOutcome> {
    const file = path.join(dir, "delete_controller");
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(file, C.O_WRONLY);
    } catch (err) {
      if (isErrno(err, "ENOENT") || isErrno(err, "ENOTDIR")) return { deleted: false, why: `${path.basename(dir)} does not exist` };
      throw err;
    }
    let pinned: string;
    try {
      pinned = (await handle.stat({ bigint: true })).ino.toString();
      if (options.inode !== undefined && pinned !== options.inode) return { deleted: false, why: `${path.basename(dir)} is another controller now (another kernel object)` };
      for (const [attribute, want] of Object.entries(expect)) {
        const text = await this.readFile(path.join(dir, attribute));
        if (text === undefined) return { deleted: false, why: `${path.basename(dir)} went while we looked` };
        const seen = pinnedText(attribute, text);
        if (seen !== want) return { deleted: false, why: `${path.basename(dir)} is another controller now (its ${attribute} is "${seen}", ours was "${want}")` };
      }
      // The reads went by name: they were of the pinned object only if the name still leads to it.
      if ((await this.inode(file)) !== pinned) return { deleted: false, why: `${path.basename(dir)} is another controller now` };
      try {
        await handle.write("1");
      } catch (err) {
        if (isErrno(err, "ENODEV")) return { deleted: false, why: `${path.basename(dir)} went before our write` };
        throw err;
      }
    } finally {
      await handle.close();
    }
    // The kernel deletes before the write returns; a simulated kernel may take a moment.
    const deadline = Date.now() + (options.goneTimeoutMs ?? 30_000);
    while ((await this.inode(file)) === pinned) {
      if (Date.now() >= deadline) {
        const state = (await this.readFile(path.join(dir, "state")))?.trim() ?? "unknown";
        throw new Error(`controller ${path.basename(dir)} is still present (state ${state}) after we wrote to its delete_controller; the kernel may still be deleting it. Check \`cat ${dir}/state\` and dmesg, then retry the destroy.`);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    return { deleted: true };
  }

  async probeExclusive(device: string): Promise<"free" | "busy" | "unknown"> {
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(device, C.O_RDONLY | C.O_EXCL | C.O_NONBLOCK);
    } catch (err) {
      return isErrno(err, "EBUSY") ? "busy" : "unknown";
    }
    try {
      // O_EXCL means "exclusive" only on a block device; on anything else it proved nothing.
      return (await handle.stat()).isBlockDevice() ? "free" : "unknown";
    } finally {
      await handle.close();
    }
  }

  async close(): Promise<void> {
    // Nothing to release locally.
  }
}
