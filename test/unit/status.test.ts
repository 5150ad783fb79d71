import { strict as assert } from "node:assert";
import type { FabricsController } from "../../provider/host/nvme/controller";
import { identityKey, type PathIdentity } from "../../provider/host/nvme/identity";
import { addOwner, emptyLedger, EXTERNAL, recordCreated } from "../../provider/host/ledger/records";
import { hostStatus } from "../../provider/host/status";

const NQN = "nqn.1988-11.com.dell:powerflex:00:abc123";
const HOST = "nqn.2014-08.org.nvmexpress:uuid:11111111-1111-1111-1111-111111111111";
const HOSTID = "11111111-1111-1111-1111-111111111111";
const id = (traddr: string): PathIdentity => ({ transport: "tcp", traddr, trsvcid: 4420, subsysnqn: NQN, hostnqn: HOST, hostid: HOSTID });

/** A controller as the sysfs reader returns it; `rawTraddr` is the address text the kernel shows. */
function ctrl(device: string, identity: PathIdentity | undefined, rawTraddr = identity?.traddr, transport = "tcp"): FabricsController {
  const addressFields: Record<string, string> = rawTraddr === undefined ? {} : { traddr: rawTraddr, trsvcid: "4420" };
  return {
    device, transport, address: "", addressFields, subsysnqn: NQN, hostnqn: HOST, hostid: HOSTID, state: "live", cntrltype: "io",
    ...(identity ? { identity } : {}), namespaces: [],
  };
}

describe("hostStatus (what `powerflex-nvme status` reports)", () => {
  it("joins controllers with their records; unmatched controllers are foreign, records without a controller are stale", () => {
    const ledger = emptyLedger();
    recordCreated(ledger, id("10.0.0.1"), "A", { device: "nvme1" });
    addOwner(ledger, id("10.0.0.1"), "B", "A");
    addOwner(ledger, id("10.0.0.2"), "A", EXTERNAL, { device: "nvme2" });
    recordCreated(ledger, id("10.0.0.9"), "C", { device: "nvme9" });
    ledger.volumes["h/v"] = { createdBy: EXTERNAL, owners: ["A"] };
    const s = hostStatus([ctrl("nvme0", undefined, undefined, "loop"), ctrl("nvme1", id("10.0.0.1")), ctrl("nvme2", id("10.0.0.2"))], ledger, new Date());
    assert.deepEqual(s.controllers.map((c) => [c.device, c.traddr, c.trsvcid, c.owners, c.createdBy]), [
      ["nvme0", null, null, [], null],
      ["nvme1", "10.0.0.1", 4420, ["A", "B"], "A"],
      ["nvme2", "10.0.0.2", 4420, ["A"], EXTERNAL],
    ]);
    assert.deepEqual(s.stale.map((r) => [r.identity.traddr, r.owners]), [["10.0.0.9", ["C"]]]);
    assert.deepEqual(s.volumes, [{ key: "h/v", owners: ["A"], createdBy: EXTERNAL }]);
  });

  it("an orphan an interrupted attempt made is ours (createdBy set, no owners), not foreign", () => {
    const ledger = emptyLedger();
    ledger.paths[identityKey(id("10.0.0.3"))] = { identity: { ...id("10.0.0.3") }, createdBy: "A", owners: [], device: "nvme3" };
    const s = hostStatus([ctrl("nvme3", id("10.0.0.3"))], ledger, new Date());
    assert.deepEqual([s.controllers[0].owners, s.controllers[0].createdBy], [[], "A"]);
  });

  it("an address the kernel shows in another text form is another path: foreign, and our record is stale", () => {
    const ledger = emptyLedger();
    recordCreated(ledger, id("fd00::3"), "A", { device: "nvme1" });
    // Same address, other text: the kernel compares strings, so this is not our controller.
    const s = hostStatus([ctrl("nvme1", id("fd00:0::3"))], ledger, new Date());
    assert.deepEqual([s.controllers[0].owners, s.controllers[0].createdBy], [[], null]);
    assert.equal(s.stale.length, 1);
  });

  it("a look-alike of our gone controller (same path, another name or controller ID) is foreign, and our record is stale", () => {
    const ledger = emptyLedger();
    recordCreated(ledger, id("10.0.0.1"), "A", { device: "nvme1", cntlid: 7 });
    for (const lookAlike of [{ ...ctrl("nvme1", id("10.0.0.1")), cntlid: 8 }, { ...ctrl("nvme4", id("10.0.0.1")), cntlid: 7 }]) {
      const s = hostStatus([lookAlike], ledger, new Date());
      assert.deepEqual([s.controllers[0].owners, s.controllers[0].createdBy], [[], null]);
      assert.deepEqual(s.stale.map((r) => r.owners), [["A"]]);
    }
    assert.deepEqual(hostStatus([{ ...ctrl("nvme1", id("10.0.0.1")), cntlid: 7 }], ledger, new Date()).controllers[0].owners, ["A"]);
  });
});

describe("hostStatus: issue 14 on the real kernel (test/kernel/ownership.test.ts)", () => {
  const NOW = new Date("2026-12-02T20:00:00Z");

  it("the same path re-created under our name and controller ID (both lowest free) is another kernel object: foreign, our record stale", () => {
    const ledger = emptyLedger();
    recordCreated(ledger, id("10.0.0.1"), "A", { device: "nvme1", cntlid: 2, inode: "15087" });
    const again = { ...ctrl("nvme1", id("10.0.0.1")), cntlid: 2, inode: "16211" };
    const s = hostStatus([again], ledger, NOW);
    assert.deepEqual([s.controllers[0].owners, s.controllers[0].createdBy], [[], null]);
    assert.deepEqual(s.stale.map((r) => r.owners), [["A"]]);
    assert.deepEqual(hostStatus([{ ...again, inode: "15087" }], ledger, NOW).controllers[0].owners, ["A"]);
  });

  it("an intent claims in status only what it may claim in the planner: not after it expired, not an instance that existed when it was written", () => {
    const pending = (expires: Date, instances: string[]) => {
      const ledger = emptyLedger();
      ledger.paths[identityKey(id("10.0.0.1"))] = {
        identity: { ...id("10.0.0.1") }, createdBy: "A", owners: [],
        pending: { owner: "A", since: new Date(expires.getTime() - 90_000).toISOString(), expires: expires.toISOString(), instances },
      };
      return hostStatus([ctrl("nvme0", id("10.0.0.1"))], ledger, NOW).controllers[0];
    };
    const later = new Date(NOW.getTime() + 60_000);
    assert.equal(pending(later, []).connecting, "A", "a connect in flight: its controller is being connected by A");
    for (const stale of [pending(new Date(NOW.getTime() - 1), []), pending(later, ["nvme0"])]) {
      assert.deepEqual([stale.owners, stale.createdBy, stale.connecting], [[], null, undefined]);
    }
  });
});
