import { strict as assert } from "node:assert";
import fc from "fast-check";
import type { ControllerState, FabricsController } from "../../provider/host/nvme/controller";
import { identityKey, type PathIdentity } from "../../provider/host/nvme/identity";
import { addOwner, emptyLedger, EXTERNAL, forget, markPending, recordCreated, removeOwner, type Ledger } from "../../provider/host/ledger/records";
import { planAttach, planRelease, reconcilePending, type Action } from "../../provider/host/plan";

const ME = "me";
const HOSTS = ["nqn.2014-08.org.nvmexpress:uuid:11111111-1111-1111-1111-111111111111", "nqn.2014-08.org.example:other-tool"];
const SUBSYS = ["nqn.1988-11.com.dell:powerflex:00:abc123", "nqn.2010-06.com.purestorage:flasharray.1"];
const ADDRS = ["10.0.0.1", "10.0.0.2", "fd00::3"];

function ident(a: number, s: number, h: number): PathIdentity {
  return { transport: "tcp", traddr: ADDRS[a], trsvcid: 4420, subsysnqn: SUBSYS[s], hostnqn: HOSTS[h], hostid: `0000000${h}-0000-0000-0000-000000000000` };
}
const POOL: PathIdentity[] = [];
for (let a = 0; a < ADDRS.length; a++) for (let s = 0; s < SUBSYS.length; s++) for (let h = 0; h < HOSTS.length; h++) POOL.push(ident(a, s, h));

function ctrl(device: string, identity: PathIdentity | undefined, state: ControllerState, mounted = false): FabricsController {
  return {
    device,
    transport: identity ? "tcp" : "rdma",
    address: identity ? `traddr=${identity.traddr},trsvcid=${identity.trsvcid}` : "traddr=1.1.1.1,trsvcid=4420",
    addressFields: {},
    subsysnqn: identity?.subsysnqn ?? "nqn.x",
    hostnqn: identity?.hostnqn ?? "",
    hostid: identity?.hostid ?? "",
    state,
    cntrltype: "io",
    identity,
    // One namespace head per subsystem, shared by all its paths (native multipath).
    namespaces: identity ? [{ blockDevice: `nvme${SUBSYS.indexOf(identity.subsysnqn)}n1`, nsid: 1, mountpoints: mounted ? ["/mnt"] : [], holders: [] }] : [],
  };
}

/** A small model host: controllers plus the ledger; applying actions the way the engine does. */
interface Model {
  controllers: FabricsController[];
  ledger: Ledger;
}

function freeName(m: Model): string {
  for (let i = 0; ; i++) if (!m.controllers.some((c) => c.device === `nvme${i}`)) return `nvme${i}`;
}

function applyAttach(m: Model, actions: Action[], owner: string): void {
  for (const a of actions) {
    if (a.kind === "connect") {
      const device = freeName(m);
      m.controllers.push(ctrl(device, a.identity, "live"));
      recordCreated(m.ledger, a.identity, owner, device);
    } else if (a.kind === "adopt") {
      addOwner(m.ledger, a.identity, owner, a.createdBy, a.device);
    } else assert.equal(a.kind, "keep", `attach plans only connect/adopt/keep, got ${a.kind}`);
  }
}

function applyRelease(m: Model, actions: Action[], owner: string): void {
  for (const a of actions) {
    if (a.kind === "disconnect") {
      m.controllers = m.controllers.filter((c) => !a.devices.includes(c.device));
      forget(m.ledger, a.identity);
    } else if (a.kind === "release") removeOwner(m.ledger, a.identity, owner);
    else if (a.kind === "forget") forget(m.ledger, a.identity);
    else assert.fail(`unexpected ${a.kind}`);
  }
}

const snapshot = (cs: readonly FabricsController[]) =>
  cs.map((c) => `${c.device}|${c.state}|${c.identity ? identityKey(c.identity) : "-"}`).sort();

/** Random host: foreign controllers (some without a TCP identity), some recorded for another owner. */
const arbModel = fc
  .record({
    present: fc.uniqueArray(fc.integer({ min: 0, max: POOL.length - 1 }), { maxLength: POOL.length }),
    states: fc.array(fc.constantFrom<ControllerState>("live", "live", "connecting", "resetting", "deleting", "dead"), { minLength: POOL.length, maxLength: POOL.length }),
    recorded: fc.array(fc.constantFrom("none", "other", "external"), { minLength: POOL.length, maxLength: POOL.length }),
    nonTcp: fc.integer({ min: 0, max: 2 }),
  })
  .map(({ present, states, recorded, nonTcp }): Model => {
    const m: Model = { controllers: [], ledger: emptyLedger() };
    for (const i of present) {
      const device = freeName(m);
      m.controllers.push(ctrl(device, POOL[i], states[i]));
      if (recorded[i] === "other" && states[i] !== "deleting" && states[i] !== "dead") recordCreated(m.ledger, POOL[i], "other", device);
      if (recorded[i] === "external" && states[i] !== "deleting" && states[i] !== "dead") addOwner(m.ledger, POOL[i], "other", EXTERNAL, device);
    }
    for (let i = 0; i < nonTcp; i++) m.controllers.push(ctrl(freeName(m), undefined, "live"));
    return m;
  });
