import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { AttachError, InUseError, NvmeEngine } from "../../provider/host/engine";
import { LocalHost } from "../../provider/host/access/local";
import { identityKey as key, type PathIdentity } from "../../provider/host/nvme/identity";
import { createSimHost, DEFAULT_SIM_HOSTID, DEFAULT_SIM_HOSTNQN, type SimController, type SimHost, type SimVersion } from "../../provider/tools/simhost";
import { runSim } from "../../provider/tools/simhost/sim";

/**
 * The engine end to end on the simulated host (real LocalHost, real nvme-cli adapter, real sysfs reader,
 * simulated nvme binary and kernel). The same scenarios run on the real kernel in test/kernel/engine.test.ts.
 */

const NQN = "nqn.1988-11.com.dell:powerflex:00:4a54e9f1000000ab";
const PURE = "nqn.2010-06.com.purestorage:flasharray.6b1a2f0c1d2e3f40";
const OTHER_HOST = "nqn.2014-08.org.example:another-tool";
const OTHER_HOSTID = "0d4e8a7c-2f61-4b5e-9d3a-7c1e5b2a9f00";
const path_ = (traddr: string, trsvcid = 4420): PathIdentity => ({
  transport: "tcp", traddr, trsvcid, subsysnqn: NQN, hostnqn: DEFAULT_SIM_HOSTNQN, hostid: DEFAULT_SIM_HOSTID,
});
const SDT1 = path_("10.0.0.1");
const SDT2 = path_("10.0.0.2");

const host = new LocalHost();
const snapshot = (cs: SimController[]) => cs.map((c) => `${c.device} ${c.traddr}:${c.trsvcid} ${c.subsysnqn} ${c.hostnqn} ${c.state}`).sort();

/** Foreign controllers a real host could carry: another array, another tool on our subsystem, a discovery controller. */
function addForeign(sim: SimHost): string[] {
  sim.addForeignController({ traddr: "10.9.9.9", subsysnqn: PURE });
  sim.addForeignController({ traddr: "10.0.0.1", trsvcid: 4421, subsysnqn: NQN, hostnqn: OTHER_HOST, hostid: OTHER_HOSTID });
  sim.addForeignController({ traddr: "10.0.0.1", trsvcid: 8009, subsysnqn: "nqn.2014-08.org.nvmexpress.discovery", cntrltype: "discovery" });
  return snapshot(sim.controllers());
}

/** The engine ran no `nvme disconnect` of any kind, and the kernel deleted only `allowed`, each through its delete_controller. */
function assertOnlyDisconnected(sim: SimHost, allowed: readonly string[]): void {
  for (const argv of sim.calls()) assert.ok(!argv[0].startsWith("disconnect"), `ran nvme ${argv.join(" ")}`);
  for (const d of sim.deletes()) {
    assert.equal(d.by, "delete_controller");
    assert.ok(allowed.includes(d.device), `deleted ${d.device}, allowed ${allowed.join(", ") || "none"}`);
  }
}

function assertForeignAlive(sim: SimHost, before: readonly string[]): void {
  const now = snapshot(sim.controllers());
  for (const line of before) assert.ok(now.includes(line), `foreign controller gone or changed: ${line}`);
}

