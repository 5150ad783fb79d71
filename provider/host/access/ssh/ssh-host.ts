import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import type { DeleteOutcome, HostAccess, RunOptions, RunResult, Unlock } from "../access";
import { kindOfMode, MAX_FILE_BYTES, notRegular, symlinkRefused, tooLarge, UnexpectedFileError, type FileInfo, type FileKind, type ReadOptions } from "../files";
import { childEnv } from "../child-env";
import { holdFlock, loadExeca, LockTimeoutError } from "../flock";
import { classifyConnectFailure, connectionLost, hostKeyMismatch, SshError, sudoFailure } from "./errors";
import { hostKeyAlgorithms, parseHostKey, parseKeyscan } from "./host-key";
import { commandLine } from "./quote";
import { describeTarget, type SshCredentials, type SshTarget } from "./target";

/** Bounds of the transport; tests shorten them. */
export interface SshTuning {
  /** TCP connect + SSH handshake (s). Default 10. */
  readonly connectTimeoutS?: number;
  /** Keep-alive probe interval (s); three unanswered probes drop the connection. Default 5. */
  readonly aliveIntervalS?: number;
  /** The shared connection closes after this long unused (s): a crashed provider leaves nothing behind for longer. Default 30. */
  readonly idleS?: number;
  /** Default timeout of file operations (ms). Default 60 000. */
  readonly fileTimeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 60_000;
/** The remote wrapper's last stderr line: the command's exit status. Without it, the command did not finish. */
const EXIT_MARK = "pfnvme-exit:";
const EXIT_LINE = new RegExp(`\\n${EXIT_MARK}(\\d+)\\n$`);
/** Every known_hosts line we write names the host by this alias, so no host/port quoting is involved. */
const ALIAS = "pfnvme-target";
/** Reads sent in one round trip at most (keeps the remote command line short). */
const BATCH_MAX = 200;

/** The status marker after `call`: a missing marker means the command did not finish. */
function withStatus(call: string): string {
  return `${call}\nprintf '\\n${EXIT_MARK}%d\\n' "$s" >&2\n`;
}

/** A shell function body run with the arguments as "$@". */
function script(body: string): string {
  return withStatus(`op() {\n${body}\n}\nop "$@"; s=$?`);
}

/**
 * Any command ("$@"), killed on the host when our stdin closes (we timed out, died, or the connection
 * dropped), so nothing keeps running there after we stopped waiting for it. Background jobs get
 * /dev/null as stdin, hence the copy on descriptor 3 for the watcher.
 */
const RUN = withStatus(
  `exec 3<&0\n"$@" </dev/null 3<&- &\nc=$!\n(cat <&3 >/dev/null 2>&1; kill -TERM "$c" 2>/dev/null) >/dev/null 2>&1 &\nw=$!\nexec 3<&-\nwait "$c"; s=$?\nkill "$w" 2>/dev/null`,
);

/**
 * Batched reads: one line per request, `y:<base64>` (found), `n:` (missing), `e:<base64 message>`, or a
 * refusal: `L:` (a symbolic link where op F asked not to follow), `T:<stat %F>` (not a regular file).
 * `head -c` bounds what we take; the caller refuses more than the bound. `s` is lstat plus who we are.
 */
const READS = script(`max=$1; shift
while [ $# -gt 1 ]; do
  o=$1; p=$2; shift 2
  case $o in
    f|F) if [ ! -e "$p" ] && [ ! -L "$p" ]; then echo n:; elif [ "$o" = F ] && [ -L "$p" ]; then echo L:; elif [ ! -f "$p" ]; then if [ -e "$p" ]; then echo "T:$(stat -L -c %F -- "$p" | base64 -w0)"; else echo n:; fi; elif [ ! -r "$p" ]; then echo "e:$(printf 'Permission denied' | base64 -w0)"; else echo "y:$(head -c "$max" -- "$p" | base64 -w0)"; fi ;;
    d) if [ ! -d "$p" ]; then echo n:; else echo "y:$(cd -- "$p" && for f in * .*; do case $f in .|..) continue;; esac; if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\\0' "$f"; fi; done | base64 -w0)"; fi ;;
    l) if [ ! -L "$p" ]; then echo n:; else echo "y:$(printf %s "$(readlink -- "$p")" | base64 -w0)"; fi ;;
    s) if [ ! -e "$p" ] && [ ! -L "$p" ]; then echo n:; else echo "y:$(printf '%s %s' "$(stat -c '%f %u' -- "$p")" "$(id -u)" | base64 -w0)"; fi ;;
    i) if ! v=$(stat -Lc %i -- "$p" 2>/dev/null); then echo n:; else echo "y:$(printf %s "$v" | base64 -w0)"; fi ;;
  esac
done`);

/** Private new directories; noclobber (O_EXCL) so a name planted in advance is not written through; the directory synced after the rename. */
const WRITE = script(`(umask 077 && mkdir -p -- "$1") && (umask 077 && set -C && cat > "$2") && {
  [ "$(wc -c < "$2")" -eq "$4" ] && [ "$(sha256sum < "$2" | cut -d ' ' -f 1)" = "$5" ] || { echo "what arrived is not what was sent (size or SHA-256 differs); not renamed" >&2; false; }
} && { sync -- "$2" 2>/dev/null || sync; } && mv -f -- "$2" "$3" && { sync -- "$1" 2>/dev/null || sync; } || { rm -f -- "$2"; return 1; }`);

/** Fails with 97 when flock is missing: the one tool beyond nvme-cli and coreutils the host needs. */
const PROBE = script(`command -v flock >/dev/null 2>&1 || { echo "flock (util-linux) is not installed on the host" >&2; return 97; }
command -v base64 >/dev/null 2>&1 || { echo "base64 (coreutils) is not installed on the host" >&2; return 97; }
command -v sha256sum >/dev/null 2>&1 || { echo "sha256sum (coreutils) is not installed on the host" >&2; return 97; }`);

/**
 * HostAccess.deleteController in sh, in the same order as LocalHost: open delete_controller on descriptor 3
 * (the pin; the inode the name led to just before and just after the open is the one opened, as objects
 * never come back, and needs no /dev/fd), compare the attributes ("$@" pairs; `address` without
 * `,src_addr=…`, as pinnedText), check that the name still leads to the pinned inode, write through
 * descriptor 3 (ENODEV: the object went), wait until it is gone ($2 polls of 50 ms). One line out:
 * `deleted`, `gone <why>` or `stuck <state>`.
 */
const DELETE = script(`d=$1; n=$2; want_ino=$3; shift 3; f=$d/delete_controller; c=\${d##*/}
ino=$(stat -Lc %i -- "$f" 2>/dev/null) || { echo "gone $c does not exist"; return 0; }
[ -z "$want_ino" ] || [ "$ino" = "$want_ino" ] || { echo "gone $c is another controller now (another kernel object)"; return 0; }
command exec 3>"$f" || { echo "gone $c does not exist"; return 0; }
[ "$(stat -Lc %i -- "$f" 2>/dev/null)" = "$ino" ] || { echo "gone $c is another controller now"; return 0; }
while [ $# -gt 1 ]; do
  a=$1; want=$2; shift 2
  v=$(cat -- "$d/$a" 2>/dev/null) || { echo "gone $c went while we looked"; return 0; }
  [ "$a" = address ] && v=\${v%%,src_addr=*}
  [ "$v" = "$want" ] || { echo "gone $c is another controller now (its $a is \"$v\", ours was \"$want\")"; return 0; }
done
[ "$(stat -Lc %i -- "$f" 2>/dev/null)" = "$ino" ] || { echo "gone $c is another controller now"; return 0; }
printf 1 >&3 2>/dev/null || { echo "gone $c went before our write"; return 0; }
exec 3>&-
i=0
while [ "$(stat -Lc %i -- "$f" 2>/dev/null)" = "$ino" ]; do
  i=$((i+1)); [ $i -gt "$n" ] && { echo "stuck $(cat -- "$d/state" 2>/dev/null)"; return 0; }
  sleep 0.05
done
echo deleted`);

/** flock gives up by itself (exit 75) after $3 seconds: a waiter blocked on the host does not read stdin, so it would not notice that we left. */
const LOCK = `(umask 077 && mkdir -p -- "$1") || exit 1
if [ -L "$2" ]; then echo "cannot use $2: it is a symbolic link, which is never followed here; remove the link" >&2; exit 96; fi
if [ -e "$2" ] && [ ! -f "$2" ]; then echo "cannot use $2: it is not a regular file; refusing to lock it" >&2; exit 96; fi
exec flock --exclusive --timeout "$3" --conflict-exit-code 75 "$2" cat`;

/** `stat -c %F` (GNU coreutils) -> our kind, for the message. */
const KIND_OF_STAT: Record<string, FileKind> = {
  directory: "directory", fifo: "fifo", socket: "socket", "character special file": "char-device", "block special file": "block-device",
};

/**
 * A command rides the shared connection or fails: without a master, ssh would quietly open a connection of
 * its own (through the agent it can log in), and a write meant to be under the host lock would run without it.
 */
const MUX_ONLY = ["-o", "ControlMaster=no", "-o", "ProxyCommand=false"];

type ReadOp = "f" | "F" | "d" | "l" | "s" | "i";
interface ReadRequest {
  readonly op: ReadOp;
  readonly path: string;
  resolve(v: string | undefined): void;
  reject(e: Error): void;
}

/** Live hosts, closed when the process ends or is stopped by a signal (the shared connection also closes itself when idle). */
const live = new Set<SshHost>();
let exitHook = false;

function closeAll(): void {
  for (const h of live) h.closeSync();
}

/** Signals that end a provider by default: without this, /tmp/pfssh-* (and a key mid-handshake) and the master stayed. */
const CLEANUP_SIGNALS: readonly NodeJS.Signals[] = ["SIGTERM", "SIGINT", "SIGHUP"];

/** Clean up, then let the signal do what it would have done (unless someone else handles it). */
function onFatalSignal(signal: NodeJS.Signals): void {
  closeAll();
  for (const s of CLEANUP_SIGNALS) process.off(s, onFatalSignal);
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

/** Whether a Unix socket accepts a connection now. */
function accepts(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.createConnection(socket);
    c.once("connect", () => {
      c.destroy();
      resolve(true);
    });
    c.once("error", () => resolve(false));
  });
}

