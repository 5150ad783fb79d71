import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { LocalHost } from "../../../provider/host/access/local";
import { deleteControllerObject, readControllers } from "../../../provider/host/nvme";
import type { FabricsController } from "../../../provider/host/nvme";
import { createSimHost, type SimHost } from "../../../provider/tools/simhost";
import { runSim } from "../../../provider/tools/simhost/sim";

/**
 * Deleting one kernel object through its pinned `delete_controller` (LocalHost on the simulated host, whose
 * delete_controller behaves as the kernel's: a write reaches only the object the descriptor was opened on).
 */

const NQN = "nqn.1988-11.com.dell:powerflex:00:abc123";
const host = new LocalHost();

describe("deleting a controller object (LocalHost, simulated kernel)", function () {
  this.timeout(30_000);
  let dir: string;
  let sim: SimHost;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "delete-ctrl-"));
    sim = createSimHost(dir, { version: "2.11" });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const scan = async (device: string): Promise<FabricsController> => {
    const c = (await readControllers(host, sim.settings)).find((x) => x.device === device);
    assert.ok(c, `${device} is not in sysfs`);
    return c;
  };

  it("deletes exactly the object it was given and nothing else", async () => {
    const ours = sim.addForeignController({ traddr: "10.0.0.1", subsysnqn: NQN });
    const other = sim.addForeignController({ traddr: "10.0.0.2", subsysnqn: NQN });
    assert.deepEqual(await deleteControllerObject(host, sim.settings, await scan(ours)), { deleted: true });
    assert.deepEqual(sim.controllers().map((c) => c.device), [other]);
    assert.deepEqual(sim.deletes().map((d) => [d.device, d.by]), [[ours, "delete_controller"]]);
  });

  it("a name that went, or that another controller has now, is reported gone and nothing is written", async () => {
    const ours = sim.addForeignController({ traddr: "10.0.0.1", subsysnqn: NQN });
    const seen = await scan(ours);
    await runSim(sim.dir, ["disconnect", "-d", ours]);
    const gone = await deleteControllerObject(host, sim.settings, seen);
    assert.deepEqual(gone, { deleted: false, why: `${ours} does not exist` });
    // The same path again under the same name: another kernel object (and here another controller ID).
    const again = sim.addForeignController({ traddr: "10.0.0.1", subsysnqn: NQN });
    assert.equal(again, ours);
    assert.deepEqual(await deleteControllerObject(host, sim.settings, seen), { deleted: false, why: `${ours} is another controller now (another kernel object)` });
    // Without the inode (a ledger v1 record), the attributes tell it apart.
    const r = await deleteControllerObject(host, sim.settings, { ...seen, inode: undefined });
    assert.match(!r.deleted ? r.why : "", new RegExp(`${ours} is another controller now \\(its cntlid is "\\d+", ours was "${seen.cntlid}"\\)`));
    assert.deepEqual(sim.controllers().map((c) => c.device), [again]);
    assert.equal(sim.deletes().filter((d) => d.by === "delete_controller").length, 0);
  });

  it("a look-alike with the same name, path and controller ID (nvmet reuses cntlids) is another kernel object: not deleted", async () => {
    const ours = sim.addForeignController({ traddr: "10.0.0.1", subsysnqn: NQN, cntlid: 5 });
    const seen = await scan(ours);
    assert.ok(seen.inode !== undefined);
    await runSim(sim.dir, ["disconnect", "-d", ours]);
    const again = sim.addForeignController({ traddr: "10.0.0.1", subsysnqn: NQN, cntlid: 5 });
    assert.equal(again, ours);
    const now = await scan(again);
    assert.deepEqual([now.cntlid, now.address], [seen.cntlid, seen.address], "equal in every attribute");
    assert.deepEqual(await deleteControllerObject(host, sim.settings, seen), { deleted: false, why: `${ours} is another controller now (another kernel object)` });
    assert.deepEqual(sim.controllers().map((c) => c.device), [again]);
  });

  it("the address is compared without src_addr (it comes and goes with the connection)", async () => {
    const ours = sim.addForeignController({ traddr: "10.0.0.1", subsysnqn: NQN });
    const seen = await scan(ours);
    assert.match(seen.address, /src_addr=/);
    sim.setState(ours, "connecting"); // the kernel drops src_addr while reconnecting
    assert.deepEqual(await deleteControllerObject(host, sim.settings, seen), { deleted: true });
  });

  it("waits for a slow delete and fails clearly when the controller stays", async () => {
    sim.setPathKnobs("10.0.0.1", { disconnect: { afterMs: 400 } });
    sim.setPathKnobs("10.0.0.2", { disconnect: "keep" });
    const slow = sim.addForeignController({ traddr: "10.0.0.1", subsysnqn: NQN });
    const stuck = sim.addForeignController({ traddr: "10.0.0.2", subsysnqn: NQN });
    assert.deepEqual(await deleteControllerObject(host, sim.settings, await scan(slow), { goneTimeoutMs: 10_000 }), { deleted: true });
    assert.deepEqual(sim.controllers().map((c) => c.device), [stuck]);
    await assert.rejects(deleteControllerObject(host, sim.settings, await scan(stuck), { goneTimeoutMs: 300 }), /nvme1 is still present \(state deleting\)/);
  });

  it("refuses a name that is not a controller's before touching anything", async () => {
    const c = await scan(sim.addForeignController({ traddr: "10.0.0.1", subsysnqn: NQN }));
    for (const device of ["nvme0/../nvme1", "-a", "nvme0n1"]) {
      await assert.rejects(deleteControllerObject(host, sim.settings, { ...c, device }), /not a controller name/);
    }
    assert.deepEqual(sim.deletes(), []);
  });
});
