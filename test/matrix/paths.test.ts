import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { AttachError, NvmeEngine } from "../../provider/host/engine";
import { LocalHost } from "../../provider/host/access/local";
import { NvmeCli } from "../../provider/host/nvme/cli";
import { describePath, type PathIdentity } from "../../provider/host/nvme/identity";
import { readControllers } from "../../provider/host/nvme/sysfs";
import { createSimHost, DEFAULT_SIM_HOSTID, DEFAULT_SIM_HOSTNQN, type SimFailure, type SimHost } from "../../provider/tools/simhost";
import { addForeign, assertForeignUntouched, ledgerOf, ours } from "./support";

/**
 * Host-side faults of one path among several, on the simulated host through the real LocalHost, nvme-cli
 * adapter and sysfs reader: each attempt ends with a clear error or succeeds, leaves exactly the expected
 * controllers and ledger, and never touches a foreign controller.
 */

const NQN = "nqn.1988-11.com.dell:powerflex:00:4a54e9f1000000ab";
const at = (traddr: string): PathIdentity => ({ transport: "tcp", traddr, trsvcid: 4420, subsysnqn: NQN, hostnqn: DEFAULT_SIM_HOSTNQN, hostid: DEFAULT_SIM_HOSTID });
const PATHS = [at("10.0.0.1"), at("10.0.0.2"), at("10.0.0.3")];
const host = new LocalHost();

/** The production engine, except that a deleted controller gets `goneTimeoutMs` to go. */
function engineOn(sim: SimHost, goneTimeoutMs?: number): NvmeEngine {
  const cli = new NvmeCli(host, sim.settings);
  return new NvmeEngine({
    host,
    settings: sim.settings,
    driver: cli,
    ...(goneTimeoutMs !== undefined ? { goneTimeoutMs } : {}),
    readControllers: () => readControllers(host, sim.settings),
  });
}

/** What each injected failure class must be called in the error (the adapter's classification). */
const CLASSES: readonly [SimFailure, RegExp][] = [
  ["refused", /refused/i],
  ["unreachable", /unreachable|no route/i],
  ["rejected-by-target", /reject|host NQN is registered/i],
  ["invalid-argument", /invalid argument|invalid/i],
  ["no-nvme-fabrics-module", /modprobe nvme-tcp/],
  ["timeout", /timed? ?out|dmesg/i], // 2.x prints no reason for ETIMEDOUT
  ["other", /dmesg/],
  ["EIO", /input\/output error|dmesg/i],
];