/**
 * `ssh-agent -D` on a socket in our private work dir, given the key on stdin (`ssh-add -`), so the key is
 * never in a file. Stopped once the master has logged in; a signal's cleanup removes the dir with its socket.
 */
async function startKeyAgent(dir: string, privateKey: string): Promise<{ socket: string; stop(): Promise<void> }> {
  const execa = await loadExeca();
  const socket = path.join(dir, "agent");
  const env = childEnv();
  const child = execa("ssh-agent", ["-D", "-a", socket], { reject: false, stdin: "ignore", stdout: "ignore", stderr: "pipe", env, extendEnv: false });
  const stop = async () => {
    child.kill("SIGTERM");
    await child.catch(() => undefined);
    fs.rmSync(socket, { force: true });
  };
  try {
    // Listening, not only bound: the socket file exists a moment before the agent accepts on it.
    for (let waited = 0; !(await accepts(socket)); waited += 20) {
      if (child.exitCode !== null || waited > 10_000) {
        const r = await Promise.race([child, new Promise((res) => setTimeout(res, 1000))]) as { code?: string; stderr?: string } | undefined;
        if (r?.code === "ENOENT") throw new SshError("no-ssh-client", "ssh-agent (OpenSSH client) is not installed where the provider runs: apt-get install openssh-client");
        throw new SshError("remote-failure", `could not start ssh-agent for the private key: ${String(r?.stderr ?? "no socket within 10 s").trim()}`);
      }
      await new Promise((res) => setTimeout(res, 20));
    }
    // OpenSSH refuses a key without a final newline.
    const added = await execa("ssh-add", ["-q", "-"], { reject: false, input: privateKey.replace(/\r\n/g, "\n").replace(/\n*$/, "\n"), env: { ...env, SSH_AUTH_SOCK: socket }, extendEnv: false, encoding: "utf8" });
    if (added.exitCode !== 0) throw new SshError("remote-failure", `ssh-add refused hostAccess.ssh.privateKey: ${String(added.stderr ?? "").trim() || `exit ${String(added.exitCode)}`}`);
  } catch (err) {
    await stop();
    throw err;
  }
  return { socket, stop };
}

