import { strict as assert } from "node:assert";
import { dropHoldings, EndedOwnerError, endOwner, ENDED_KEPT, holdingsOf, refuseEnded, reopenOwner } from "../../../provider/host/ledger/ended";
import { addOwner, emptyLedger } from "../../../provider/host/ledger/records";
import type { PathIdentity } from "../../../provider/host/nvme/identity";

const path = (traddr: string, hostnqn = "nqn.2014-08.org.nvmexpress:uuid:a"): PathIdentity => ({
  transport: "tcp", traddr, trsvcid: 4420, subsysnqn: "nqn.1988-11.com.dell:powerflex:00:4a54e9f1000000ab", hostnqn, hostid: "h",
});

describe("ledger: ended owners (issue 15, ghost owners of a racing update and destroy)", () => {
  it("an ended owner is refused, naming it, when it ended and what to do; others are not", () => {
    const ledger = emptyLedger();
    endOwner(ledger, "pfnvme-a", new Date("2026-01-02T03:04:05.000Z"));
    assert.throws(() => refuseEnded(ledger, "pfnvme-a", "local"), (err: unknown) => {
      assert.ok(err instanceof EndedOwnerError);
      assert.match(err.message, /^attachment pfnvme-a has ended on this host \(destroyed, or dropped by refresh, at 2026-01-02T03:04:05.000Z\) on local: /);
      assert.match(err.message, /run `pulumi destroy`.*Nothing was changed\.$/);
      return true;
    });
    refuseEnded(ledger, "pfnvme-b", "local");
    reopenOwner(ledger, "pfnvme-a"); // its destroy failed: the attachment stays
    refuseEnded(ledger, "pfnvme-a", "local");
  });

  it("the first end counts, and only the newest ENDED_KEPT are remembered", () => {
    const ledger = emptyLedger();
    const at = (i: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, i));
    assert.equal(endOwner(ledger, "o-0", at(0)), false);
    assert.equal(endOwner(ledger, "o-0", at(5000)), true, "it had ended before");
    assert.equal(ledger.ended["o-0"], at(0).toISOString());
    for (let i = 1; i <= ENDED_KEPT; i++) endOwner(ledger, `o-${i}`, at(i));
    assert.equal(Object.keys(ledger.ended).length, ENDED_KEPT);
    assert.equal(ledger.ended["o-0"], undefined, "the oldest went");
    assert.equal(ledger.ended[`o-${ENDED_KEPT}`], at(ENDED_KEPT).toISOString());
  });

  it("dropHoldings lets go of the owner's paths and holds, and of its registration only when no one else uses it", () => {
    const ledger = emptyLedger();
    addOwner(ledger, path("10.0.0.1"), "a", "a");
    addOwner(ledger, path("10.0.0.1"), "b", "a");
    addOwner(ledger, path("10.0.0.2"), "a", "a");
    ledger.volumes["h1/v1"] = { createdBy: "a", owners: ["a"] };
    ledger.volumes["h1/v2"] = { createdBy: "a", owners: ["a", "b"] };
    ledger.hosts["h1"] = { nqn: "nqn.2014-08.org.nvmexpress:uuid:a" };
    const dropped = dropHoldings(ledger, "a", "h1");
    assert.deepEqual(holdingsOf(ledger, "a"), { paths: [], volumes: [] });
    assert.deepEqual(dropped.volumes, [{ key: "h1/v1", left: true }, { key: "h1/v2", left: false }]);
    assert.equal(dropped.host, false, "b still uses the host NQN and a mapping on h1");
    assert.deepEqual(Object.keys(ledger.hosts), ["h1"]);
    assert.deepEqual(ledger.volumes["h1/v2"].owners, ["b"]);

    const alone = emptyLedger();
    addOwner(alone, path("10.0.0.1"), "a", "a");
    alone.volumes["h1/v1"] = { createdBy: "a", owners: ["a"] };
    alone.hosts["h1"] = { nqn: "nqn.2014-08.org.nvmexpress:uuid:a" };
    assert.deepEqual(dropHoldings(alone, "a", "h1"), { volumes: [{ key: "h1/v1", left: true }], host: true });
    assert.deepEqual([alone.paths, alone.volumes, alone.hosts], [{}, {}, {}]);
  });
});
