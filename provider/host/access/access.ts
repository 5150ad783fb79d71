import type { FileInfo, ReadOptions } from "./files";
import type { SshTarget } from "./ssh/target";

/**
 * The only door to a host. Every command the engine runs and every file it reads or writes on the host
 * goes through a HostAccess, so the same engine drives the local machine, a simulated host in tests, and
 * a remote host over SSH (ssh/ssh-host.ts). Nothing else in the code calls execa or touches /sys directly.
 */

/** Outcome of one command. A non-zero exit is not an exception: callers classify it. */
export interface RunResult {
  /** argv that ran (for messages; never contains secrets: we never pass secrets on a command line). */
  readonly argv: readonly string[];
  /** Process exit code; -1 when it was killed (timeout or signal) or could not start. */
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  /** True when the command was killed because it ran past `timeoutMs`. */
  readonly timedOut: boolean;
  /** True when the executable does not exist (ENOENT on spawn). */
  readonly notFound: boolean;
}

export interface RunOptions {
  /** Kill the command after this long (ms). Default 60 000. */
  readonly timeoutMs?: number;
  /** Extra environment variables. */
  readonly env?: Readonly<Record<string, string>>;
}

/** What {@link HostAccess.deleteController} did. */
export type DeleteOutcome =
  /** The controller that was the pinned object is gone: we deleted it. */
  | { readonly deleted: true }
  /** Nothing was deleted: the name is missing, shows another controller, or the object went before our write (ENODEV). */
  | { readonly deleted: false; readonly why: string };

/**
 * The text of an attribute as {@link HostAccess.deleteController} compares it: trimmed, and for `address`
 * without the kernel's `,src_addr=…` (present only while live, so not part of what the controller is).
 * The SSH script (ssh/ssh-host.ts) applies the same rule in sh.
 */
export function pinnedText(attribute: string, text: string): string {
  const t = text.trim();
  return attribute === "address" ? t.replace(/,src_addr=.*$/, "") : t;
}

/** Releases a lock taken with {@link HostAccess.lock}. Idempotent. */
export interface Unlock {
  (): Promise<void>;
  /**
   * Why the lock is no longer held although we did not release it (its holder ended: over SSH, the
   * connection dropped and the host released it), or undefined while it is held. Check before each write.
   */
  readonly lost: () => Error | undefined;
}

export interface HostAccess {
  /** Where this host is, for messages: `local`, `ssh root@host-a`, `simulated /tmp/x`. */
  readonly description: string;
  /** Run argv[0] with argv[1..] as arguments. Never through a shell. */
  run(argv: readonly string[], options?: RunOptions): Promise<RunResult>;
  /**
   * Whole file as UTF-8, or undefined when it does not exist. Refuses anything but a regular file of at
   * most {@link MAX_FILE_BYTES} bytes, and with `noFollow` a symbolic link at the path (files.ts).
   */
  readFile(path: string, options?: ReadOptions): Promise<string | undefined>;
  /** What is at the path (lstat: a link is not followed) and who we act as, or undefined when nothing is. */
  inspect(path: string): Promise<FileInfo | undefined>;
  /** Entry names of a directory, or undefined when it does not exist. */
  readDir(path: string): Promise<string[] | undefined>;
  /** Target of a symbolic link, or undefined when it is not one or does not exist. */
  readLink(path: string): Promise<string | undefined>;
  /**
   * Inode number (decimal text: sysfs's are 64-bit) of what `path` leads to, or undefined when it does not
   * exist. On sysfs it names one kernel object for the life of the boot: kernfs does not hand it out again.
   */
  inode(path: string): Promise<string | undefined>;
  /** Write a file atomically (temp file + rename), creating missing parent directories private (0700). */
  writeFileAtomic(path: string, data: string): Promise<void>;
  /**
   * Take a host-wide exclusive lock on `path` (a regular file on the host, never a symbolic link; created
   * when missing, in private directories). Held until the
   * returned function is called or the process dies (the kernel drops it: flock semantics), so a crashed
   * provider never leaves the host locked.
   */
  lock(path: string, options?: { readonly timeoutMs?: number }): Promise<Unlock>;
  /**
   * Delete the fabrics controller whose sysfs directory is `dir` (`…/class/nvme/nvmeN`) if, and only if,
   * it is the object described by `expect` (attribute name -> text, compared by {@link pinnedText}):
   * open `delete_controller` first, then read and compare the attributes, then write `1` through the
   * descriptor already open. The kernel answers a write to a controller that went since with ENODEV,
   * so a controller that took the name meanwhile is never touched. With `inode`, the opened
   * `delete_controller` must be that inode (see {@link inode}): a look-alike with equal attributes is
   * another object. Returns once the object is gone; throws when it is still there after `goneTimeoutMs`
   * (default 30 000).
   */
  deleteController(
    dir: string,
    expect: Readonly<Record<string, string>>,
    options?: { readonly goneTimeoutMs?: number; readonly inode?: string },
  ): Promise<DeleteOutcome>;
  /**
   * Try an exclusive open (O_EXCL) of the block device node `device` and close it at once: `busy` when
   * the kernel refuses it (EBUSY), `free`, or `unknown` when it cannot be tried (no such node, not a
   * block device, no permission, or an access that cannot do it: SSH has no tool for it in sh).
   */
  probeExclusive(device: string): Promise<"free" | "busy" | "unknown">;
  /** Release connections this access holds (SSH); a no-op locally. */
  close(): Promise<void>;
}

/** Where things are on a host. Tests and the demo point these at a simulated host. */
export interface HostSettings {
  /** nvme-cli executable. Default `nvme` (found on PATH). */
  readonly nvmeCli: string;
  /** Root of sysfs. Default `/sys`. */
  readonly sysfsRoot: string;
  /** Ledger and lock directory. Default `/run/pulumi-powerflex-nvme` (gone at reboot, like controllers). */
  readonly stateDir: string;
  /** Where `hostnqn` and `hostid` live. Default `/etc/nvme`. */
  readonly etcNvmeDir: string;
  /** The mount table, for the in-use guard. Default `/proc/self/mounts`. */
  readonly mountsFile: string;
  /** A remote host reached over SSH (the paths above are on that host); absent: this machine. */
  readonly ssh?: SshTarget;
}

export const defaultHostSettings: HostSettings = {
  nvmeCli: "nvme",
  sysfsRoot: "/sys",
  stateDir: "/run/pulumi-powerflex-nvme",
  etcNvmeDir: "/etc/nvme",
  mountsFile: "/proc/self/mounts",
};

/** Fill unset settings with the defaults. */
export function hostSettings(partial: Partial<HostSettings> = {}): HostSettings {
  const out: Record<string, unknown> = { ...defaultHostSettings };
  for (const [k, v] of Object.entries(partial)) if (v !== undefined) out[k] = v;
  return out as unknown as HostSettings;
}