/**
 * A remote Linux host reached with the OpenSSH client: one shared connection (ControlMaster) per host,
 * verified against the given host key, every command quoted for the remote shell and run under
 * `sudo -n` when the user is not root. The same {@link HostAccess} as the local machine, so the engine
 * has no second code path for remote hosts.
 */
export class SshHost implements HostAccess {
  readonly description: string;
  /**
   * This host's local directory (control socket, known_hosts; the private key until authenticated),
   * made under os.tmpdir() on first use and removed by close(): undefined before and after.
   */
  get localDir(): string | undefined {
    return this.dir;
  }
  private dir?: string;
  private master?: Promise<void>;
  private lastUse = 0;
  private pending: ReadRequest[] = [];
  private flushScheduled = false;
  private readonly t: Required<SshTuning>;
  /** Host locks held through this connection: while any is, a lost connection is never replaced. */
  private locksHeld = 0;

  constructor(
    readonly target: SshTarget,
    private readonly credentials: SshCredentials = {},
    tuning: SshTuning = {},
  ) {
    this.description = describeTarget(target);
    this.t = { connectTimeoutS: 10, aliveIntervalS: 5, idleS: 30, fileTimeoutMs: DEFAULT_TIMEOUT_MS, ...tuning };
    if (!target.agent && !credentials.privateKey) throw new Error(`${this.description}: give hostAccess.ssh.privateKey or set agent: true`);
  }

