import { strict as assert } from "node:assert";
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { LocalHost, LockTimeoutError } from "../../../provider/host/access/local";
import { SshError } from "../../../provider/host/access/ssh/errors";
import { SshHost } from "../../../provider/host/access/ssh/ssh-host";
import type { SshTarget } from "../../../provider/host/access/ssh/target";
import { NvmeCli, NvmeCommandError } from "../../../provider/host/nvme/cli";
import { createSimHost } from "../../../provider/tools/simhost";
import { fingerprint, makeKeyPair, startSshd, type Sshd } from "../../support/sshd";
import { alive } from "../../support/processes";

/**
 * SshHost against a real OpenSSH server on loopback (test/support/sshd.ts): quoting of hostile values
 * through the remote shell, files, the host-wide flock, one shared connection, and each failure the
 * user must be able to tell apart. The remote host is this machine, so every effect is checked on disk.
 */

const accepted = (d: Sshd) => (d.log().match(/Accepted publickey/g) ?? []).length;
const waitFor = async (cond: () => boolean, ms: number) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
};

describe("SshHost over a real OpenSSH server", function () {
  this.timeout(60_000);
  let sshd: Sshd;
  let dir: string;
  let target: SshTarget;
  const hosts: SshHost[] = [];
  const open = (t: Partial<SshTarget> = {}, key?: string) => {
    const h = new SshHost({ ...target, ...t }, { privateKey: key ?? sshd.privateKey }, { connectTimeoutS: 5, idleS: 20 });
    hosts.push(h);
    return h;
  };

  before(async () => {
    sshd = await startSshd();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "pfnvme-ssh-"));
    target = { host: "127.0.0.1", port: sshd.port, user: sshd.user, hostKey: sshd.hostKey, agent: false, sudo: false };
  });
  afterEach(async () => {
    for (const h of hosts.splice(0)) await h.close();
  });
  after(async () => {
    await sshd?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("passes hostile argv values through the remote shell unchanged and runs none of them", async () => {
    const h = open();
    const canary = path.join(dir, "pwned");
    const hostile = [
      `$(touch ${canary})`,
      `\`touch ${canary}\``,
      `; touch ${canary}`,
      `| touch ${canary}`,
      `&& touch ${canary} &`,
      "it's",
      `a"b'c\\d`,
      "two  spaces\tand tab",
      "line\nbreak",
      "*",
      "$HOME ${PATH}",
      "--help",
      "-n",
      "",
      "'",
      "'\\''",
      "é ü 中文",
    ];
    const r = await h.run(["printf", "%s\\0", ...hostile]);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.deepEqual(r.stdout.split("\0").slice(0, -1), hostile);
    assert.equal(r.stderr, "");
    assert.ok(!fs.existsSync(canary), "a value was run as a command on the remote side");
    await assert.rejects(h.run(["printf", "a\u0000b"]), /NUL/);
  });

  it("returns exit code, stdout and stderr exactly as the remote command printed them", async () => {
    const h = open();
    const r = await h.run(["sh", "-c", "printf 'out\\n\\n'; printf 'err no newline' >&2; exit 3"]);
    assert.deepEqual([r.exitCode, r.stdout, r.stderr, r.timedOut, r.notFound], [3, "out\n\n", "err no newline", false, false]);
    const env = await h.run(["sh", "-c", 'printf %s "$PFNVME_X"'], { env: { PFNVME_X: "a b'c" } });
    assert.equal(env.stdout, "a b'c");
    const missing = await h.run([path.join(dir, "no-such-nvme"), "version"]);
    assert.equal(missing.notFound, true);
    assert.equal(missing.exitCode, -1);
  });

  it("a command past its timeout is killed on the remote host too", async () => {
    const h = open();
    const pidFile = path.join(dir, "sleep.pid");
    const r = await h.run(["sh", "-c", `echo $$ > ${pidFile}; exec sleep 30`], { timeoutMs: 1500 });
    assert.equal(r.timedOut, true);
    assert.equal(r.exitCode, -1);
    const pid = Number(fs.readFileSync(pidFile, "utf8"));
    assert.ok(await waitFor(() => !alive(pid), 5000), `remote sleep ${pid} still runs after the timeout`);
  });

  it("reads files, directories and links, batching parallel reads, and writes atomically", async () => {
    const h = open();
    const d = path.join(dir, "tree");
    fs.mkdirSync(path.join(d, "sub dir"), { recursive: true });
    fs.writeFileSync(path.join(d, "a"), "live\n");
    fs.writeFileSync(path.join(d, ".hidden"), "");
    fs.writeFileSync(path.join(d, "ü name"), "x\ny\u00e9");
    fs.symlinkSync("../devices/virtual/nvme-fabrics/ctl/nvme3", path.join(d, "link"));
    assert.equal(await h.readFile(path.join(d, "a")), "live\n");
    assert.equal(await h.readFile(path.join(d, "ü name")), "x\ny\u00e9");
    assert.equal(await h.readFile(path.join(d, ".hidden")), "");
    assert.equal(await h.readFile(path.join(d, "missing")), undefined);
    assert.equal(await h.readFile(path.join(d, "a", "not-a-dir")), undefined);
    await assert.rejects(h.readFile(path.join(d, "sub dir")), /cannot read/);
    assert.deepEqual((await h.readDir(d))!.sort(), [".hidden", "a", "link", "sub dir", "ü name"].sort());
    assert.deepEqual(await h.readDir(path.join(d, "sub dir")), []);
    assert.equal(await h.readDir(path.join(d, "missing")), undefined);
    assert.equal(await h.readLink(path.join(d, "link")), "../devices/virtual/nvme-fabrics/ctl/nvme3");
    assert.equal(await h.readLink(path.join(d, "a")), undefined);

    // 450 reads at once: three round trips of at most 200, all answered in order.
    for (let i = 0; i < 150; i++) fs.writeFileSync(path.join(d, "sub dir", `f${i}`), `v${i}`);
    const got = await Promise.all(Array.from({ length: 450 }, (_, i) => h.readFile(path.join(d, "sub dir", `f${i}`))));
    assert.deepEqual(got, Array.from({ length: 450 }, (_, i) => (i < 150 ? `v${i}` : undefined)));

    const file = path.join(d, "new", "deeper", "ledger.json");
    const text = `{"quote":"'","dollar":"$(x)"}\n`;
    await h.writeFileAtomic(file, text);
    assert.equal(fs.readFileSync(file, "utf8"), text);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    await h.writeFileAtomic(file, "second\n");
    assert.equal(fs.readFileSync(file, "utf8"), "second\n");
    assert.deepEqual(fs.readdirSync(path.dirname(file)), ["ledger.json"], "no temporary file left");
  });

  it("uses one connection for all operations, and removes the private key from disk once connected", async () => {
    const h = open();
    const before = accepted(sshd);
    await Promise.all([h.run(["true"]), h.readFile("/etc/hostname"), h.readDir("/"), h.writeFileAtomic(path.join(dir, "w"), "x")]);
    for (let i = 0; i < 5; i++) await h.run(["true"]);
    const unlock = await h.lock(path.join(dir, "one.lock"));
    await unlock();
    assert.equal(accepted(sshd) - before, 1, sshd.log());
    // Only the directory this host made: other hosts (other tests, other runs) may be mid-connect.
    const own = h.localDir!;
    assert.ok(path.dirname(own) === os.tmpdir() && fs.readdirSync(own).includes("known_hosts"), `${own}: not this host's directory`);
    assert.ok(!fs.readdirSync(own).includes("id"), "the private key file is still on disk");
    await h.close();
    assert.equal(h.localDir, undefined);
    assert.ok(!fs.existsSync(own), `close() left ${own}`);
    assert.equal((await h.run(["echo", "again"])).stdout, "again\n", "a closed host reconnects on demand");
  });

  it("the lock is the host-wide flock: it excludes local holders and other connections, and a dropped connection releases it", async () => {
    const a = open();
    const b = open();
    const lockFile = path.join(dir, "state", "lock");
    const unlockA = await a.lock(lockFile);
    await assert.rejects(b.lock(lockFile, { timeoutMs: 700 }), LockTimeoutError);
    await assert.rejects(new LocalHost().lock(lockFile, { timeoutMs: 700 }), LockTimeoutError);
    await unlockA();
    const unlockLocal = await new LocalHost().lock(lockFile, { timeoutMs: 5000 });
    await assert.rejects(a.lock(lockFile, { timeoutMs: 700 }), LockTimeoutError);
    await unlockLocal();

    await a.lock(lockFile);
    sshd.dropConnections(); // the holder's connection goes: the host drops its lock
    const unlock = await new LocalHost().lock(lockFile, { timeoutMs: 10_000 });
    await unlock();
  });

  it("a connection lost while a command runs is an SshError, the command is stopped, and the next call reconnects", async () => {
    const h = open();
    const pidFile = path.join(dir, "lost.pid");
    const running = h.run(["sh", "-c", `echo $$ > ${pidFile}; exec sleep 30`]);
    assert.ok(await waitFor(() => fs.existsSync(pidFile) && fs.readFileSync(pidFile, "utf8").trim() !== "", 10_000));
    sshd.dropConnections();
    await assert.rejects(running, (err: unknown) => {
      assert.ok(err instanceof SshError, String(err));
      assert.equal(err.kind, "connection-lost");
      assert.match(err.message, /connection was lost during `sh -c .*outcome on the host is unknown/s);
      return true;
    });
    const pid = Number(fs.readFileSync(pidFile, "utf8"));
    assert.ok(await waitFor(() => !alive(pid), 5000), "the remote command outlived its connection");
    assert.equal((await h.run(["echo", "back"])).stdout, "back\n");
  });

  it("accepts the host key as a SHA256 fingerprint, and says expected and seen fingerprints on a mismatch", async () => {
    assert.equal((await open({ hostKey: sshd.hostFingerprint }).run(["echo", "ok"])).stdout, "ok\n");
    const name = `other-host-${Date.now()}`;
    const [, otherPub] = makeKeyPair(dir, name);
    const otherFp = fingerprint(path.join(dir, `${name}.pub`));
    for (const hostKey of [otherPub, `[127.0.0.1]:${sshd.port} ${otherPub}`, otherFp]) {
      await assert.rejects(open({ hostKey }).run(["true"]), (err: unknown) => {
        assert.ok(err instanceof SshError, String(err));
        assert.equal(err.kind, "host-key-mismatch");
        assert.equal(err.fingerprints?.expected, otherFp);
        assert.ok(err.fingerprints?.seen.some((s) => s.startsWith(sshd.hostFingerprint)), JSON.stringify(err.fingerprints));
        assert.match(err.message, new RegExp(`expected ${otherFp.replace(/[+/]/g, "\\$&")}.*offered ${sshd.hostFingerprint.replace(/[+/]/g, "\\$&")}`));
        return true;
      });
    }
  });

  it("tells unreachable, refused authentication, missing nvme-cli and missing sudo apart", async () => {
    const closed = sshd.port === 1 ? 2 : 1; // nothing listens on port 1 of loopback
    await assert.rejects(open({ port: closed }).run(["true"]), (err: unknown) => err instanceof SshError && err.kind === "unreachable" && /unreachable \(.*refused/i.test(err.message));

    const [strangerKey] = makeKeyPair(dir, `stranger-${Date.now()}`);
    await assert.rejects(open({}, strangerKey).run(["true"]), (err: unknown) => {
      assert.ok(err instanceof SshError);
      assert.equal(err.kind, "auth-refused");
      assert.match(err.message, /authentication refused \(.*Permission denied.*authorized_keys/);
      assert.ok(!err.message.includes(strangerKey.split("\n")[1]), "key material in the message");
      return true;
    });

    const cli = new NvmeCli(open(), { nvmeCli: path.join(dir, "bin", "nvme"), sysfsRoot: "/sys", stateDir: dir, etcNvmeDir: dir, mountsFile: "/proc/self/mounts" });
    await assert.rejects(cli.version(), (err: unknown) => {
      assert.ok(err instanceof NvmeCommandError);
      assert.equal(err.failure.class, "no-nvme-cli");
      assert.match(err.message, new RegExp(`on ssh ${sshd.user}@127\\.0\\.0\\.1:${sshd.port}.*install nvme-cli`));
      return true;
    });

    // sudo -n as a user without the right (or without sudo at all) is refused before any command runs.
    const hasSudo = (() => {
      try {
        execFileSync("sh", ["-c", "command -v sudo"], { stdio: "ignore" });
        return true;
      } catch {
        return false;
      }
    })();
    const sudoHost = open({ sudo: true });
    if (hasSudo && sshd.user === "root") {
      // root may always sudo: the command runs, as root.
      assert.equal((await sudoHost.run(["id", "-u"])).stdout, "0\n");
    } else {
      await assert.rejects(sudoHost.run(["true"]), (err: unknown) => {
        assert.ok(err instanceof SshError, String(err));
        assert.equal(err.kind, "no-sudo");
        assert.match(err.message, /no sudo rights: .*passwordless sudo/);
        return true;
      });
    }
  });

  it("authenticates with an ssh-agent instead of a key", async () => {
    const sock = path.join(dir, "agent.sock");
    const agent = spawn("ssh-agent", ["-D", "-a", sock], { stdio: "ignore" });
    try {
      assert.ok(await waitFor(() => fs.existsSync(sock), 5000), "ssh-agent did not start");
      const keyFile = path.join(dir, "agent-key");
      fs.writeFileSync(keyFile, sshd.privateKey, { mode: 0o600 });
      execFileSync("ssh-add", ["-q", keyFile], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: "ignore" });
      const saved = process.env.SSH_AUTH_SOCK;
      process.env.SSH_AUTH_SOCK = sock;
      try {
        const h = new SshHost({ ...target, agent: true }, {}, { connectTimeoutS: 5 });
        hosts.push(h);
        assert.equal((await h.run(["echo", "via agent"])).stdout, "via agent\n");
      } finally {
        if (saved === undefined) delete process.env.SSH_AUTH_SOCK;
        else process.env.SSH_AUTH_SOCK = saved;
      }
    } finally {
      agent.kill();
    }
  });

  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    it(`removes its local directory when the process is stopped by ${signal} (the Pulumi engine stops a provider with SIGINT)`, async () => {
      // A provider process: one connected host, its directory on stdout, then waiting to be stopped.
      const program = `const { SshHost } = require(${JSON.stringify(require.resolve("../../../provider/host/access/ssh/ssh-host"))});
const { target, privateKey } = JSON.parse(require("node:fs").readFileSync(0, "utf8"));
const h = new SshHost(target, { privateKey }, { connectTimeoutS: 5 });
h.run(["true"]).then(() => { console.log(h.localDir); setInterval(() => {}, 1000); }, (e) => { console.error(e); process.exit(3); });`;
      const child = spawn(process.execPath, ["-e", program], { stdio: ["pipe", "pipe", "inherit"] });
      child.stdin.end(JSON.stringify({ target, privateKey: sshd.privateKey }));
      const exited = new Promise<NodeJS.Signals | number | null>((r) => child.once("exit", (code, sig) => r(sig ?? code)));
      let out = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      try {
        assert.ok(await waitFor(() => out.includes("\n"), 20_000), "the child did not connect");
        const own = out.trim();
        assert.ok(fs.existsSync(path.join(own, "known_hosts")), `${own}: not the host's directory`);
        child.kill(signal);
        assert.equal(await exited, signal, "the process still ends by the signal");
        assert.ok(!fs.existsSync(own), `${signal} left ${own}: ${fs.existsSync(own) ? fs.readdirSync(own).join(", ") : ""}`);
      } finally {
        child.kill("SIGKILL");
      }
    });
  }

  it("drives the simulated nvme-cli on the remote side like the local one", async () => {
    const sim = createSimHost(path.join(dir, "sim"), { version: "2.11" });
    const h = open();
    const cli = new NvmeCli(h, sim.settings);
    assert.equal((await cli.version()).text, "2.11");
    assert.deepEqual(sim.calls(), [["version"]]);
  });
});
