import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { execFile, execFileSync, spawn } from "node:child_process";
import { NvmeEngine } from "../../../provider/host/engine";
import { NvmeCli } from "../../../provider/host/nvme/cli";
import { readControllers } from "../../../provider/host/nvme/sysfs";
import type { HostAccess } from "../../../provider/host/access/access";
import { MAX_FILE_BYTES } from "../../../provider/host/access/files";
import { LocalHost } from "../../../provider/host/access/local";
import { LedgerStore, OBJECT_LOCK_STRIPES } from "../../../provider/host/ledger/store";
import { SshHost } from "../../../provider/host/access/ssh/ssh-host";
import { repoRoot } from "../../support/paths";
import { startSshd, type Sshd } from "../../support/sshd";
import { z } from "zod";
import { identityKey, type PathIdentity } from "../../../provider/host/nvme/identity";
import { createSimHost, DEFAULT_SIM_HOSTID, DEFAULT_SIM_HOSTNQN, type SimHost } from "../../../provider/tools/simhost";

/**
 * The ledger store under hostile conditions (issue 15): files that lie about what they are, writers of
 * other releases, and state dirs others can write. The engine on the simulated host, as the provider runs it.
 */

const NQN = "nqn.1988-11.com.dell:powerflex:00:4a54e9f1000000ab";
const sdt = (traddr: string): PathIdentity => ({
  transport: "tcp", traddr, trsvcid: 4420, subsysnqn: NQN, hostnqn: DEFAULT_SIM_HOSTNQN, hostid: DEFAULT_SIM_HOSTID,
});
const SDT1 = sdt("10.0.0.1");
const SDT2 = sdt("10.0.0.2");