const arbDesired = fc.uniqueArray(fc.integer({ min: 0, max: POOL.length - 1 }), { minLength: 1 }).map((ix) => ix.map((i) => POOL[i]));

const clone = (m: Model): Model => JSON.parse(JSON.stringify(m)) as Model;

describe("planner properties (random hosts with foreign controllers)", () => {
  it("never plans a second connect of a present identity, and one action per desired path", () => {
    fc.assert(
      fc.property(arbModel, arbDesired, (m, desired) => {
        const actions = planAttach({ desired, observed: m.controllers, ledger: m.ledger, owner: ME });
        assert.equal(actions.length, new Set(desired.map(identityKey)).size);
        for (const a of actions.filter((x) => x.kind === "connect")) {
          const present = m.controllers.filter(
            (c) => c.identity && identityKey(c.identity) === identityKey(a.identity) && ["live", "connecting", "resetting", "new"].includes(c.state),
          );
          assert.equal(present.length, 0, `connect planned for present ${identityKey(a.identity)}`);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("never disconnects a controller we did not make, another owner holds, or that is not in the release set", () => {
    fc.assert(
      fc.property(arbModel, arbDesired, arbDesired, fc.boolean(), (m, desired, releaseSet, force) => {
        applyAttach(m, planAttach({ desired, observed: m.controllers, ledger: m.ledger, owner: ME }), ME);
        const before = clone(m);
        const actions = planRelease({ release: releaseSet, observed: m.controllers, ledger: m.ledger, owner: ME, force });
        const releaseKeys = new Set(releaseSet.map(identityKey));
        for (const a of actions) {
          assert.ok(releaseKeys.has(identityKey(a.identity)), "action outside the release set");
          if (a.kind !== "disconnect") continue;
          const rec = before.ledger.paths[identityKey(a.identity)];
          assert.ok(rec, "disconnect without a record");
          assert.deepEqual(rec.owners, [ME], "disconnect while another owner holds it");
          assert.notEqual(rec.createdBy, EXTERNAL, "disconnect of a pre-existing controller");
          for (const d of a.devices) {
            const c = before.controllers.find((x) => x.device === d);
            assert.ok(c?.identity && identityKey(c.identity) === identityKey(a.identity), `disconnect of ${d}, which is another path`);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it("attach then release leaves the host and the ledger exactly as before", () => {
    fc.assert(
      fc.property(arbModel, arbDesired, (m, desired) => {
        const before = clone(m);
        applyAttach(m, planAttach({ desired, observed: m.controllers, ledger: m.ledger, owner: ME }), ME);
        const release = planRelease({ release: desired, observed: m.controllers, ledger: m.ledger, owner: ME, force: false });
        applyRelease(m, release, ME);
        assert.deepEqual(snapshot(m.controllers), snapshot(before.controllers));
        assert.deepEqual(m.ledger, before.ledger);
      }),
      { numRuns: 300 },
    );
  });

  it("a second attach by the same owner plans nothing but keeps", () => {
    fc.assert(
      fc.property(arbModel, arbDesired, (m, desired) => {
        applyAttach(m, planAttach({ desired, observed: m.controllers, ledger: m.ledger, owner: ME }), ME);
        const again = planAttach({ desired, observed: m.controllers, ledger: m.ledger, owner: ME });
        assert.ok(again.every((a) => a.kind === "keep"), JSON.stringify(again.map((a) => a.kind)));
      }),
      { numRuns: 200 },
    );
  });
});

describe("planner rules", () => {
  const p = POOL[0];

  it("adopts a controller that was there before us and never disconnects it", () => {
    const m: Model = { controllers: [ctrl("nvme0", p, "live")], ledger: emptyLedger() };
    const attach = planAttach({ desired: [p], observed: m.controllers, ledger: m.ledger, owner: ME });
    assert.deepEqual(attach.map((a) => a.kind), ["adopt"]);
    applyAttach(m, attach, ME);
    assert.equal(m.ledger.paths[identityKey(p)].createdBy, EXTERNAL);
    const release = planRelease({ release: [p], observed: m.controllers, ledger: m.ledger, owner: ME, force: true });
    assert.deepEqual(release.map((a) => a.kind), ["release"]);
  });

  it("the last owner of a shared controller made by another owner disconnects it", () => {
    const m: Model = { controllers: [], ledger: emptyLedger() };
    applyAttach(m, planAttach({ desired: [p], observed: m.controllers, ledger: m.ledger, owner: "a" }), "a");
    applyAttach(m, planAttach({ desired: [p], observed: m.controllers, ledger: m.ledger, owner: "b" }), "b");
    const relA = planRelease({ release: [p], observed: m.controllers, ledger: m.ledger, owner: "a", force: false });
    assert.deepEqual(relA.map((a) => a.kind), ["release"]);
    applyRelease(m, relA, "a");
    const relB = planRelease({ release: [p], observed: m.controllers, ledger: m.ledger, owner: "b", force: false });
    assert.deepEqual(relB.map((a) => a.kind), ["disconnect"]);
  });

  it("refuses to cut the last live path of a mounted namespace unless forced", () => {
    const ledger = emptyLedger();
    recordCreated(ledger, p, ME, "nvme0");
    const observed = [ctrl("nvme0", p, "live", true)];
    const refused = planRelease({ release: [p], observed, ledger, owner: ME, force: false });
    assert.equal(refused[0].kind, "refuse-in-use");
    assert.match(refused[0].reason, /last live path of \/dev\/nvme0n1/);
    assert.equal(planRelease({ release: [p], observed, ledger, owner: ME, force: true })[0].kind, "disconnect");
  });

  it("lets one path of a mounted multipath namespace go while another live path stays", () => {
    const q = POOL.find((x) => x.subsysnqn === p.subsysnqn && x.hostnqn === p.hostnqn && x.traddr !== p.traddr)!;
    const ledger = emptyLedger();
    recordCreated(ledger, p, ME, "nvme0");
    const observed = [ctrl("nvme0", p, "live", true), ctrl("nvme1", q, "live", true)];
    assert.equal(planRelease({ release: [p], observed, ledger, owner: ME, force: false })[0].kind, "disconnect");
    // ...but not both at once.
    recordCreated(ledger, q, ME, "nvme1");
    const both = planRelease({ release: [p, q], observed, ledger, owner: ME, force: false });
    assert.deepEqual(both.map((a) => a.kind), ["refuse-in-use", "refuse-in-use"]);
  });

  it("forgets a record whose controller is gone", () => {
    const ledger = emptyLedger();
    recordCreated(ledger, p, ME, "nvme0");
    assert.deepEqual(planRelease({ release: [p], observed: [], ledger, owner: ME, force: false }).map((a) => a.kind), ["forget"]);
  });

  it("matches by identity, not by controller name (names are reused)", () => {
    const ledger = emptyLedger();
    recordCreated(ledger, p, ME, "nvme0");
    const other = POOL.find((x) => x.hostnqn !== p.hostnqn)!;
    // nvme0 now is somebody else's path; ours came back as nvme1.
    const observed = [ctrl("nvme0", other, "live"), ctrl("nvme1", p, "live")];
    const [a] = planRelease({ release: [p], observed, ledger, owner: ME, force: false });
    assert.equal(a.kind, "disconnect");
    assert.deepEqual(a.kind === "disconnect" && a.devices, ["nvme1"]);
  });

  it("treats a deleting controller as absent (the kernel does too) and a connecting one as present", () => {
    assert.equal(planAttach({ desired: [p], observed: [ctrl("nvme0", p, "deleting")], ledger: emptyLedger(), owner: ME })[0].kind, "connect");
    assert.equal(planAttach({ desired: [p], observed: [ctrl("nvme0", p, "connecting")], ledger: emptyLedger(), owner: ME })[0].kind, "adopt");
  });

  it("reconciles a crash: intent with a controller becomes an orphan we made, intent without one is dropped", () => {
    const q = POOL[1];
    const ledger = emptyLedger();
    markPending(ledger, p, ME, new Date(0));
    markPending(ledger, q, ME, new Date(0));
    const changed = reconcilePending(ledger, [ctrl("nvme4", p, "live")]);
    assert.equal(changed.length, 2);
    assert.deepEqual(ledger.paths[identityKey(p)], { identity: p, createdBy: ME, owners: [], device: "nvme4" });
    assert.equal(ledger.paths[identityKey(q)], undefined);
    // Another owner adopts the orphan and, as its last owner, disconnects it; the maker's release does too.
    const [adopt] = planAttach({ desired: [p], observed: [ctrl("nvme4", p, "live")], ledger, owner: "other" });
    assert.deepEqual([adopt.kind, adopt.kind === "adopt" && adopt.createdBy], ["adopt", ME]);
    assert.equal(planRelease({ release: [p], observed: [ctrl("nvme4", p, "live")], ledger, owner: ME, force: false })[0].kind, "disconnect");
    // An orphan whose controller went is forgotten at the next scan.
    assert.deepEqual(reconcilePending(ledger, []), [identityKey(p)]);
    assert.deepEqual(ledger.paths, {});
  });

  it("settles only the intents of the subsystem that was scanned", () => {
    const other = ident(0, 1, 0); // same address and host, another subsystem: not in a scan filtered to SUBSYS[0]
    assert.equal(p.subsysnqn, SUBSYS[0]);
    const ledger = emptyLedger();
    markPending(ledger, p, ME, new Date(0));
    markPending(ledger, other, ME, new Date(0));
    assert.deepEqual(reconcilePending(ledger, [], SUBSYS[0]), [identityKey(p)]);
    assert.equal(ledger.paths[identityKey(p)], undefined);
    assert.ok(ledger.paths[identityKey(other)]?.pending, "an intent of another subsystem waits for a scan that sees it");
  });
});
