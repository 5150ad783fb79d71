import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { NvmeEngine } from "../../provider/host/engine";
import { LocalHost } from "../../provider/host/access/local";
import { LedgerStore } from "../../provider/host/ledger/store";
import type { PathIdentity } from "../../provider/host/nvme/identity";
import { readControllers } from "../../provider/host/nvme/sysfs";
import { hostStatus } from "../../provider/host/status";
import { createSimHost, DEFAULT_SIM_HOSTID, DEFAULT_SIM_HOSTNQN, type SimHost } from "../../provider/tools/simhost";
import { SimTree } from "../../provider/tools/simhost/tree";

/**
 * Issue 14, finding 3: the kernel compares addresses as text, so a controller someone connected as
 * `FD00:0:0::3` is another path than ours to `fd00::3`, even with our host NQN and host ID. The engine,
 * the sysfs reader and `status` must all say so (one matcher, nvme/identity.ts).
 */

const NQN = "nqn.1988-11.com.dell:powerflex:00:4a54e9f1000000ab";
const OURS: PathIdentity = { transport: "tcp", traddr: "fd00::3", trsvcid: 4420, subsysnqn: NQN, hostnqn: DEFAULT_SIM_HOSTNQN, hostid: DEFAULT_SIM_HOSTID };
const THEIR_TEXT = "FD00:0:0::3";
const host = new LocalHost();

/** The controllers the simulated kernel deleted (the engine deletes through delete_controller, not nvme-cli). */
function disconnected(sim: SimHost): string[] {
  return sim.deletes().map((d) => d.device);
}

async function status(sim: SimHost) {
  const s = hostStatus(await readControllers(host, sim.settings), await new LedgerStore(host, sim.settings).read(), new Date());
  return s.controllers.map((c) => [c.device, c.traddr, c.owners, c.createdBy]);
}

describe("an address in another text form is another path (issue 14, finding 3)", function () {
  this.timeout(30_000);
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), "address-text-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("a foreign FD00:0:0::3 is neither adopted nor cut: we connect fd00::3 ourselves, status tells them apart, destroy cuts only ours", async () => {
    const sim = createSimHost(dir, { version: "2.11" });
    // Another tool (or an admin) connected the same target under the host's own NQN and ID, in other text.
    const theirs = sim.addForeignController({ traddr: THEIR_TEXT, subsysnqn: NQN });
    const engine = NvmeEngine.on(host, sim.settings);

    const a = await engine.attach("A", [OURS]);
    assert.deepEqual(a.paths.map((p) => p.origin), ["created"], "theirs is not our path: connect our own");
    const ours = a.paths[0].device;
    assert.notEqual(ours, theirs);
    assert.deepEqual(sim.controllers().map((c) => [c.device, c.traddr]), [[theirs, THEIR_TEXT], [ours, "fd00::3"]]);
    assert.deepEqual(await status(sim), [[theirs, THEIR_TEXT, [], null], [ours, "fd00::3", ["A"], "A"]]);

    const r = await engine.release("A", [OURS]);
    assert.deepEqual(r.disconnected.map((d) => d.device), [ours]);
    assert.deepEqual(disconnected(sim), [ours]);
    assert.deepEqual(sim.controllers().map((c) => [c.device, c.traddr, c.state]), [[theirs, THEIR_TEXT, "live"]]);
    assert.deepEqual(await status(sim), [[theirs, THEIR_TEXT, [], null]]);
  });

  it("when our fd00::3 is gone (ctrl-loss-tmo), destroy forgets it and leaves the foreign FD00:0:0::3 alone", async () => {
    const sim = createSimHost(dir, { version: "2.11" });
    const engine = NvmeEngine.on(host, sim.settings);
    const a = await engine.attach("A", [OURS]);
    const theirs = sim.addForeignController({ traddr: THEIR_TEXT, subsysnqn: NQN });
    // The kernel gives up on our controller (target gone past ctrl-loss-tmo) and deletes it.
    new SimTree(sim.dir).removeController(a.paths[0].device);
    assert.deepEqual(await status(sim), [[theirs, THEIR_TEXT, [], null]]);

    const r = await engine.release("A", [OURS]);
    assert.deepEqual(r.disconnected, []);
    assert.deepEqual(r.forgotten.map((p) => p.traddr), ["fd00::3"]);
    assert.deepEqual(disconnected(sim), []);
    assert.deepEqual(sim.controllers().map((c) => [c.device, c.traddr, c.state]), [[theirs, THEIR_TEXT, "live"]]);
  });
});