describe("matrix: path faults on the host (engine, simulated host)", function () {
  this.timeout(30_000);
  let dir: string;
  let sim: SimHost;
  let foreign: string[];
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "matrix-paths-"));
    sim = createSimHost(dir, { version: "2.11" });
    sim.updateKnobs((k) => ({ ...k, hangMs: 15_000 }));
    foreign = addForeign(sim, NQN, "10.0.0.1");
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  CLASSES.forEach(([fail, said], i) => {
    const k = i % PATHS.length;
    it(`path ${k + 1} of ${PATHS.length} fails (${fail}): a clear error naming it; what this attempt made is undone`, async () => {
      sim.setPathKnobs(PATHS[k].traddr, { fail });
      const engine = engineOn(sim);
      await assert.rejects(engine.attach("A", PATHS), (err: unknown) => {
        assert.ok(err instanceof AttachError, String(err));
        assert.match(err.message, /attached 2 of 3 paths, fewer than the 3 required; undid what this attempt connected/);
        assert.ok(err.message.includes(describePath(PATHS[k])), err.message);
        assert.match(err.message, said);
        assert.deepEqual(err.failures.map((f) => f.identity.traddr), [PATHS[k].traddr]);
        return true;
      });
      assert.deepEqual(ours(sim), [], "nothing of ours is left");
      assert.deepEqual(ledgerOf(sim), {}, "the ledger is empty again");
      assertForeignUntouched(sim, foreign);
    });
  });

  it("with minPaths 2, one failing path is reported and the other two are held", async () => {
    sim.setPathKnobs("10.0.0.2", { fail: "unreachable" });
    const r = await engineOn(sim).attach("A", PATHS, { minPaths: 2 });
    assert.deepEqual(r.paths.map((p) => p.identity.traddr), ["10.0.0.1", "10.0.0.3"]);
    assert.deepEqual(r.failures.map((f) => f.identity.traddr), ["10.0.0.2"]);
    assert.ok(r.failures[0].message.includes(describePath(PATHS[1])));
    assert.deepEqual(Object.keys(ledgerOf(sim)).sort(), ["10.0.0.1:4420", "10.0.0.3:4420"]);
    await engineOn(sim).release("A", PATHS);
    assert.deepEqual([ours(sim), ledgerOf(sim)], [[], {}]);
    assertForeignUntouched(sim, foreign);
  });

  it("a connect that hangs past its timeout fails as a timeout; a controller the kernel makes afterwards is cleaned up, never adopted as foreign", async () => {
    sim.setPathKnobs("10.0.0.2", { hang: true });
    await assert.rejects(engineOn(sim).attach("A", PATHS, { connect: { timeoutMs: 4_000 } }), (err: unknown) => {
      assert.ok(err instanceof AttachError);
      assert.deepEqual(err.failures.map((f) => [f.identity.traddr, f.kind]), [["10.0.0.2", "timeout"]]);
      assert.match(err.message, /did not finish in time and was killed/);
      return true;
    });
    assert.deepEqual(ours(sim), []);
    assert.deepEqual(ledgerOf(sim), { "10.0.0.2:4420": { owners: [], createdBy: "A", pending: "A" } }, "the intent stays: the kernel may still finish the connect");
    // The kernel finished the killed connect after all.
    sim.addForeignController({ traddr: "10.0.0.2", subsysnqn: NQN });
    sim.setPathKnobs("10.0.0.2", undefined);
    const b = await engineOn(sim).attach("B", [PATHS[1]]);
    assert.deepEqual(b.paths.map((p) => [p.identity.traddr, p.origin]), [["10.0.0.2", "adopted"]]);
    assert.deepEqual(ledgerOf(sim), { "10.0.0.2:4420": { owners: ["B"], createdBy: "A" } }, "made by A's interrupted attempt, not by a stranger");
    const gone = await engineOn(sim).release("B", [PATHS[1]]);
    assert.equal(gone.disconnected.length, 1, "the last owner disconnects what our attempt made");
    assert.deepEqual([ours(sim), ledgerOf(sim)], [[], {}]);
    assertForeignUntouched(sim, foreign);
  });

  it("a hung connect whose controller never appears: the intent is dropped at the next operation", async () => {
    sim.setPathKnobs("10.0.0.3", { hang: true });
    await assert.rejects(engineOn(sim).attach("A", PATHS, { connect: { timeoutMs: 4_000 } }), AttachError);
    sim.setPathKnobs("10.0.0.3", undefined);
    const r = await engineOn(sim).attach("A", PATHS);
    assert.deepEqual(r.paths.map((p) => p.origin), ["created", "created", "created"]);
    assert.deepEqual(Object.values(ledgerOf(sim)).map((v) => [v.owners, v.createdBy, v.pending]), [[["A"], "A", undefined], [["A"], "A", undefined], [["A"], "A", undefined]]);
    await engineOn(sim).release("A", PATHS);
    assert.deepEqual([ours(sim), ledgerOf(sim)], [[], {}]);
    assertForeignUntouched(sim, foreign);
  });

  it("a controller stuck connecting is held and reported as connecting; destroy still removes it", async () => {
    sim.setPathKnobs("10.0.0.3", { stuckConnecting: true });
    const engine = engineOn(sim);
    const r = await engine.attach("A", PATHS);
    assert.deepEqual(r.paths.map((p) => [p.identity.traddr, p.state]), [["10.0.0.1", "live"], ["10.0.0.2", "live"], ["10.0.0.3", "connecting"]]);
    assert.deepEqual((await engine.observe("A", PATHS)).map((o) => o.state), ["live", "live", "connecting"]);
    assert.deepEqual(ledgerOf(sim)["10.0.0.3:4420"], { owners: ["A"], createdBy: "A" });
    await engine.release("A", PATHS);
    assert.deepEqual([ours(sim), ledgerOf(sim)], [[], {}]);
    assertForeignUntouched(sim, foreign);
  });

  it("a disconnect that does not remove the controller in time: a clear error, the ledger keeps it; the retry settles", async () => {
    const engine = engineOn(sim, 300);
    await engine.attach("A", PATHS);
    sim.setPathKnobs("10.0.0.2", { disconnect: "keep" });
    await assert.rejects(engine.release("A", PATHS), (err: unknown) => {
      assert.match(String(err), /could not disconnect every path we own: 10\.0\.0\.2:4420.*still present.*state deleting.*run again to retry/s);
      return true;
    });
    assert.deepEqual(ledgerOf(sim), { "10.0.0.2:4420": { owners: ["A"], createdBy: "A" } }, "only the stuck path is still ours");
    assert.deepEqual(ours(sim), ["10.0.0.2:4420 deleting"]);
    // The kernel is deleting it: the retry forgets the record and runs no second disconnect.
    const deletesBefore = sim.deletes().length;
    const r = await engine.release("A", PATHS);
    assert.equal(r.forgotten.length, 1);
    assert.equal(sim.deletes().length, deletesBefore);
    assert.deepEqual(ledgerOf(sim), {});
    assertForeignUntouched(sim, foreign);
  });

  it("a slow disconnect (the kernel takes a while) is waited for", async () => {
    const engine = engineOn(sim);
    await engine.attach("A", PATHS);
    sim.setPathKnobs("10.0.0.1", { disconnect: { afterMs: 300 } });
    const r = await engine.release("A", PATHS);
    assert.equal(r.disconnected.length, 3);
    assert.deepEqual([ours(sim), ledgerOf(sim)], [[], {}]);
    assertForeignUntouched(sim, foreign);
  });
});