describe("host engine on the simulated host", function () {
  this.timeout(30_000);
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), "engine-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("a release reads the directory of the object it recorded, not the host's other controllers; a gone object, the scope", async () => {
    const sim = createSimHost(dir, { version: "2.11" });
    for (let i = 0; i < 50; i++) sim.addForeignController({ traddr: `10.7.0.${i}`, subsysnqn: `${PURE}${i}` });
    for (let i = 0; i < 50; i++) sim.addForeignController({ traddr: "10.0.0.1", subsysnqn: NQN, hostnqn: `${OTHER_HOST}-${i}`, hostid: OTHER_HOSTID });
    const reads: string[] = [];
    const counting = Object.create(host, { readFile: { value: (p: string, o?: object) => (reads.push(p), host.readFile(p, o)) } }) as LocalHost;
    const engine = NvmeEngine.on(counting, sim.settings);
    const [ours] = (await engine.attach("A", [SDT1, SDT2])).paths;
    await engine.attach("B", [SDT2]);
    const controllerReads = () => new Set(reads.filter((p) => p.includes("/nvme-fabrics/ctl/")).map((p) => p.split("/ctl/")[1].split("/")[0]));
    reads.length = 0;
    await engine.release("A", [SDT1]);
    assert.deepEqual([...controllerReads()], [ours.device], "only our controller's directory is read");
    // Ours is gone (someone else's disconnect): the scope is scanned, to name what has the path now.
    const sdt2 = sim.controllers().find((c) => c.traddr === "10.0.0.2")!;
    execFileSync(sim.settings.nvmeCli, ["disconnect", "-d", sdt2.device]);
    reads.length = 0;
    const r = await engine.release("B", [SDT2]);
    assert.equal(r.forgotten.length, 0, "B only lets go: A still holds it");
    assert.equal(controllerReads().size, 101, "its recorded name, then (gone) every controller's hostnqn");
    assert.deepEqual(sim.deletes().filter((d) => d.by === "delete_controller").map((d) => d.device), [ours.device]);
  });

  for (const version of ["1.16", "2.3", "2.8", "2.11"] as SimVersion[]) {
    it(`${version}: create one, adopt the pre-existing one, share with a second owner, release in any order`, async () => {
      const sim = createSimHost(dir, { version });
      const foreign = addForeign(sim);
      const preexisting = sim.addForeignController({ traddr: "10.0.0.2", subsysnqn: NQN }); // our host NQN, not ours
      const engine = NvmeEngine.on(host, sim.settings);

      const a = await engine.attach("A", [SDT1, SDT2]);
      assert.deepEqual(a.paths.map((p) => [p.identity.traddr, p.origin]), [["10.0.0.1", "created"], ["10.0.0.2", "adopted"]]);
      assert.deepEqual(a.failures, []);
      const created = a.paths[0].device;
      assert.equal(sim.calls().filter((c) => c[0] === "connect").length, 1, "one connect: the live path is adopted, not reconnected");

      const b = await engine.attach("B", [SDT1]);
      assert.deepEqual(b.paths.map((p) => [p.device, p.origin]), [[created, "adopted"]]);

      const ra = await engine.release("A", [SDT1, SDT2]);
      assert.deepEqual(ra.disconnected, [], "B still holds SDT1; SDT2 was there before us");
      assert.deepEqual(ra.released.map((p) => p.traddr).sort(), ["10.0.0.1", "10.0.0.2"]);
      assert.ok(sim.controllers().some((c) => c.device === created));

      const rb = await engine.release("B", [SDT1]);
      assert.deepEqual(rb.disconnected.map((d) => d.device), [created]);
      assert.ok(!sim.controllers().some((c) => c.device === created));
      assert.ok(sim.controllers().some((c) => c.device === preexisting), "the pre-existing path stays");
      assertForeignAlive(sim, foreign);
      assertOnlyDisconnected(sim, [created]);

      const ledger = JSON.parse(readFileSync(path.join(sim.settings.stateDir, "ledger.json"), "utf8"));
      assert.deepEqual(ledger.paths, {}, "nothing left in the ledger");
    });
  }

  it("apply then release leaves the host exactly as before, and attach is idempotent", async () => {
    const sim = createSimHost(dir, { version: "2.11" });
    const before = addForeign(sim);
    const engine = NvmeEngine.on(host, sim.settings);
    await engine.attach("A", [SDT1, SDT2]);
    const again = await engine.attach("A", [SDT1, SDT2]);
    assert.deepEqual(again.paths.map((p) => p.origin), ["created", "created"], "kept, still ours");
    assert.equal(sim.calls().filter((c) => c[0] === "connect").length, 2, "no second connect");
    await engine.release("A", [SDT1, SDT2]);
    assert.deepEqual(snapshot(sim.controllers()), before);
  });

  it("one SDT refusing: all-or-nothing rolls back exactly what this call made", async () => {
    const sim = createSimHost(dir, { version: "2.3" });
    const before = addForeign(sim);
    sim.addForeignController({ traddr: "10.0.0.3", subsysnqn: NQN }); // pre-existing, adopted then let go
    const start = snapshot(sim.controllers());
    sim.setPathKnobs("10.0.0.2", { fail: "refused" });
    const engine = NvmeEngine.on(host, sim.settings);
    await assert.rejects(engine.attach("A", [SDT1, SDT2, path_("10.0.0.3")]), (err: unknown) => {
      assert.ok(err instanceof AttachError);
      assert.deepEqual(err.failures.map((f) => [f.identity.traddr, f.kind]), [["10.0.0.2", "refused"]]);
      assert.match(err.message, /10\.0\.0\.2:4420.*refused|refused.*10\.0\.0\.2/s);
      assert.deepEqual(err.rollbackProblems, []);
      return true;
    });
    assert.deepEqual(snapshot(sim.controllers()), start);
    assertForeignAlive(sim, before);
    assert.deepEqual(sim.deletes().map((d) => d.traddr), ["10.0.0.1"], "only the controller this call made");
    assertOnlyDisconnected(sim, [sim.deletes()[0].device]);

    // minPaths: 2 of 3 is enough; the failure is reported, the rest held.
    const partial = await engine.attach("A", [SDT1, SDT2, path_("10.0.0.3")], { minPaths: 2 });
    assert.deepEqual(partial.paths.map((p) => p.identity.traddr), ["10.0.0.1", "10.0.0.3"]);
    assert.deepEqual(partial.failures.map((f) => f.kind), ["refused"]);
  });

  it("nvme-cli 2.3 refuses a path another host NQN holds: a clear failure, nothing touched", async () => {
    const sim = createSimHost(dir, { version: "2.3" });
    sim.addForeignController({ traddr: "10.0.0.1", subsysnqn: NQN, hostnqn: OTHER_HOST, hostid: OTHER_HOSTID });
    const before = snapshot(sim.controllers());
    const engine = NvmeEngine.on(host, sim.settings);
    await assert.rejects(engine.attach("A", [SDT1]), (err: unknown) => {
      assert.ok(err instanceof AttachError);
      assert.equal(err.failures[0].kind, "already-connected");
      assert.match(err.message, /another host NQN holds it.*2\.6/s);
      assert.match(err.message, /deleteBeforeReplace: true/);
      return true;
    });
    assert.deepEqual(snapshot(sim.controllers()), before);
    assertOnlyDisconnected(sim, []);
    // --duplicate-connect is no way past it: 2.3's pre-check ignores -D (kernel harness c3).
    const forced = ["connect", "-t", "tcp", "-a", "10.0.0.1", "-s", "4420", "-n", NQN, "-q", SDT1.hostnqn, "-I", SDT1.hostid, "-D", "-o", "json"];
    assert.deepEqual(await runSim(sim.dir, forced), { stdout: "", stderr: "already connected\n", code: 1 });
    assert.deepEqual(snapshot(sim.controllers()), before);
    // 2.8 checks the host NQN: the same situation connects a second controller of our own.
    const sim28 = createSimHost(mkdtempSync(path.join(dir, "28-")), { version: "2.8" });
    sim28.addForeignController({ traddr: "10.0.0.1", subsysnqn: NQN, hostnqn: OTHER_HOST, hostid: OTHER_HOSTID });
    const got = await NvmeEngine.on(host, sim28.settings).attach("A", [SDT1]);
    assert.equal(got.paths[0].origin, "created");
  });

  it("refuses to cut the last path of a mounted namespace without force; force cuts only ours", async () => {
    const sim = createSimHost(dir, { version: "2.11" });
    // No other host NQN on our subsystem here: its live path would keep the namespace reachable.
    sim.addForeignController({ traddr: "10.9.9.9", subsysnqn: PURE });
    const foreign = snapshot(sim.controllers());
    sim.addNamespace(NQN, { nsid: 1, nguid: "4a54e9f1000000ab0000000000000001" });
    const engine = NvmeEngine.on(host, sim.settings);
    const a = await engine.attach("A", [SDT1, SDT2]);
    const nsDevice = readNamespaceHead(sim);
    sim.mount(nsDevice, "/mnt/data", "ext4");

    // Releasing one of two paths is fine: the namespace stays reachable through the other.
    await engine.release("A", [SDT1]);
    await assert.rejects(engine.release("A", [SDT2]), (err: unknown) => {
      assert.ok(err instanceof InUseError);
      assert.match(err.message, new RegExp(`last live path of /dev/${nsDevice} \\(mounted on /mnt/data\\).*force: true`, "s"));
      return true;
    });
    assert.ok(sim.controllers().some((c) => c.device === a.paths[1].device), "nothing changed");
    const forced = await engine.release("A", [SDT2], { force: true });
    assert.deepEqual(forced.disconnected.map((d) => d.device), [a.paths[1].device]);
    assertForeignAlive(sim, foreign);
    assertOnlyDisconnected(sim, a.paths.map((p) => p.device));
  });

  it("a crash between intent and connect is reconciled: controller present -> an orphan A made, absent -> dropped", async () => {
    const sim = createSimHost(dir, { version: "2.11" });
    const foreign = addForeign(sim);
    // The crashed process wrote intents for two paths; only the first connect happened.
    const made = sim.addForeignController({ traddr: "10.0.0.1", subsysnqn: NQN });
    const ledgerFile = path.join(sim.settings.stateDir, "ledger.json");
    const before = sim.controllers().filter((c) => c.device !== made).map((c) => c.device);
    const since = new Date();
    const pending = { owner: "A", since: since.toISOString(), expires: new Date(since.getTime() + 90_000).toISOString(), instances: before };
    const record = (id: PathIdentity) => ({ identity: id, createdBy: "pending", owners: [], pending });
    writeFileSync(
      ledgerFile,
      JSON.stringify({ version: 2, paths: { [key(SDT1)]: record(SDT1), [key(SDT2)]: record(SDT2) } }),
    );
    const engine = NvmeEngine.on(host, sim.settings);
    const obs = await engine.attach("B", [path_("10.0.0.3")]); // any locked operation reconciles
    assert.equal(obs.paths.length, 1);
    const ledger = JSON.parse(readFileSync(ledgerFile, "utf8"));
    assert.deepEqual(ledger.paths[key(SDT1)].createdBy, "A");
    assert.deepEqual(ledger.paths[key(SDT1)].owners, [], "A's operation never returned: nobody holds it, A made it");
    assert.equal(ledger.paths[key(SDT2)], undefined);
    // A's destroy can then remove what it made.
    const r = await engine.release("A", [SDT1, SDT2]);
    assert.deepEqual(r.disconnected.map((d) => d.device), [made]);
    assertForeignAlive(sim, foreign);
  });

  it("observe reports live, connecting and missing without taking the lock", async () => {
    const sim = createSimHost(dir, { version: "2.11" });
    const engine = NvmeEngine.on(host, sim.settings);
    const a = await engine.attach("A", [SDT1, SDT2]);
    sim.setState(a.paths[1].device, "connecting");
    const obs = await engine.observe("A", [SDT1, SDT2, path_("10.0.0.3")]);
    assert.deepEqual(obs.map((o) => [o.state, o.held]), [["live", true], ["connecting", true], ["missing", false]]);
  });
});

/** The one namespace head block device in the simulated sysfs. */
function readNamespaceHead(sim: SimHost): string {
  const blocks = readdirSync(path.join(sim.settings.sysfsRoot, "block")).filter((n) => /^nvme\d+n\d+$/.test(n));
  assert.equal(blocks.length, 1, `one namespace head, got ${blocks.join(", ")}`);
  return blocks[0];
}
