import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";

/**
 * A real OpenSSH server (Debian's openssh-server) for the SSH tests: our own sshd_config, a host key made
 * for this run, an unprivileged port on loopback, in the foreground (`-D -e -f cfg`). It lets in the user
 * running the tests with a key made for this run. No sshd: the tests fail and say how to install it.
 */
export interface Sshd {
  readonly port: number;
  readonly user: string;
  /** The user key (OpenSSH private key text) that sshd accepts. */
  readonly privateKey: string;
  /** The host key as a `.pub` line, and its SHA256 fingerprint. */
  readonly hostKey: string;
  readonly hostFingerprint: string;
  readonly dir: string;
  /** Everything sshd logged (one "Accepted publickey" line per connection). */
  log(): string;
  /** Kill the per-connection sshd processes (connections drop; the listener stays). */
  dropConnections(): void;
  stop(): Promise<void>;
}

export const SSHD = process.env.PFNVME_SSHD ?? "/usr/sbin/sshd";

function keygen(file: string): void {
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "pfnvme-test", "-f", file], { stdio: "ignore" });
}

export function fingerprint(pubFile: string): string {
  return execFileSync("ssh-keygen", ["-lf", pubFile], { encoding: "utf8" }).split(/\s+/)[1];
}

/** A fresh key pair: [private key text, public line]. */
export function makeKeyPair(dir: string, name: string): [string, string] {
  const file = path.join(dir, name);
  keygen(file);
  return [fs.readFileSync(file, "utf8"), fs.readFileSync(`${file}.pub`, "utf8").trim()];
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Child pids of `pid` (from /proc): sshd's per-connection processes. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const e of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** `userKey`: a key pair ([private text, public line]) to let in; default one made for this server. */
export async function startSshd(options: { readonly userKey?: [string, string] } = {}): Promise<Sshd> {
  if (!fs.existsSync(SSHD)) {
    throw new Error(`no OpenSSH server at ${SSHD}: the SSH tests need a real sshd. Install it: apt-get install openssh-server openssh-client (or set PFNVME_SSHD)`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pfnvme-sshd-"));
  try {
    return await serveFrom(dir, options.userKey);
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** sshd with its keys and config in `dir`; stop() removes `dir`. */
async function serveFrom(dir: string, userKey: [string, string] | undefined): Promise<Sshd> {
  keygen(path.join(dir, "host_ed25519"));
  const [privateKey, pub] = userKey ?? makeKeyPair(dir, "user_ed25519");
  fs.writeFileSync(path.join(dir, "authorized_keys"), `${pub}\n`, { mode: 0o600 });
  const user = os.userInfo().username;
  if (process.getuid?.() === 0) fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 }); // privilege separation dir
  const port = await freePort();
  const cfg = path.join(dir, "sshd_config");
  fs.writeFileSync(
    cfg,
    [
      `ListenAddress 127.0.0.1:${port}`,
      `HostKey ${path.join(dir, "host_ed25519")}`,
      `AuthorizedKeysFile ${path.join(dir, "authorized_keys")}`,
      `AllowUsers ${user}`,
      "PidFile none",
      "UsePAM no",
      "StrictModes no", // the key files live in a temp dir
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PermitRootLogin prohibit-password",
      "LogLevel INFO",
      // bash reads ~/.bashrc for commands over ssh unless SHLVL is set; a slow .bashrc (pyenv, nvm) on
      // the test machine would only slow every command down, so the test server sets it.
      "SetEnv SHLVL=1",
      "",
    ].join("\n"),
  );
  const child: ChildProcess = spawn(SSHD, ["-D", "-e", "-f", cfg], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr!.on("data", (d: Buffer) => (log += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sshd did not start within 10 s: ${log}`)), 10_000);
    const onData = () => {
      if (log.includes("Server listening on")) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stderr!.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`sshd exited (${code}): ${log}`));
    });
  }).catch((err: unknown) => {
    child.kill("SIGKILL");
    throw err;
  });
  const hostPub = fs.readFileSync(path.join(dir, "host_ed25519.pub"), "utf8").trim();
  const dropConnections = () => {
    for (const pid of childrenOf(child.pid!)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  };
  return {
    port,
    user,
    privateKey,
    hostKey: hostPub,
    hostFingerprint: fingerprint(path.join(dir, "host_ed25519.pub")),
    dir,
    log: () => log,
    dropConnections,
    async stop() {
      dropConnections();
      if (child.exitCode === null) {
        const gone = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await gone;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