describe("ledger store under hostile conditions (simulated host)", function () {
  this.timeout(30_000);
  let dir: string;
  let sim: SimHost;
  let ledgerFile: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(tmpdir(), "ledger-hostile-"));
    sim = createSimHost(dir, { version: "2.11" });
    ledgerFile = path.join(sim.settings.stateDir, "ledger.json");
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe("2: an empty ledger is not a new one", () => {
    for (const [what, content] of [["0-byte", ""], ["whitespace-only", "  \n\n"]] as const) {
      it(`a ${what} ledger is refused by destroy and attach, naming the file and what to do; no controller is cut or adopted`, async () => {
        const engine = NvmeEngine.on(new LocalHost(), sim.settings);
        const a = await engine.attach("A", [SDT1, SDT2]);
        fs.writeFileSync(ledgerFile, content);
        const refusal = (err: unknown) => {
          assert.equal((err as Error).name, "LedgerRefusedError");
          assert.ok((err as Error).message.includes(ledgerFile), (err as Error).message);
          assert.match((err as Error).message, /empty \(0 bytes\)|only whitespace/);
          assert.match((err as Error).message, /powerflex-nvme status.*remove the file.*restore it/);
          return true;
        };
        await assert.rejects(engine.release("A", [SDT1, SDT2]), refusal);
        await assert.rejects(engine.attach("B", [SDT1]), refusal);
        assert.deepEqual(sim.controllers().map((c) => c.device).sort(), a.paths.map((p) => p.device).sort(), "every controller stays");
        assert.equal(fs.readFileSync(ledgerFile, "utf8"), content, "the file is left as it was for the operator");
      });
    }

    it("a missing ledger is a new one", async () => {
      assert.equal(fs.existsSync(ledgerFile), false);
      const a = await NvmeEngine.on(new LocalHost(), sim.settings).attach("A", [SDT1]);
      assert.deepEqual(a.paths.map((p) => p.origin), ["created"]);
      assert.ok(JSON.parse(fs.readFileSync(ledgerFile, "utf8")).paths);
    });
  });

  describe("3: writers of other releases", () => {
    /** What a release that writes ledger format 1 accepts (ae4a08a's ledgerSchema, top level): it drops the rest. */
    const formatOneReader = z.object({ version: z.literal(1), paths: z.record(z.string(), z.object({ identity: z.unknown(), createdBy: z.string(), owners: z.array(z.string()) })) });
    const read = () => JSON.parse(fs.readFileSync(ledgerFile, "utf8"));

    it("a newer release's keys (top level, record, identity, volume hold, host) survive our attach and release", async () => {
      const other = sdt("10.0.0.3");
      sim.addForeignController({ traddr: "10.0.0.3", subsysnqn: NQN });
      fs.writeFileSync(ledgerFile, JSON.stringify({
        version: 3, minWriter: 2, intents: { x: 1 },
        paths: { [identityKey(other)]: { identity: { ...other, fabric: "tcp2" }, createdBy: "Z", owners: ["Z"], holdUntil: "never" } },
        volumes: { "h/v": { createdBy: "Z", owners: ["Z"], accessMode: "ReadOnly" } },
        hosts: { h: { nqn: "nqn.x", registeredAt: "2026" } },
      }));
      const engine = NvmeEngine.on(new LocalHost(), sim.settings);
      await engine.attach("A", [SDT1]);
      await engine.holdVolume("A", "h/v", async () => "adopted");
      await engine.release("A", [SDT1]);
      const after = read();
      assert.equal(after.version, 3, "never lowered");
      assert.equal(after.minWriter, 2);
      assert.deepEqual(after.intents, { x: 1 });
      assert.equal(after.paths[identityKey(other)].holdUntil, "never");
      assert.equal(after.paths[identityKey(other)].identity.fabric, "tcp2");
      assert.equal(after.volumes["h/v"].accessMode, "ReadOnly");
      assert.deepEqual(after.volumes["h/v"].owners, ["Z", "A"]);
      assert.equal(after.hosts.h.registeredAt, "2026");
    });

    it("migration: a format-1 ledger (before volumes) is read and written as format 3 (format-2 writers allowed), which format-1 releases refuse", async () => {
      const engine = NvmeEngine.on(new LocalHost(), sim.settings);
      const a = await engine.attach("A", [SDT1]);
      const v1 = read();
      v1.version = 1;
      delete v1.minWriter;
      delete v1.volumes;
      delete v1.hosts;
      fs.writeFileSync(ledgerFile, JSON.stringify(v1));
      assert.ok(formatOneReader.safeParse(read()).success, "the fixture is what format 1 wrote");

      await engine.holdVolume("A", "h/v", async () => "created");
      const v2 = read();
      assert.deepEqual([v2.version, v2.minWriter], [3, 2]);
      assert.deepEqual(v2.paths[identityKey(SDT1)].owners, ["A"], "format-1 records kept");
      assert.deepEqual(v2.volumes["h/v"], { createdBy: "A", owners: ["A"] });
      assert.equal(formatOneReader.safeParse(v2).success, false, "a format-1 release refuses to read, so to write, the ledger");

      const r = await engine.release("A", [SDT1]);
      assert.deepEqual(r.disconnected.map((d) => d.device), [a.paths[0].device]);
    });

    it("a ledger whose minWriter is above our format is refused, for reads and writes, and left as it is", async () => {
      const engine = NvmeEngine.on(new LocalHost(), sim.settings);
      const a = await engine.attach("A", [SDT1]);
      const future = { ...read(), version: 5, minWriter: 4 };
      fs.writeFileSync(ledgerFile, JSON.stringify(future));
      const refusal = (err: unknown) => {
        assert.equal((err as Error).name, "LedgerRefusedError");
        assert.ok((err as Error).message.includes(ledgerFile));
        assert.match((err as Error).message, /newer release \(ledger format 5\) that allows only writers of format 4 or later; this release writes format 3\. Upgrade pulumi-powerflex-nvme/);
        return true;
      };
      await assert.rejects(engine.release("A", [SDT1]), refusal);
      await assert.rejects(engine.ownersOfHostNqn(DEFAULT_SIM_HOSTNQN), refusal);
      assert.deepEqual(read(), future);
      assert.ok(sim.controllers().some((c) => c.device === a.paths[0].device));
    });
  });

  describe("6: files that are not what they seem", () => {
    const bin = path.join(repoRoot(), "bin", "powerflex-nvme.js");
    const cli = (args: readonly string[], env: NodeJS.ProcessEnv = {}) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        // The timeout turns a hang (a FIFO read under the lock) into a failure.
        execFile(process.execPath, [bin, ...args], { timeout: 15_000, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
          resolve({ code: err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : -1) : 0, stdout, stderr });
        });
      });
    const status = () => cli(["status", "--json", "--sysfs-root", sim.settings.sysfsRoot, "--state-dir", sim.settings.stateDir, "--etc-nvme-dir", sim.settings.etcNvmeDir]);
    const devices = () => sim.controllers().map((c) => c.device).sort();

    /** An engine with a held path, and a check that a later refusal named `why` and touched no controller. */
    async function heldThenRefused(plant: () => void, why: RegExp): Promise<void> {
      const engine = NvmeEngine.on(new LocalHost(), sim.settings);
      await engine.attach("A", [SDT1]);
      const before = devices();
      plant();
      for (const op of [() => engine.release("A", [SDT1]), () => engine.attach("B", [SDT2])]) {
        await assert.rejects(op(), (err: unknown) => {
          assert.equal((err as Error).name, "LedgerRefusedError", (err as Error).message);
          assert.match((err as Error).message, why);
          return true;
        });
      }
      assert.deepEqual(devices(), before, "no controller cut or made");
      const st = await status();
      assert.equal(st.code, 1, st.stderr);
      assert.match(st.stderr, why);
    }

    it("a symbolic link planted at lock is not followed: refused, and nothing is created at its target", async () => {
      const target = path.join(dir, "victim");
      await heldThenRefused(() => {
        fs.rmSync(path.join(sim.settings.stateDir, "lock"));
        fs.symlinkSync(target, path.join(sim.settings.stateDir, "lock"));
      }, /the lock file .*\/lock is a symbolic link\. Replace it with a real file/);
      assert.equal(fs.existsSync(target), false);
      // Below the store too: the host access itself refuses to lock through a link.
      await assert.rejects(new LocalHost().lock(path.join(sim.settings.stateDir, "lock")), /symbolic link, which is never followed/);
      assert.equal(fs.existsSync(target), false);
    });

    it("a FIFO at ledger.json is refused at once by attach, destroy and status (no hang under the lock)", async () => {
      await heldThenRefused(() => {
        fs.rmSync(ledgerFile);
        execFileSync("mkfifo", [ledgerFile]);
      }, /the ledger .*ledger\.json is not a regular file \(fifo\)/);
    });

    it("a ledger linked to /dev/zero is refused, not read until memory runs out", async () => {
      await heldThenRefused(() => {
        fs.rmSync(ledgerFile);
        fs.symlinkSync("/dev/zero", ledgerFile);
      }, /the ledger .*ledger\.json is a symbolic link/);
    });

    it("a state dir others can write (0777) is refused, with the command that fixes it", async () => {
      await heldThenRefused(() => fs.chmodSync(sim.settings.stateDir, 0o777), /the state dir .*\/run\/pulumi-powerflex-nvme is unsafe: it is writable by its group and others \(mode 0777\); whoever can write it decides what the provider disconnects\. .*chmod 0700 /);
      fs.chmodSync(sim.settings.stateDir, 0o755);
      assert.equal((await NvmeEngine.on(new LocalHost(), sim.settings).release("A", [SDT1])).disconnected.length, 1, "fixed: it works again");
    });

    it("a ledger writable by all (0666) is refused", async () => {
      await heldThenRefused(() => fs.chmodSync(ledgerFile, 0o666), /the ledger .*ledger\.json is unsafe: it is writable by its group and others \(mode 0666\)/);
    });

    it("powerflex-nvme paths --ca-cert /dev/zero or a FIFO fails at once, naming the file", async () => {
      const fifo = path.join(dir, "ca.fifo");
      execFileSync("mkfifo", [fifo]);
      for (const [file, what] of [["/dev/zero", /character device/], [fifo, /FIFO/]] as const) {
        const r = await cli(["paths", "--endpoint", "https://127.0.0.1:1", "--username", "admin", "--protection-domain", "pd1", "--ca-cert", file], { POWERFLEX_PASSWORD: "x" });
        assert.equal(r.code, 2, r.stderr);
        assert.ok(r.stderr.includes(`cannot read --ca-cert ${file}`), r.stderr);
        assert.match(r.stderr, what);
      }
    });

    describe("through every host access", () => {
      let sshd: Sshd;
      const opened: SshHost[] = [];
      before(async () => (sshd = await startSshd()));
      after(async () => {
        for (const h of opened) await h.close();
        await sshd?.stop();
      });
      const accesses: [string, () => HostAccess][] = [
        ["local", () => new LocalHost()],
        ["ssh", () => {
          const h = new SshHost({ host: "127.0.0.1", port: sshd.port, user: sshd.user, hostKey: sshd.hostKey, agent: false, sudo: false }, { privateKey: sshd.privateKey });
          opened.push(h);
          return h;
        }],
      ];
      for (const [name, open] of accesses) {
        it(`${name}: readFile refuses FIFOs, devices, links (noFollow) and oversized files; inspect does not follow; lock refuses a link`, async () => {
          const h = open();
          const fifo = path.join(dir, "fifo");
          execFileSync("mkfifo", [fifo]);
          const link = path.join(dir, "zero");
          fs.symlinkSync("/dev/zero", link);
          const big = path.join(dir, "big");
          fs.writeFileSync(big, Buffer.alloc(MAX_FILE_BYTES + 1, 0x20));
          await assert.rejects(h.readFile(fifo), /fifo.*: it is a FIFO \(named pipe\), not a regular file/);
          await assert.rejects(h.readFile("/dev/zero"), /it is a character device, not a regular file/);
          await assert.rejects(h.readFile(link), /it is a character device/);
          await assert.rejects(h.readFile(link, { noFollow: true }), /zero: it is a symbolic link, which is never followed/);
          await assert.rejects(h.readFile(big), /big: it is larger than 16777216 bytes/);
          fs.writeFileSync(big, "ok");
          assert.equal(await h.readFile(big, { noFollow: true }), "ok");
          const info = await h.inspect(link);
          assert.equal(info?.kind, "symlink");
          assert.equal(info?.actorUid, process.geteuid?.());
          fs.chmodSync(big, 0o640);
          assert.deepEqual(await h.inspect(big), { kind: "file", uid: fs.statSync(big).uid, mode: 0o640, actorUid: process.geteuid?.() });
          assert.equal(await h.inspect(path.join(dir, "missing")), undefined);
          const victim = path.join(dir, "victim");
          fs.symlinkSync(victim, path.join(dir, "lock"));
          await assert.rejects(h.lock(path.join(dir, "lock"), { timeoutMs: 10_000 }), /lock: it is a symbolic link/);
          assert.equal(fs.existsSync(victim), false);
        });
      }
    });
  });

  describe("8: children get only the environment they need", () => {
    const SECRET = "pfnvme-env-canary-7f3a";
    let saved: NodeJS.ProcessEnv;
    let sshd: Sshd;
    before(async () => (sshd = await startSshd()));
    after(async () => sshd?.stop());
    beforeEach(() => {
      saved = { ...process.env };
      process.env.POWERFLEX_PASSWORD = SECRET;
      process.env.AWS_SECRET_ACCESS_KEY = SECRET;
    });
    afterEach(() => {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    });

    /** Wrappers first on PATH (and for nvme-cli) that write their environment to a file, then run the real program. */
    function spy(names: readonly string[]): { bin: string; dumps: () => Map<string, string[]> } {
      const bin = path.join(dir, "spybin");
      const out = path.join(dir, "envs");
      fs.mkdirSync(bin);
      fs.mkdirSync(out);
      for (const name of names) {
        const real = name === "nvme" ? sim.settings.nvmeCli : execFileSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).trim();
        fs.writeFileSync(path.join(bin, name), `#!/bin/sh\nenv > ${JSON.stringify(out)}/${name}.$$\nexec ${JSON.stringify(real)} "$@"\n`, { mode: 0o755 });
      }
      process.env.PATH = `${bin}:${process.env.PATH}`;
      return {
        bin,
        dumps: () => {
          const m = new Map<string, string[]>();
          for (const f of fs.readdirSync(out)) m.set(f.split(".")[0]!, [...(m.get(f.split(".")[0]!) ?? []), fs.readFileSync(path.join(out, f), "utf8")]);
          return m;
        },
      };
    }

    function assertClean(dumps: Map<string, string[]>, expected: readonly string[]): void {
      assert.deepEqual([...dumps.keys()].sort(), [...expected].sort(), "every program ran through its spy");
      for (const [name, envs] of dumps) {
        for (const env of envs) {
          assert.ok(!env.includes(SECRET), `${name} got a secret in its environment:\n${env}`);
          assert.doesNotMatch(env, /^POWERFLEX_|^AWS_/m, name);
          assert.match(env, /^PATH=/m, `${name} still finds programs`);
        }
      }
    }

    it("local: nvme, flock and cat see no POWERFLEX_PASSWORD or other secret of the provider", async () => {
      const s = spy(["nvme", "flock", "cat"]);
      const settings = { ...sim.settings, nvmeCli: path.join(s.bin, "nvme") };
      const engine = NvmeEngine.on(new LocalHost(), settings);
      await engine.attach("A", [SDT1]);
      await engine.release("A", [SDT1]);
      assertClean(s.dumps(), ["nvme", "flock", "cat"]);
    });

    it("ssh: the ssh client sees no secret either (nor SSH_AUTH_SOCK when the agent is not used)", async () => {
      process.env.SSH_AUTH_SOCK = path.join(dir, "agent.sock");
      const s = spy(["ssh"]);
      const h = new SshHost({ host: "127.0.0.1", port: sshd.port, user: sshd.user, hostKey: sshd.hostKey, agent: false, sudo: false }, { privateKey: sshd.privateKey });
      try {
        assert.equal((await h.run(["true"])).exitCode, 0);
        const unlock = await h.lock(path.join(dir, "ssh-lock"));
        await unlock();
      } finally {
        await h.close();
      }
      const dumps = s.dumps();
      assertClean(dumps, ["ssh"]);
      for (const env of dumps.get("ssh")!) assert.doesNotMatch(env, /^SSH_AUTH_SOCK=/m);
    });
  });

  describe("9: the host lock is not held across PowerFlex calls", () => {
    it("while one attachment's map call hangs, another process's attach and the same engine's release go through", async () => {
      const engine = NvmeEngine.on(new LocalHost(), sim.settings);
      let answer: (v: "created") => void = () => undefined;
      let called: () => void = () => undefined;
      const inMap = new Promise<void>((r) => (called = r));
      const holding = engine.holdVolume("A", "h/v", () => {
        called();
        return new Promise((r) => (answer = r)); // a gateway that does not answer (yet)
      });
      await inMap;
      // Another process on the host (flock is per process; a child takes it as `pulumi up` of another stack would).
      const script = `require(${JSON.stringify(require.resolve("../../../provider/host/engine"))}).NvmeEngine.on(new (require(${JSON.stringify(require.resolve("../../../provider/host/access/local"))}).LocalHost)(), ${JSON.stringify(sim.settings)}).attach("B", [${JSON.stringify(SDT1)}]).then(() => process.exit(0), (e) => { console.error(e.message); process.exit(1); })`;
      execFileSync(process.execPath, ["-e", script], { timeout: 20_000 });
      await engine.release("B", [SDT1]); // and this process's own queue is free too
      answer("created");
      assert.equal(await holding, "created");
      assert.deepEqual(JSON.parse(fs.readFileSync(ledgerFile, "utf8")).volumes["h/v"], { createdBy: "A", owners: ["A"] });
    });

    it("a second holder of the same mapping waits for the first's call, then joins it (no second map)", async () => {
      const engine = NvmeEngine.on(new LocalHost(), sim.settings);
      let answer: (v: "created") => void = () => undefined;
      let called: () => void = () => undefined;
      const inMap = new Promise<void>((r) => (called = r));
      const maps: string[] = [];
      const first = engine.holdVolume("A", "h/v", () => {
        maps.push("A");
        called();
        return new Promise((r) => (answer = r));
      });
      await inMap;
      const second = engine.holdVolume("B", "h/v", async () => {
        maps.push("B");
        return "adopted"; // it is mapped by then
      });
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(maps, ["A"], "B waits on the mapping's lock");
      answer("created");
      assert.equal(await first, "created");
      assert.equal(await second, "adopted");
      assert.deepEqual(JSON.parse(fs.readFileSync(ledgerFile, "utf8")).volumes["h/v"], { createdBy: "A", owners: ["A", "B"] });
      assert.equal(await engine.releaseVolume("A", "h/v", async () => assert.fail("B still holds it")), false);
      let unmapped = 0;
      assert.equal(await engine.releaseVolume("B", "h/v", async () => void unmapped++), true);
      assert.equal(unmapped, 1);
      assert.deepEqual(JSON.parse(fs.readFileSync(ledgerFile, "utf8")).volumes, {});
    });
    it("a mapping made while the owner's destroy began is unmapped again, not held: no ghost hold, no mapping left", async () => {
      const engine = NvmeEngine.on(new LocalHost(), sim.settings);
      let unmapped = 0;
      const mapThenEnd = async () => {
        await engine.end("A"); // the destroy of A runs while PowerFlex answers A's map
        return "created" as const;
      };
      await assert.rejects(engine.holdVolume("A", "h/v", mapThenEnd, async () => void unmapped++), { name: "EndedOwnerError" });
      assert.equal(unmapped, 1);
      assert.deepEqual(JSON.parse(fs.readFileSync(ledgerFile, "utf8")).volumes, {});
      await assert.rejects(engine.holdVolume("A", "h/v", async () => assert.fail("no map for an ended owner")), { name: "EndedOwnerError" });
    });

    it("object locks are a fixed set of files: a hundred mappings leave at most OBJECT_LOCK_STRIPES, and two processes on one mapping still exclude each other", async () => {
      const store = new LedgerStore(new LocalHost(), sim.settings, 1_000);
      for (let v = 0; v < 100; v++) await store.withObjectLock(`volume h/${v.toString(16).padStart(16, "0")}`, async () => undefined);
      const lockFiles = () => fs.readdirSync(store.home).filter((n) => n.startsWith("object-"));
      assert.ok(lockFiles().length <= OBJECT_LOCK_STRIPES, `${lockFiles().length} object lock files: ${lockFiles().join(", ")}`);
      assert.ok(lockFiles().length > 1, "the mappings are spread over the stripes");

      // Another process holds one mapping's lock until told to let go.
      const script = `const { LedgerStore } = require(${JSON.stringify(require.resolve("../../../provider/host/ledger/store"))});
        const { LocalHost } = require(${JSON.stringify(require.resolve("../../../provider/host/access/local"))});
        new LedgerStore(new LocalHost(), ${JSON.stringify(sim.settings)}).withObjectLock("volume h/v", () => { console.log("held"); return new Promise((r) => process.stdin.once("data", r)); }).then(() => process.exit(0));`;
      const child = spawn(process.execPath, ["-e", script], { stdio: ["pipe", "pipe", "inherit"] });
      try {
        await new Promise<void>((resolve, reject) => {
          child.stdout.on("data", (d: Buffer) => d.toString().includes("held") && resolve());
          child.once("exit", (code) => reject(new Error(`the holder exited ${code} before holding`)));
        });
        await assert.rejects(store.withObjectLock("volume h/v", async () => assert.fail("the other process holds it")), { name: "LockTimeoutError" });
        const done = new Promise((r) => child.once("exit", r));
        child.stdin.write("go\n");
        await done;
        assert.equal(await store.withObjectLock("volume h/v", async () => "mine"), "mine");
        assert.ok(lockFiles().length <= OBJECT_LOCK_STRIPES);
      } finally {
        child.kill();
      }
    });
  });

  describe("5: a full disk", () => {
    /** The kernel's answer to every write of a temporary ledger file while `full` is set (the real LocalHost above it). */
    let full = false;
    let restore: () => void = () => undefined;
    beforeEach(async () => {
      full = false;
      const probe = await fs.promises.open(__filename, "r");
      const proto = Object.getPrototypeOf(probe) as { writeFile: (...a: unknown[]) => Promise<void> };
      await probe.close();
      const original = proto.writeFile;
      proto.writeFile = async function (this: unknown, ...args: unknown[]) {
        if (full) throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC", errno: -28, syscall: "write" });
        return original.apply(this, args);
      };
      restore = () => (proto.writeFile = original);
    });
    afterEach(() => restore());

    it("the commit after connecting fails: the error names the ledger and the fix, the controllers made are disconnected, no temporary file stays", async () => {
      const host = new LocalHost();
      const cli = new NvmeCli(host, sim.settings);
      // The disk fills up while nvme connects (after the intents were written).
      const engine = new NvmeEngine({
        host,
        settings: sim.settings,
        driver: { connect: async (id, o) => { const r = await cli.connect(id, o); full = true; return r; } },
        readControllers: (only) => readControllers(host, sim.settings, only ?? {}),
      });
      const foreign = sim.addForeignController({ traddr: "10.0.0.9", subsysnqn: NQN });
      await assert.rejects(engine.attach("A", [SDT1, SDT2]), (err: Error) => {
        assert.equal(err.name, "AttachError");
        assert.ok(err.message.includes(`could not write the ownership ledger ${ledgerFile} on local: ENOSPC: no space left on device, write`), err.message);
        assert.match(err.message, new RegExp(`The filesystem of ${sim.settings.stateDir} is full: free space there \\(\`df ${sim.settings.stateDir}\`\\), then run again; so the attach is undone: disconnected the 2 controller\\(s\\) it made`));
        return true;
      });
      assert.deepEqual(sim.controllers().map((c) => c.device), [foreign], "no orphan: only the foreign controller is left");
      assert.deepEqual(fs.readdirSync(sim.settings.stateDir).filter((n) => n.endsWith(".tmp")), [], "no temporary ledger file left");

      full = false; // space freed: the intents left on disk are dropped, and attach works
      const again = await NvmeEngine.on(host, sim.settings).attach("A", [SDT1]);
      assert.deepEqual(again.paths.map((p) => p.origin), ["created"]);
      const ledger = JSON.parse(fs.readFileSync(ledgerFile, "utf8"));
      assert.deepEqual(Object.values(ledger.paths as Record<string, { owners: string[]; pending?: unknown }>).map((r) => [r.owners, r.pending]), [[["A"], undefined]]);
    });

    it("any failed write of a temporary file removes it", async () => {
      full = true;
      await assert.rejects(new LocalHost().writeFileAtomic(path.join(dir, "x.json"), "{}"), /ENOSPC/);
      assert.deepEqual(fs.readdirSync(dir).filter((n) => n.includes("x.json")), []);
    });
  });

  describe("7: SSH", () => {
    let sshd: Sshd;
    const opened: SshHost[] = [];
    before(async () => (sshd = await startSshd()));
    afterEach(async () => {
      for (const h of opened.splice(0)) await h.close();
    });
    after(async () => sshd?.stop());
    const open = () => {
      const h = new SshHost({ host: "127.0.0.1", port: sshd.port, user: sshd.user, hostKey: sshd.hostKey, agent: false, sudo: false }, { privateKey: sshd.privateKey });
      opened.push(h);
      return h;
    };
    const logins = () => sshd.log().split("Accepted publickey").length - 1;

    it("the connection that holds the host lock drops: the transaction stops, writes nothing more, and does not reconnect inside it", async () => {
      const h = open();
      const store = new LedgerStore(h, sim.settings);
      await assert.rejects(
        store.transact(async (tx) => {
          tx.ledger.hosts["before"] = { nqn: "nqn.x" };
          await tx.save();
          const before = logins();
          sshd.dropConnections(); // the host releases the lock with the connection
          tx.ledger.hosts["after"] = { nqn: "nqn.y" };
          await tx.save().finally(() => assert.equal(logins(), before, "no new connection inside the transaction"));
        }),
        /lost the host lock|connection .*lost.*host lock rode the lost connection/s,
      );
      assert.deepEqual(Object.keys(JSON.parse(fs.readFileSync(ledgerFile, "utf8")).hosts), ["before"]);
      // The next transaction connects again and works.
      await store.transact(async (tx) => void (tx.ledger.hosts["next"] = { nqn: "nqn.z" }));
      assert.deepEqual(Object.keys(JSON.parse(fs.readFileSync(ledgerFile, "utf8")).hosts).sort(), ["before", "next"]);
    });

    for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
      it(`a provider ended by ${signal} leaves no /tmp/pfssh-* directory and no ssh master`, async () => {
        const tmp = path.join(dir, "tmp");
        fs.mkdirSync(tmp);
        const target = { host: "127.0.0.1", port: sshd.port, user: sshd.user, hostKey: sshd.hostKey, agent: false, sudo: false };
        const script = `const { SshHost } = require(${JSON.stringify(require.resolve("../../../provider/host/access/ssh/ssh-host"))});
          const h = new SshHost(${JSON.stringify(target)}, { privateKey: process.env.PFNVME_TEST_KEY });
          h.run(["true"]).then(() => { console.log("ready"); setInterval(() => undefined, 1000); }, (e) => { console.error(e.message); process.exit(3); });`;
        const child = spawn(process.execPath, ["-e", script], { env: { ...process.env, TMPDIR: tmp, PFNVME_TEST_KEY: sshd.privateKey }, stdio: ["ignore", "pipe", "pipe"] });
        let err = "";
        child.stderr.on("data", (d: Buffer) => (err += d.toString()));
        const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_c, sig) => resolve(sig)));
        await new Promise<void>((resolve, reject) => {
          child.stdout.on("data", (d: Buffer) => d.toString().includes("ready") && resolve());
          void exited.then(() => reject(new Error(`ended early: ${err}`)));
        });
        const work = fs.readdirSync(tmp).filter((n) => n.startsWith("pfssh-"));
        assert.equal(work.length, 1, "the connection's directory exists while it runs");
        const ctl = path.join(tmp, work[0]!, "ctl");
        assert.ok(fs.existsSync(ctl), "the master's control socket");
        child.kill(signal);
        assert.equal(await exited, signal, "it still ends by the signal");
        assert.deepEqual(fs.readdirSync(tmp), [], "no /tmp/pfssh-* left");
        const masters = execFileSync("ps", ["-eo", "args"], { encoding: "utf8" }).split("\n").filter((l) => l.includes(ctl) && !l.includes("ps -eo"));
        assert.deepEqual(masters, [], "no ssh master left");
      });
    }

    it("the private key is never in a file, not even while the master logs in", async () => {
      const tmp = path.join(dir, "tmp");
      const out = path.join(dir, "out");
      const bin = path.join(dir, "masterbin");
      for (const d of [tmp, out, bin]) fs.mkdirSync(d);
      const real = execFileSync("sh", ["-c", "command -v ssh"], { encoding: "utf8" }).trim();
      // At the master's start (-M), look for the key in every file of the provider's temporary directory.
      fs.writeFileSync(
        path.join(bin, "ssh"),
        `#!/bin/sh\ncase " $* " in *" -M "*) grep -rl "PRIVATE KEY" ${tmp} > ${out}/found 2>/dev/null; echo ran > ${out}/master ;; esac\nexec ${real} "$@"\n`,
        { mode: 0o755 },
      );
      const saved = { PATH: process.env.PATH, TMPDIR: process.env.TMPDIR };
      process.env.PATH = `${bin}:${saved.PATH}`;
      process.env.TMPDIR = tmp;
      try {
        const h = open();
        assert.equal((await h.run(["echo", "in"])).stdout, "in\n");
      } finally {
        process.env.PATH = saved.PATH;
        if (saved.TMPDIR === undefined) delete process.env.TMPDIR;
        else process.env.TMPDIR = saved.TMPDIR;
      }
      assert.equal(fs.readFileSync(path.join(out, "master"), "utf8"), "ran\n");
      assert.equal(fs.readFileSync(path.join(out, "found"), "utf8"), "", "a file held the private key");
    });

    it("a ledger written by someone else while we hold the lock (generation moved) is not overwritten", async () => {
      const store = new LedgerStore(new LocalHost(), sim.settings);
      await store.transact(async (tx) => void (tx.ledger.hosts["first"] = { nqn: "nqn.a" }));
      assert.equal(JSON.parse(fs.readFileSync(ledgerFile, "utf8")).generation, 1);
      await assert.rejects(
        store.transact(async (tx) => {
          // As if our lock had gone unnoticed and another process took it and wrote.
          const theirs = { ...JSON.parse(fs.readFileSync(ledgerFile, "utf8")), generation: 2, hosts: { theirs: { nqn: "nqn.b" } } };
          fs.writeFileSync(ledgerFile, JSON.stringify(theirs));
          tx.ledger.hosts["ours"] = { nqn: "nqn.c" };
          await tx.save();
        }),
        /it changed under our host lock \(generation 2; we read 1\): another process wrote it, so the lock was not ours\. This operation wrote nothing more/,
      );
      assert.deepEqual(Object.keys(JSON.parse(fs.readFileSync(ledgerFile, "utf8")).hosts), ["theirs"]);
    });

    it("a write whose data arrives cut short is not renamed into place", async () => {
      const bin = path.join(dir, "cutbin");
      fs.mkdirSync(bin);
      const real = execFileSync("sh", ["-c", "command -v ssh"], { encoding: "utf8" }).trim();
      // An ssh that loses all but 5 bytes of the written data on the way (only for the write command).
      fs.writeFileSync(path.join(bin, "ssh"), `#!/bin/sh\ncase "$*" in *"not renamed"*) head -c 5 | ${real} "$@" ;; *) exec ${real} "$@" ;; esac\n`, { mode: 0o755 });
      const target = path.join(dir, "w", "ledger.json");
      fs.mkdirSync(path.dirname(target));
      fs.writeFileSync(target, "old\n");
      const saved = process.env.PATH;
      process.env.PATH = `${bin}:${saved}`;
      try {
        await assert.rejects(open().writeFileAtomic(target, '{"version": 2, "paths": {}}\n'), /could not write .*ledger\.json: what arrived is not what was sent \(size or SHA-256 differs\); not renamed/);
      } finally {
        process.env.PATH = saved;
      }
      assert.equal(fs.readFileSync(target, "utf8"), "old\n");
      assert.deepEqual(fs.readdirSync(path.dirname(target)), ["ledger.json"], "the temporary file is removed");
    });
  });
});
