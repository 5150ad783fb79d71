import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { NvmeEngine } from "../../../provider/host/engine";
import { LocalHost } from "../../../provider/host/access/local";
import { identityKey, type PathIdentity } from "../../../provider/host/nvme/identity";
import { createSimHost, DEFAULT_SIM_HOSTID, DEFAULT_SIM_HOSTNQN, type SimHost } from "../../../provider/tools/simhost";
import { repoRoot } from "../../support/paths";
import { makeKeyPair, startSshd, type Sshd } from "../../support/sshd";

/**
 * `powerflex-nvme status` as a user runs it (the real bin in a child process) against the simulated host:
 * a created and an adopted path held by two attachments next to controllers of other NVMe users.
 */

const bin = path.join(repoRoot(), "bin", "powerflex-nvme.js");
const NQN = "nqn.1988-11.com.dell:powerflex:00:4a54e9f1000000ab";
const PURE = "nqn.2010-06.com.purestorage:flasharray.6b1a2f0c1d2e3f40";
const OTHER_HOST = "nqn.2014-08.org.example:another-tool";
const OTHER_HOSTID = "0d4e8a7c-2f61-4b5e-9d3a-7c1e5b2a9f00";
const DISCOVERY = "nqn.2014-08.org.nvmexpress.discovery";
const pathTo = (traddr: string): PathIdentity => ({
  transport: "tcp", traddr, trsvcid: 4420, subsysnqn: NQN, hostnqn: DEFAULT_SIM_HOSTNQN, hostid: DEFAULT_SIM_HOSTID,
});

interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function status(args: readonly string[]): Promise<Ran> {
  return new Promise((resolve) => {
    // The timeout turns a status that waits on the ledger lock into a failure rather than a hang.
    execFile(process.execPath, [bin, "status", ...args], { timeout: 15_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const flagsOf = (sim: SimHost) => [
  "--sysfs-root", sim.settings.sysfsRoot, "--state-dir", sim.settings.stateDir, "--etc-nvme-dir", sim.settings.etcNvmeDir,
];

function lastJson(stdout: string): { controllers: Record<string, unknown>[] } {
  const lines = stdout.trimEnd().split("\n");
  return JSON.parse(lines[lines.length - 1]!);
}

/** Every file and link under `dir` with its content or target: to prove status changed nothing. */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isSymbolicLink()) out[p] = `-> ${fs.readlinkSync(p)}`;
      else if (e.isDirectory()) walk(p);
      else out[p] = `${fs.statSync(p).mtimeMs} ${fs.readFileSync(p, "utf8")}`;
    }
  };
  walk(dir);
  return out;
}

describe("CLI: powerflex-nvme status on the simulated host", function () {
  this.timeout(30_000);
  let dir: string;
  let sim: SimHost;
  let created: string;
  let adopted: string;
  const foreign: Record<string, string> = {};

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(tmpdir(), "status-"));
    sim = createSimHost(dir, { version: "2.11" });
    foreign.pure = sim.addForeignController({ traddr: "10.9.9.9", subsysnqn: PURE });
    foreign.otherTool = sim.addForeignController({ traddr: "10.0.0.3", subsysnqn: NQN, hostnqn: OTHER_HOST, hostid: OTHER_HOSTID });
    foreign.discovery = sim.addForeignController({ traddr: "10.0.0.1", trsvcid: 8009, subsysnqn: DISCOVERY, cntrltype: "discovery" });
    adopted = sim.addForeignController({ traddr: "10.0.0.2", subsysnqn: NQN }); // our host NQN, there before us
    const engine = NvmeEngine.on(new LocalHost(), sim.settings);
    const a = await engine.attach("pfnvme-a", [pathTo("10.0.0.1"), pathTo("10.0.0.2")]);
    assert.deepEqual(a.paths.map((p) => p.origin), ["created", "adopted"]);
    created = a.paths[0].device;
    await engine.attach("pfnvme-b", [pathTo("10.0.0.1")]);
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("--json: the last line lists every controller with identity, state and owners, or foreign", async () => {
    const r = await status([...flagsOf(sim), "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const { controllers } = lastJson(r.stdout);
    const row = (device: string, traddr: string, trsvcid: number, subsysnqn: string, hostnqn: string, owners: string[], createdBy: string | null) =>
      ({ device, transport: "tcp", traddr, trsvcid, subsysnqn, hostnqn, state: "live", owners, createdBy });
    assert.deepEqual(controllers, [
      row(foreign.pure, "10.9.9.9", 4420, PURE, DEFAULT_SIM_HOSTNQN, [], null),
      row(foreign.otherTool, "10.0.0.3", 4420, NQN, OTHER_HOST, [], null),
      row(foreign.discovery, "10.0.0.1", 8009, DISCOVERY, DEFAULT_SIM_HOSTNQN, [], null),
      row(adopted, "10.0.0.2", 4420, NQN, DEFAULT_SIM_HOSTNQN, ["pfnvme-a"], "external"),
      row(created, "10.0.0.1", 4420, NQN, DEFAULT_SIM_HOSTNQN, ["pfnvme-a", "pfnvme-b"], "pfnvme-a"),
    ].sort((x, y) => Number(x.device.slice(4)) - Number(y.device.slice(4))));
    // Exactly the documented keys, in order, on every row.
    for (const c of controllers) {
      assert.deepEqual(Object.keys(c), ["device", "transport", "traddr", "trsvcid", "subsysnqn", "hostnqn", "state", "owners", "createdBy"]);
    }
    // The devices are the simulated kernel's, not made up.
    assert.deepEqual(controllers.map((c) => c.device).sort(), sim.controllers().map((c) => c.device).sort());
  });

  it("the table shows each controller's ownership and marks this host's NQN", async () => {
    sim.setState(created, "connecting");
    const r = await status(flagsOf(sim));
    assert.equal(r.code, 0, r.stderr);
    const line = (device: string) => r.stdout.split("\n").find((l) => l.startsWith(`${device} `)) ?? assert.fail(`no row for ${device}:\n${r.stdout}`);
    assert.match(r.stdout, new RegExp(`^host NQN ${DEFAULT_SIM_HOSTNQN.replace(/[.]/g, "\\.")};`));
    assert.match(r.stdout, /^DEVICE\s+TRANSPORT\s+ADDRESS\s+STATE\s+SUBSYSTEM NQN\s+HOST NQN\s+OWNERSHIP$/m);
    for (const d of Object.values(foreign)) assert.match(line(d), /foreign \(never touched\)$/);
    assert.match(line(foreign.otherTool), new RegExp(OTHER_HOST));
    assert.match(line(foreign.pure), /10\.9\.9\.9:4420\s+live\s+.*\(this host\)/);
    assert.match(line(adopted), /10\.0\.0\.2:4420 .*was there before us; held by pfnvme-a$/);
    assert.match(line(created), /10\.0\.0\.1:4420\s+connecting\s+.*created by pfnvme-a; held by pfnvme-a, pfnvme-b$/);
  });

  it("control characters from the host (an ESC sequence, a newline in an NQN) are escaped, never printed raw", async () => {
    const evil = `${PURE}\u001b[2J\nfake-row`;
    const d = sim.addForeignController({ traddr: "10.9.9.8", subsysnqn: evil });
    const r = await status(flagsOf(sim));
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes("\u001b"), "an ESC reached the terminal");
    assert.ok(!r.stdout.split("\n").some((l) => l.startsWith("fake-row")), "a newline made a fake row");
    assert.match(r.stdout, new RegExp(`^${d} .*\\\\x1b\\[2J\\\\nfake-row`, "m"));
  });

  it("is read-only: answers while another process holds the ledger lock, and changes no file", async () => {
    const before = tree(dir); // calls.log included: status never runs nvme-cli
    const unlock = await new LocalHost().lock(path.join(sim.settings.stateDir, "lock"));
    try {
      const r = await status([...flagsOf(sim), "--json"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(lastJson(r.stdout).controllers.length, 5);
    } finally {
      await unlock();
    }
    assert.deepEqual(tree(dir), before);
  });

  it("lists volume holds, intents in flight and records whose controller is gone; a ledger without volumes reads", async () => {
    // Written a moment ago, before any controller of ours existed, and not expired: it may claim the path's controller.
    const intentInFlight = (owner: string) => ({ owner, since: new Date().toISOString(), expires: new Date(Date.now() + 90_000).toISOString(), instances: [] });
    const engine = NvmeEngine.on(new LocalHost(), sim.settings);
    await engine.holdVolume("pfnvme-a", "6b1f00000000000a/4a1d5e0f00000001", async () => "created");
    const ledgerFile = path.join(sim.settings.stateDir, "ledger.json");
    const ledger = JSON.parse(fs.readFileSync(ledgerFile, "utf8"));
    const gone = pathTo("10.0.0.4");
    ledger.paths[identityKey(gone)] = { identity: gone, createdBy: "pfnvme-c", owners: ["pfnvme-c"] };
    // A crash right after the intent was written: the controller exists, nobody is recorded as its owner yet.
    const inFlight = sim.addForeignController({ traddr: "10.0.0.5", subsysnqn: NQN });
    ledger.paths[identityKey(pathTo("10.0.0.5"))] = { identity: pathTo("10.0.0.5"), createdBy: "pfnvme-d", owners: [], pending: intentInFlight("pfnvme-d") };
    fs.writeFileSync(ledgerFile, JSON.stringify(ledger));

    const table = await status(flagsOf(sim));
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /Volume mappings held[^\n]*\n {2}6b1f00000000000a\/4a1d5e0f00000001: mapped by pfnvme-a; held by pfnvme-a$/m);
    assert.match(table.stdout, /no controller on the host[^\n]*\n {2}10\.0\.0\.4:4420 \(nqn[^)]*\) as nqn[^:]*:[^ ]*: held by pfnvme-c$/m);
    assert.match(table.stdout, new RegExp(`^${inFlight} .*being connected by pfnvme-d$`, "m"));
    const json = lastJson((await status([...flagsOf(sim), "--json"])).stdout);
    assert.deepEqual(json.controllers.find((c) => c.device === inFlight)?.owners, []);
    assert.equal(json.controllers.find((c) => c.device === inFlight)?.createdBy, null);

    // Written before volumes existed: no `volumes` key.
    delete ledger.volumes;
    fs.writeFileSync(ledgerFile, JSON.stringify(ledger));
    const old = await status([...flagsOf(sim), "--json"]);
    assert.equal(old.code, 0, old.stderr);
    assert.equal(lastJson(old.stdout).controllers.length, 6);
  });

  it("no ledger yet: every controller is foreign", async () => {
    fs.rmSync(path.join(sim.settings.stateDir, "ledger.json"));
    const r = await status(["--sysfs-root", sim.settings.sysfsRoot, "--state-dir", path.join(dir, "nothing-here"), "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const { controllers } = lastJson(r.stdout);
    assert.equal(controllers.length, 5);
    assert.ok(controllers.every((c) => c.createdBy === null && (c.owners as unknown[]).length === 0));
  });

  it("bad flags and a broken ledger: a clear error naming the flag or the file, exit 2 or 1", async () => {
    const cases: [string[], number, RegExp][] = [
      [["--sysfs-root", "sys"], 2, /--sysfs-root "sys": sysfsRoot must be an absolute path/],
      [["--state-dir="], 2, /--state-dir "": stateDir must not be empty/],
      [["--etc-nvme-dir", "/etc/nvme\u0007"], 2, /--etc-nvme-dir .*must not contain control characters/],
      [["--sysfs-root", path.join(dir, "no-such-dir")], 2, /--sysfs-root ".*no-such-dir": no such directory/],
      [["--sysfs-root"], 2, /--sysfs-root/],
      [["--nvme-cli", "/usr/sbin/nvme"], 2, /Unknown option '--nvme-cli'/],
      [["extra"], 2, /extra/],
    ];
    for (const [args, code, message] of cases) {
      const r = await status(args);
      assert.equal(r.code, code, `${args.join(" ")}: exit ${r.code}, stderr ${r.stderr}`);
      assert.match(r.stderr, message, args.join(" "));
      assert.equal(r.stdout, "", `${args.join(" ")} printed to stdout`);
    }
    fs.writeFileSync(path.join(sim.settings.stateDir, "ledger.json"), "{ not json");
    const broken = await status(flagsOf(sim));
    assert.equal(broken.code, 1);
    assert.match(broken.stderr, /refusing the ownership ledger .*ledger\.json on local: it is not valid JSON/);
  });

  for (const [what, content, why] of [["empty", "", /it is empty \(0 bytes\)/], ["whitespace-only", " \n\t\n", /it holds only whitespace/]] as const) {
    it(`shows a ledger it had to refuse (${what}) and why, with every controller's ownership unknown, exit 1`, async () => {
      fs.writeFileSync(path.join(sim.settings.stateDir, "ledger.json"), content);
      const table = await status(flagsOf(sim));
      assert.equal(table.code, 1, table.stderr);
      assert.match(table.stdout, new RegExp(`^${created} .*unknown: the ledger was refused$`, "m"));
      assert.match(table.stdout, /^LEDGER REFUSED: refusing the ownership ledger .*ledger\.json on local: .*powerflex-nvme status/m);
      assert.match(table.stdout, why);
      assert.match(table.stderr, why);
      const json = lastJson((await status([...flagsOf(sim), "--json"])).stdout) as { controllers: unknown[]; ledgerRefused?: string };
      assert.equal(json.controllers.length, 5);
      assert.match(json.ledgerRefused ?? "", why);
    });
  }
});

describe("CLI: powerflex-nvme status --ssh through a real OpenSSH server", function () {
  this.timeout(60_000);
  let dir: string;
  let sim: SimHost;
  let sshd: Sshd;
  let keyFile: string;
  let sshFlags: string[];

  before(async () => {
    sshd = await startSshd();
    dir = fs.mkdtempSync(path.join(tmpdir(), "status-ssh-"));
    sim = createSimHost(path.join(dir, "sim"), { version: "2.11" });
    sim.addForeignController({ traddr: "10.9.9.9", subsysnqn: PURE });
    await NvmeEngine.on(new LocalHost(), sim.settings).attach("pfnvme-a", [pathTo("10.0.0.1")]);
    keyFile = path.join(dir, "id_ed25519");
    fs.writeFileSync(keyFile, sshd.privateKey, { mode: 0o600 });
    sshFlags = ["--ssh", `${sshd.user}@127.0.0.1`, "--ssh-port", String(sshd.port), "--ssh-host-key", sshd.hostFingerprint, "--ssh-key", keyFile];
  });
  after(async () => {
    await sshd?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("shows the remote host exactly as a local run does, and says which host it is", async () => {
    const local = await status([...flagsOf(sim), "--json"]);
    const remote = await status([...flagsOf(sim), ...sshFlags, "--json"]);
    assert.equal(remote.code, 0, remote.stderr);
    assert.deepEqual(lastJson(remote.stdout), lastJson(local.stdout));
    assert.deepEqual(lastJson(remote.stdout).controllers.map((c) => c.createdBy), [null, "pfnvme-a"]);
    assert.ok(sshd.log().includes("Accepted publickey"), "the run did not log in over SSH");
    const table = await status([...flagsOf(sim), ...sshFlags]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, new RegExp(`^remote host ${sshd.user}@127\\.0\\.0\\.1:${sshd.port} \\(over SSH\\)$`, "m"));
  });

  it("refuses a host that cannot prove the pinned key, and bad --ssh flags, without printing a key", async () => {
    const [, otherPub] = makeKeyPair(dir, "other");
    const mismatch = await status([...flagsOf(sim), ...sshFlags.slice(0, 4), "--ssh-host-key", otherPub, "--ssh-key", keyFile]);
    assert.equal(mismatch.code, 1);
    assert.match(mismatch.stderr, /host key mismatch: expected SHA256:\S+, the host offered SHA256:\S+/);
    const garbage = path.join(dir, "not-a-key");
    fs.writeFileSync(garbage, "secret-looking-text-9f3c\n");
    const cases: [string[], RegExp][] = [
      [["--ssh-port", "22"], /--ssh-port needs --ssh USER@HOST/],
      [["--ssh", "127.0.0.1"], /--ssh "127.0.0.1": must be USER@HOST/],
      [["--ssh=-oProxyCommand=x@127.0.0.1", "--ssh-host-key", sshd.hostFingerprint, "--ssh-agent"], /--ssh "-oProxyCommand=x@127.0.0.1": must be a Unix user name/],
      [["--ssh", "root@-oProxyCommand=x", "--ssh-host-key", sshd.hostFingerprint, "--ssh-agent"], /--ssh "root@-oProxyCommand=x": /],
      [[...sshFlags.slice(0, 4), "--ssh-key", keyFile], /--ssh-host-key "": /],
      [[...sshFlags.slice(0, 6), "--ssh-key", garbage], /--ssh-key ".*not-a-key": must be a private key/],
      [[...sshFlags.slice(0, 6), "--ssh-key", path.join(dir, "missing")], /--ssh-key ".*missing": cannot read it \(ENOENT\)/],
      [[...sshFlags.slice(0, 4), "--ssh-port", "70000", "--ssh-host-key", sshd.hostFingerprint, "--ssh-agent"], /--ssh-port "70000": /],
    ];
    for (const [args, message] of cases) {
      const r = await status([...flagsOf(sim), ...args]);
      assert.equal(r.code, 2, `${args.join(" ")}: exit ${r.code}, stderr ${r.stderr}`);
      assert.match(r.stderr, message, args.join(" "));
      const keyBody = sshd.privateKey.split("\n")[1]!; // a line of the key's base64
      assert.ok(!r.stderr.includes("secret-looking-text") && !r.stderr.includes(keyBody), `a key file's text was printed: ${r.stderr}`);
    }
  });
});