  // ---- connection -------------------------------------------------------------------------------

  private workDir(): string {
    if (!this.dir) {
      // Short path: the control socket must fit in sun_path (108 bytes).
      this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "pfssh-"));
      fs.chmodSync(this.dir, 0o700);
      live.add(this);
      if (!exitHook) {
        exitHook = true;
        process.once("exit", closeAll);
        for (const signal of CLEANUP_SIGNALS) process.once(signal, onFatalSignal);
      }
    }
    return this.dir;
  }

  private get controlPath(): string {
    return path.join(this.workDir(), "ctl");
  }

  /** The ssh client's environment: the agent's socket only when we log in through the agent. */
  private env(): Record<string, string> {
    return childEnv({}, this.target.agent ? ["SSH_AUTH_SOCK"] : []);
  }

  /** Options every ssh invocation carries: no user config, strict host key, bounded waits. */
  private options(algorithms?: string, privateAgent?: string): string[] {
    const o = (kv: string) => ["-o", kv];
    const t = this.target;
    return [
      "-F", "none",
      ...o("BatchMode=yes"),
      ...o("StrictHostKeyChecking=yes"),
      ...o(`UserKnownHostsFile=${path.join(this.workDir(), "known_hosts")}`),
      ...o("GlobalKnownHostsFile=/dev/null"),
      ...o(`HostKeyAlias=${ALIAS}`),
      ...(algorithms ? o(`HostKeyAlgorithms=${algorithms}`) : []),
      ...o("CheckHostIP=no"),
      ...o("UpdateHostKeys=no"),
      ...o(`ConnectTimeout=${this.t.connectTimeoutS}`),
      ...o(`ServerAliveInterval=${this.t.aliveIntervalS}`),
      ...o("ServerAliveCountMax=3"),
      ...o("PasswordAuthentication=no"),
      ...o("KbdInteractiveAuthentication=no"),
      ...o("PreferredAuthentications=publickey"),
      ...(privateAgent
        ? o(`IdentityAgent=${privateAgent}`)
        : t.agent
          ? o("IdentityAgent=SSH_AUTH_SOCK")
          : [...o("IdentityAgent=none"), ...o("IdentitiesOnly=yes")]),
      ...o("ControlPath=" + this.controlPath),
      "-p", String(t.port),
      "-l", t.user,
    ];
  }

  /** The host key as a known_hosts line; a bare fingerprint is matched against what the host offers. */
  private async knownHostsLine(): Promise<{ line: string; algorithms: string }> {
    const key = parseHostKey(this.target.hostKey);
    if (typeof key === "string") throw new Error(`hostAccess.ssh.hostKey: ${key}`);
    if (key.kind === "key") return { line: `${ALIAS} ${key.type} ${key.blob}\n`, algorithms: hostKeyAlgorithms(key.type) };
    const offered = await this.scanHostKeys();
    const match = offered.find((k) => k.fingerprint === key.fingerprint);
    if (!match) throw hostKeyMismatch(this.target, key.fingerprint, offered.map((k) => `${k.fingerprint} (${k.type})`));
    // The scan only found the key; the handshake below still makes the host prove it holds it.
    return { line: `${ALIAS} ${match.type} ${match.blob}\n`, algorithms: hostKeyAlgorithms(match.type) };
  }

  private async scanHostKeys(): Promise<ReturnType<typeof parseKeyscan>> {
    const execa = await loadExeca();
    const r = await execa("ssh-keyscan", ["-T", String(this.t.connectTimeoutS), "-p", String(this.target.port), "--", this.target.host], {
      reject: false,
      timeout: (this.t.connectTimeoutS + 5) * 1000,
      encoding: "utf8",
      stdin: "ignore",
      env: this.env(),
      extendEnv: false,
    });
    if ((r as { code?: string }).code === "ENOENT") throw new SshError("no-ssh-client", "ssh-keyscan (OpenSSH client) is not installed where the provider runs: apt-get install openssh-client");
    const keys = parseKeyscan(String(r.stdout ?? ""));
    if (keys.length === 0 && /refused|No route|timed out|resolve|unreachable/i.test(String(r.stderr ?? ""))) {
      throw classifyConnectFailure(this.target, String(r.stderr)) as SshError;
    }
    return keys;
  }

  /** The shared connection, started once and again after it closed (idle or lost). */
  private connected(): Promise<void> {
    if (this.master && Date.now() - this.lastUse > (this.t.idleS * 1000) / 2) {
      // It may have closed itself while idle: ask the (local) control socket before trusting it.
      const alive = spawnSync("ssh", ["-S", this.controlPath, "-O", "check", "--", ALIAS], { stdio: "ignore", env: this.env() }).status === 0;
      if (!alive) this.master = undefined;
    }
    if (!this.master) this.lastUse = Date.now(); // a master on its way is not idle
    this.master ??= this.startMaster().catch((err: unknown) => {
      this.master = undefined;
      throw err;
    });
    return this.master;
  }

  private async startMaster(): Promise<void> {
    const dir = this.workDir();
    const { line, algorithms } = await this.knownHostsLine();
    fs.writeFileSync(path.join(dir, "known_hosts"), line, { mode: 0o600 });
    const log = path.join(dir, "master.log");
    // The key never touches the disk: an agent of this connection alone holds it while the master logs in.
    const agent = this.credentials.privateKey ? await startKeyAgent(dir, this.credentials.privateKey) : undefined;
    try {
      const execa = await loadExeca();
      // -f: background once authenticated (so the exit status says whether we got in); output goes to a
      // file because the backgrounded master keeps its descriptors.
      const r = await execa(
        "ssh",
        [...this.options(algorithms, agent?.socket), "-M", "-N", "-f", "-o", `ControlPersist=${this.t.idleS}`, "--", this.target.host],
        { reject: false, stdin: "ignore", stdout: "ignore", stderr: { file: log }, timeout: (this.t.connectTimeoutS * 2 + 5) * 1000, env: this.env(), extendEnv: false },
      );
      if ((r as { code?: string }).code === "ENOENT") {
        throw new SshError("no-ssh-client", "the OpenSSH client (ssh) is not installed where the provider runs: apt-get install openssh-client");
      }
      if (r.exitCode !== 0) {
        const stderr = fs.readFileSync(log, "utf8");
        const failure = r.timedOut ? classifyConnectFailure(this.target, "Connection timed out") : classifyConnectFailure(this.target, stderr);
        if (failure !== "host-key") throw failure;
        const key = parseHostKey(this.target.hostKey);
        const seen = await this.scanHostKeys().catch(() => []);
        throw hostKeyMismatch(this.target, typeof key === "string" ? "(invalid)" : key.fingerprint, seen.map((k) => `${k.fingerprint} (${k.type})`));
      }
    } finally {
      await agent?.stop(); // the master is authenticated; the key is not needed again
    }
    this.lastUse = Date.now();
    const probe = await this.exec(PROBE, [], { timeoutMs: this.t.fileTimeoutMs, what: "the first command" });
    if (probe.exitCode !== 0) throw new SshError("remote-failure", `${this.description}: ${probe.stderr.trim() || `exit ${probe.exitCode}`}`);
  }

  /**
   * One remote command through the shared connection. Returns the remote status, or throws an
   * {@link SshError} when the transport (not the command) failed.
   */
  private async exec(
    body: string,
    args: readonly string[],
    options: { readonly input?: string; readonly watch?: boolean; readonly timeoutMs: number; readonly what: string; readonly env?: Readonly<Record<string, string>> },
    retried = false,
  ): Promise<{ exitCode: number; stdout: string; stderr: string; timedOut: boolean }> {
    const words = [...(this.target.sudo ? ["sudo", "-n", "--"] : []), ...(options.env ? ["env", ...Object.entries(options.env).map(([k, v]) => `${k}=${v}`)] : []), "sh", "-c", body, "pfnvme", ...args];
    const execa = await loadExeca();
    // A watched command needs our stdin open until it ends: its close is the remote kill switch.
    const stdin: "pipe" | "ignore" = options.watch ? "pipe" : "ignore";
    const r = await execa("ssh", [...this.options(), ...MUX_ONLY, "--", this.target.host, `exec ${commandLine(words)}`], {
      reject: false,
      timeout: options.timeoutMs,
      encoding: "utf8",
      stripFinalNewline: false,
      env: this.env(),
      extendEnv: false,
      ...(options.input !== undefined ? { input: options.input } : { stdin }),
    });
    this.lastUse = Date.now();
    const stdout = String(r.stdout ?? "");
    const stderr = String(r.stderr ?? "");
    const m = EXIT_LINE.exec(stderr);
    if (m) return { exitCode: Number(m[1]), stdout, stderr: stderr.slice(0, m.index), timedOut: false };
    if (r.timedOut) return { exitCode: -1, stdout, stderr, timedOut: true };
    if (stderr.includes("Control socket connect") && this.locksHeld > 0) {
      // The host lock rode that connection, so it is gone too: reconnecting would act without it.
      throw connectionLost(this.target, `${options.what} (the host lock rode the lost connection, so nothing more is done under it)`, stderr);
    }
    if (stderr.includes("Control socket connect") && !retried) {
      // The shared connection closed between our check and this call: the command never started.
      this.master = undefined;
      await this.connected();
      return this.exec(body, args, options, true);
    }
    const sudo = this.target.sudo ? sudoFailure(this.target, stderr) : undefined;
    if (sudo) throw sudo;
    if (r.exitCode === 255 || r.exitCode === undefined) {
      this.master = undefined;
      throw connectionLost(this.target, options.what, stderr);
    }
    throw new SshError("remote-failure", `${this.description}: the remote shell failed before ${options.what} ran (exit ${String(r.exitCode)}): ${stderr.trim()}. The remote login shell must be POSIX (sh, bash, dash, zsh).`);
  }

  // ---- HostAccess -------------------------------------------------------------------------------

  async run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    if (argv.length === 0) throw new Error("run: argv is empty");
    for (const k of Object.keys(options.env ?? {})) if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`run: environment variable name ${JSON.stringify(k)} is not valid`);
    await this.connected();
    const r = await this.exec(RUN, argv, { watch: true, timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS, what: `\`${argv.join(" ")}\``, env: options.env });
    // sh says "<name>: not found" (127); sudo says "command not found" (1).
    const notFound = (r.exitCode === 127 && /not found/.test(r.stderr)) || (this.target.sudo && /^sudo: .*command not found/m.test(r.stderr));
    return { argv: [...argv], exitCode: notFound ? -1 : r.exitCode, stdout: r.stdout, stderr: r.stderr, timedOut: r.timedOut, notFound };
  }

  /** Queue a read; everything queued in the same turn of the event loop goes in one round trip. */
  private read(op: ReadOp, p: string): Promise<string | undefined> {
    return new Promise((resolve, reject) => {
      this.pending.push({ op, path: p, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => {
          this.flushScheduled = false;
          const all = this.pending.splice(0);
          for (let i = 0; i < all.length; i += BATCH_MAX) void this.flush(all.slice(i, i + BATCH_MAX));
        });
      }
    });
  }

  private async flush(batch: readonly ReadRequest[]): Promise<void> {
    try {
      await this.connected();
      const r = await this.exec(READS, [String(MAX_FILE_BYTES + 1), ...batch.flatMap((q) => [q.op, q.path])], { timeoutMs: this.t.fileTimeoutMs, what: `reading ${batch[0].path}${batch.length > 1 ? ` and ${batch.length - 1} more` : ""}` });
      if (r.timedOut) throw new Error(`${this.description}: reading files timed out after ${this.t.fileTimeoutMs} ms`);
      const lines = r.stdout.split("\n");
      if (r.exitCode !== 0 || lines.length < batch.length) throw new Error(`${this.description}: reading files failed (exit ${r.exitCode}): ${r.stderr.trim()}`);
      batch.forEach((q, i) => {
        const line = lines[i];
        const bytes = Buffer.from(line.slice(2), "base64");
        const value = bytes.toString("utf8");
        const on = (e: Error) => new UnexpectedFileError(`${this.description}: ${e.message}`);
        if (line.startsWith("n:")) q.resolve(undefined);
        else if (line.startsWith("L:")) q.reject(on(symlinkRefused(q.path)));
        else if (line.startsWith("T:")) q.reject(on(notRegular(q.path, KIND_OF_STAT[value.trim()] ?? "unknown")));
        else if (line.startsWith("y:") && bytes.length > MAX_FILE_BYTES && q.op !== "d") q.reject(on(tooLarge(q.path)));
        else if (line.startsWith("y:")) q.resolve(value);
        else q.reject(new Error(`${this.description}: cannot read ${q.path}: ${value.trim()}`));
      });
    } catch (err) {
      for (const q of batch) q.reject(err as Error);
    }
  }

  readFile(file: string, options: ReadOptions = {}): Promise<string | undefined> {
    return this.read(options.noFollow ? "F" : "f", file);
  }

  async inspect(file: string): Promise<FileInfo | undefined> {
    const v = await this.read("s", file);
    if (v === undefined) return undefined;
    const [mode, uid, actor] = v.trim().split(" ");
    const m = parseInt(mode ?? "", 16);
    if (!Number.isInteger(m) || !/^\d+$/.test(uid ?? "") || !/^\d+$/.test(actor ?? "")) throw new Error(`${this.description}: cannot inspect ${file}: unexpected answer ${JSON.stringify(v)}`);
    return { kind: kindOfMode(m), uid: Number(uid), mode: m & 0o7777, actorUid: Number(actor) };
  }

  async readDir(dir: string): Promise<string[] | undefined> {
    const v = await this.read("d", dir);
    return v === undefined ? undefined : v.split("\0").filter((n) => n !== "");
  }

  readLink(file: string): Promise<string | undefined> {
    return this.read("l", file);
  }

  inode(file: string): Promise<string | undefined> {
    return this.read("i", file);
  }

  async writeFileAtomic(file: string, data: string): Promise<void> {
    const dir = path.posix.dirname(file);
    const tmp = path.posix.join(dir, `.${path.posix.basename(file)}.${randomBytes(6).toString("hex")}.tmp`);
    await this.connected();
    const bytes = Buffer.from(data, "utf8");
    const sum = createHash("sha256").update(bytes).digest("hex");
    const r = await this.exec(WRITE, [dir, tmp, file, String(bytes.length), sum], { input: data, timeoutMs: this.t.fileTimeoutMs, what: `writing ${file}` });
    if (r.exitCode !== 0) throw new Error(`${this.description}: could not write ${file}: ${r.stderr.trim() || (r.timedOut ? "timed out" : `exit ${r.exitCode}`)}`);
  }

  async deleteController(
    dir: string,
    expect: Readonly<Record<string, string>>,
    options: { readonly goneTimeoutMs?: number; readonly inode?: string } = {},
  ): Promise<DeleteOutcome> {
    const goneTimeoutMs = options.goneTimeoutMs ?? 30_000;
    await this.connected();
    const args = [dir, String(Math.ceil(goneTimeoutMs / 50)), options.inode ?? "", ...Object.entries(expect).flat()];
    const r = await this.exec(DELETE, args, { timeoutMs: goneTimeoutMs + this.t.fileTimeoutMs, what: `deleting ${dir}` });
    const line = r.stdout.trim();
    if (r.exitCode === 0 && line === "deleted") return { deleted: true };
    if (r.exitCode === 0 && line.startsWith("gone ")) return { deleted: false, why: line.slice(5) };
    if (r.exitCode === 0 && line.startsWith("stuck")) {
      throw new Error(`controller ${path.posix.basename(dir)} is still present (state ${line.slice(6) || "unknown"}) on ${this.description} after we wrote to its delete_controller; the kernel may still be deleting it. Check \`cat ${dir}/state\` and dmesg, then retry the destroy.`);
    }
    throw new Error(`${this.description}: deleting ${dir} failed (${r.timedOut ? "timed out" : `exit ${r.exitCode}`}): ${r.stderr.trim() || line}`);
  }

  /** sh has no way to open with O_EXCL: over SSH the guard relies on mounts, swaps and holders. */
  async probeExclusive(): Promise<"unknown"> {
    return "unknown";
  }

  async lock(lockPath: string, options: { readonly timeoutMs?: number } = {}): Promise<Unlock> {
    await this.connected();
    const unlock = await this.holdLock(lockPath, options);
    this.locksHeld++;
    let counted = true;
    const release = async () => {
      if (counted) {
        counted = false;
        this.locksHeld--;
      }
      await unlock();
    };
    return Object.assign(release, { lost: unlock.lost });
  }

  private async holdLock(lockPath: string, options: { readonly timeoutMs?: number }): Promise<Unlock> {
    const waitS = options.timeoutMs === undefined ? 86_400 : Math.max(1, Math.ceil(options.timeoutMs / 1000));
    const words = [...(this.target.sudo ? ["sudo", "-n", "--"] : []), "sh", "-c", LOCK, "pfnvme", path.posix.dirname(lockPath), lockPath, String(waitS)];
    return holdFlock("ssh", [...this.options(), ...MUX_ONLY, "--", this.target.host, `exec ${commandLine(words)}`], lockPath, {
      // The host's flock times out first; ours is the backstop for a connection that stalls.
      timeoutMs: options.timeoutMs === undefined ? undefined : options.timeoutMs + (this.t.connectTimeoutS + 5) * 1000,
      env: this.env(),
      whyFailed: (r, stderr) => {
        this.lastUse = Date.now();
        if (r.exitCode === 75 && options.timeoutMs !== undefined) return new LockTimeoutError(lockPath, options.timeoutMs);
        const sudo = this.target.sudo ? sudoFailure(this.target, stderr) : undefined;
        if (sudo) return sudo.message;
        if (r.exitCode === 255) return connectionLost(this.target, `locking ${lockPath}`, stderr).message;
        return `${stderr.trim() || `exit ${String(r.exitCode ?? r.signal)}`} on ${this.description}${/flock.*not found/.test(stderr) ? ": install util-linux (flock) on the host" : ""}`;
      },
    });
  }

  /** Close the shared connection and remove the temporary files (known_hosts, control socket). */
  async close(): Promise<void> {
    this.closeSync();
  }

  /** {@link close} without waiting: for exit and signal handlers. */
  closeSync(): void {
    if (!this.dir) return;
    if (this.master) spawnSync("ssh", ["-S", this.controlPath, "-O", "exit", "--", ALIAS], { stdio: "ignore", timeout: 5000, env: this.env() });
    this.master = undefined;
    fs.rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
    live.delete(this);
  }
}
