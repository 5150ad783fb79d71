import { strict as assert } from "node:assert";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { AttachError, NvmeEngine } from "../../provider/host/engine";
import { LocalHost } from "../../provider/host/access/local";
import { identityKey, type PathIdentity } from "../../provider/host/nvme/identity";
import { NvmeCli } from "../../provider/host/nvme/cli";
import { createSimHost, DEFAULT_SIM_HOSTID, DEFAULT_SIM_HOSTNQN, type SimHost, type SimVersion } from "../../provider/tools/simhost";

/**
 * Connects and time (issue 14, finding 7) on the simulated host, which serialises connects as the kernel
 * does: the engine connects one at a time; an SDT that drops SYNs costs a create the kernel's SYN timeout
 * and holds up the host's other connects meanwhile; the kernel's ETIMEDOUT made nothing and leaves no intent.
 */

const NQN = "nqn.1988-11.com.dell:powerflex:00:4a54e9f1000000ab";
const pathTo = (traddr: string): PathIdentity => ({ transport: "tcp", traddr, trsvcid: 4420, subsysnqn: NQN, hostnqn: DEFAULT_SIM_HOSTNQN, hostid: DEFAULT_SIM_HOSTID });
const host = new LocalHost();

describe("connects and time on the simulated host", function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), "connect-time-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const ledgerPaths = (stateDir: string) => (JSON.parse(readFileSync(path.join(stateDir, "ledger.json"), "utf8")) as { paths: Record<string, { pending?: unknown }> }).paths;

  for (const version of ["1.16", "2.3", "2.11"] as SimVersion[]) {
    it(`${version}: the kernel's ETIMEDOUT (SYNs dropped) is an answer: no intent is left behind, the other path is held`, async () => {
      const sim = createSimHost(dir, { version });
      sim.setPathKnobs("10.0.0.1", { fail: "ETIMEDOUT" });
      const engine = NvmeEngine.on(host, sim.settings);
      const a = await engine.attach("A", [pathTo("10.0.0.1"), pathTo("10.0.0.2")], { minPaths: 1 });
      assert.deepEqual(a.paths.map((p) => p.identity.traddr), ["10.0.0.2"]);
      assert.equal(a.failures.length, 1);
      assert.deepEqual(Object.keys(ledgerPaths(sim.settings.stateDir)), [identityKey(pathTo("10.0.0.2"))], "an intent for the silent SDT stayed in the ledger");
    });
  }

  const connects = (sim: SimHost) => sim.commandTimes().filter((t) => t.command === "connect").sort((a, b) => a.start - b.start);

  it("the engine connects one at a time: each connect starts after the one before has answered", async () => {
    const sim = createSimHost(dir, { version: "2.11" });
    for (const ip of ["10.0.0.1", "10.0.0.2", "10.0.0.3"]) sim.setPathKnobs(ip, { latencyMs: 300 });
    const a = await NvmeEngine.on(host, sim.settings).attach("A", [pathTo("10.0.0.1"), pathTo("10.0.0.2"), pathTo("10.0.0.3")]);
    assert.equal(a.paths.length, 3);
    const times = connects(sim);
    assert.equal(times.length, 3);
    for (let i = 1; i < times.length; i++) assert.ok(times[i].start >= times[i - 1].end, `connect ${i + 1} started before connect ${i} answered`);
  });

  it("an SDT that drops SYNs: the create waits the kernel's SYN timeout for it, reports it, holds the others; another tool's connect waited too", async () => {
    const sim = createSimHost(dir, { version: "2.3" });
    sim.updateKnobs((k) => ({ ...k, synTimeoutMs: 1500 }));
    sim.setPathKnobs("10.0.0.1", { dropSyn: true });
    const engine = NvmeEngine.on(host, sim.settings);
    const attach = engine.attach("A", [pathTo("10.0.0.1"), pathTo("10.0.0.2")], { minPaths: 1 });
    // Another tool connects its own path while the kernel waits for the silent SDT (our first connect
    // holds the simulated host's fabrics mutex: its lock file).
    while (!existsSync(path.join(sim.dir, ".sim-fabrics.lock"))) await new Promise((r) => setTimeout(r, 10));
    const other = await new NvmeCli(host, sim.settings).connect({ ...pathTo("10.0.9.9"), subsysnqn: "nqn.2010-06.com.purestorage:flasharray.6b1a2f0c1d2e3f40" });
    const a = await attach;
    assert.ok(other.ok);
    assert.deepEqual(a.paths.map((p) => p.identity.traddr), ["10.0.0.2"]);
    assert.deepEqual(a.failures.map((f) => [f.identity.traddr, f.kind]), [["10.0.0.1", "timeout"]]);
    assert.match(a.failures[0].message, /Connection timed out/);
    const silent = connects(sim).find((t) => t.end - t.start >= 1500);
    assert.ok(silent, `no connect took the SYN timeout: ${JSON.stringify(connects(sim))}`);
    const others = connects(sim).filter((t) => t !== silent);
    assert.ok(others.every((t) => t.end >= silent.end), "a connect was answered while the kernel waited for the silent SDT");
    assert.deepEqual(Object.keys(ledgerPaths(sim.settings.stateDir)), [identityKey(pathTo("10.0.0.2"))]);
  });

  it("every SDT drops SYNs: the create fails with the reason and leaves nothing, no intent either", async () => {
    const sim = createSimHost(dir, { version: "2.8" });
    sim.updateKnobs((k) => ({ ...k, synTimeoutMs: 500 }));
    for (const ip of ["10.0.0.1", "10.0.0.2"]) sim.setPathKnobs(ip, { dropSyn: true });
    await assert.rejects(NvmeEngine.on(host, sim.settings).attach("A", [pathTo("10.0.0.1"), pathTo("10.0.0.2")]), (err: unknown) => {
      assert.ok(err instanceof AttachError, String(err));
      assert.match(err.message, /attached 0 of 2 paths.*10\.0\.0\.1.*Connection timed out.*10\.0\.0\.2.*Connection timed out/s);
      return true;
    });
    assert.deepEqual(sim.controllers(), []);
    assert.deepEqual(ledgerPaths(sim.settings.stateDir), {});
  });
});
