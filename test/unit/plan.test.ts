import { strict as assert } from "node:assert";
import fc from "fast-check";
import type { ControllerState, FabricsController, NamespaceUse } from "../../provider/host/nvme/controller";
import { identityKey, type PathIdentity } from "../../provider/host/nvme/identity";
import { addOwner, emptyLedger, EXTERNAL, forget, markPending, recordCreated, recordObject, removeOwner, type Ledger } from "../../provider/host/ledger/records";
import { planAttach, planRelease, reconcilePending, settleConnect, type Action } from "../../provider/host/plan";

const ME = "me";
const HOSTS = ["nqn.2014-08.org.nvmexpress:uuid:11111111-1111-1111-1111-111111111111", "nqn.2014-08.org.example:other-tool"];
const SUBSYS = ["nqn.1988-11.com.dell:powerflex:00:abc123", "nqn.2010-06.com.purestorage:flasharray.1"];
const ADDRS = ["10.0.0.1", "10.0.0.2", "fd00::3"];

function ident(a: number, s: number, h: number): PathIdentity {
  return { transport: "tcp", traddr: ADDRS[a], trsvcid: 4420, subsysnqn: SUBSYS[s], hostnqn: HOSTS[h], hostid: `0000000${h}-0000-0000-0000-000000000000` };
}
const POOL: PathIdentity[] = [];
for (let a = 0; a < ADDRS.length; a++) for (let s = 0; s < SUBSYS.length; s++) for (let h = 0; h < HOSTS.length; h++) POOL.push(ident(a, s, h));

/** Controller IDs as a target hands them out: never two objects with the same one in a test. */
let nextCntlid = 1;

function ctrl(device: string, identity: PathIdentity | undefined, state: ControllerState, mounted = false, cntlid = nextCntlid++): FabricsController {
  return {
    device,
    cntlid,
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
    namespaces: identity ? [{ blockDevice: `nvme${SUBSYS.indexOf(identity.subsysnqn)}n1`, nsid: 1, mountpoints: mounted ? ["/mnt"] : [], holders: [], swaps: [], exclusive: "unknown" }] : [],
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
      const made = ctrl(freeName(m), a.identity, "live");
      m.controllers.push(made);
      recordCreated(m.ledger, a.identity, owner, { device: made.device, cntlid: made.cntlid });
    } else if (a.kind === "adopt") {
      recordObject(m.ledger, a.identity, owner, a.createdBy, { device: a.controller.device, cntlid: a.controller.cntlid });
    } else assert.equal(a.kind, "keep", `attach plans only connect/adopt/keep, got ${a.kind}`);
  }
}

function applyRelease(m: Model, actions: Action[], owner: string): void {
  for (const a of actions) {
    if (a.kind === "disconnect") {
      m.controllers = m.controllers.filter((c) => c !== a.controller && c.device !== a.controller.device);
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
      const c = ctrl(freeName(m), POOL[i], states[i]);
      m.controllers.push(c);
      const object = { device: c.device, cntlid: c.cntlid };
      if (recorded[i] === "other" && states[i] !== "deleting" && states[i] !== "dead") recordCreated(m.ledger, POOL[i], "other", object);
      if (recorded[i] === "external" && states[i] !== "deleting" && states[i] !== "dead") addOwner(m.ledger, POOL[i], "other", EXTERNAL, object);
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
          const c = before.controllers.find((x) => x.device === a.controller.device);
          assert.ok(c?.identity && identityKey(c.identity) === identityKey(a.identity), `disconnect of ${a.controller.device}, which is another path`);
          // The very object the record names: its name and its controller ID, not a look-alike.
          assert.deepEqual([c.device, c.cntlid], [rec.device, rec.cntlid], "disconnect of an object the record does not name");
        }
      }),
      { numRuns: 300 },
    );
  });

  it("never deletes a look-alike: when our object went and someone re-made the path (same name or another), release only forgets", () => {
    fc.assert(
      fc.property(arbModel, arbDesired, fc.array(fc.boolean(), { minLength: POOL.length, maxLength: POOL.length }), fc.boolean(), (m, desired, sameName, force) => {
        applyAttach(m, planAttach({ desired, observed: m.controllers, ledger: m.ledger, owner: ME }), ME);
        // Every controller we made expires (ctrl-loss-tmo) and another tool connects the same path again.
        const ours = Object.values(m.ledger.paths).filter((r) => r.createdBy === ME);
        const lookAlikes = new Set<number>();
        for (const rec of ours) {
          m.controllers = m.controllers.filter((c) => c.device !== rec.device);
          const i = POOL.findIndex((x) => identityKey(x) === identityKey(rec.identity));
          const fresh = ctrl(sameName[i] ? rec.device! : freeName(m), rec.identity, "live");
          m.controllers.push(fresh);
          lookAlikes.add(fresh.cntlid!);
        }
        const attach = planAttach({ desired, observed: m.controllers, ledger: clone(m).ledger, owner: "other-attachment" });
        for (const a of attach) if (a.kind === "adopt" && a.controller.cntlid !== undefined && lookAlikes.has(a.controller.cntlid)) assert.equal(a.createdBy, EXTERNAL, "a look-alike adopted as made by an owner");
        const release = planRelease({ release: desired, observed: m.controllers, ledger: m.ledger, owner: ME, force });
        for (const a of release) {
          if (a.kind === "disconnect" || a.kind === "refuse-in-use") assert.ok(!lookAlikes.has(a.controller.cntlid!), `planned to cut the look-alike ${a.controller.device}`);
        }
        for (const rec of ours) {
          const a = release.find((x) => identityKey(x.identity) === identityKey(rec.identity));
          if (rec.owners.length === 1 && rec.owners[0] === ME) assert.equal(a?.kind, "forget", "our gone object is forgotten");
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
    recordCreated(ledger, p, ME, { device: "nvme0", cntlid: 7 });
    const observed = [ctrl("nvme0", p, "live", true, 7)];
    const refused = planRelease({ release: [p], observed, ledger, owner: ME, force: false });
    assert.equal(refused[0].kind, "refuse-in-use");
    assert.match(refused[0].reason, /last live path of \/dev\/nvme0n1/);
    assert.equal(planRelease({ release: [p], observed, ledger, owner: ME, force: true })[0].kind, "disconnect");
  });

  it("lets one path of a mounted multipath namespace go while another live path stays", () => {
    const q = POOL.find((x) => x.subsysnqn === p.subsysnqn && x.hostnqn === p.hostnqn && x.traddr !== p.traddr)!;
    const ledger = emptyLedger();
    recordCreated(ledger, p, ME, { device: "nvme0", cntlid: 7 });
    const observed = [ctrl("nvme0", p, "live", true, 7), ctrl("nvme1", q, "live", true, 8)];
    assert.equal(planRelease({ release: [p], observed, ledger, owner: ME, force: false })[0].kind, "disconnect");
    // ...but not both at once.
    recordCreated(ledger, q, ME, { device: "nvme1", cntlid: 8 });
    const both = planRelease({ release: [p, q], observed, ledger, owner: ME, force: false });
    assert.deepEqual(both.map((a) => a.kind), ["refuse-in-use", "refuse-in-use"]);
  });

  it("swap and a refused exclusive open are uses; with multipath=N, dm-multipath's other path carries a namespace it holds", () => {
    const q = POOL.find((x) => x.subsysnqn === p.subsysnqn && x.hostnqn === p.hostnqn && x.traddr !== p.traddr)!;
    const NGUID = "4a54e9f1000000ab0000000000000001";
    const ns = (blockDevice: string, use: Partial<NamespaceUse>): NamespaceUse => ({ blockDevice, nsid: 1, nguid: NGUID, mountpoints: [], holders: [], swaps: [], exclusive: "free", ...use });
    const on = (device: string, id: PathIdentity, cntlid: number, n: NamespaceUse): FabricsController => ({ ...ctrl(device, id, "live", false, cntlid), namespaces: [n] });
    const ledger = emptyLedger();
    recordCreated(ledger, p, ME, { device: "nvme0", cntlid: 7 });
    recordCreated(ledger, q, ME, { device: "nvme1", cntlid: 8 });
    const kinds = (release: PathIdentity[], observed: FabricsController[]) => planRelease({ release, observed, ledger, owner: ME, force: false }).map((a) => a.kind);

    const swap = planRelease({ release: [p], observed: [on("nvme0", p, 7, ns("nvme0n1", { swaps: ["nvme0n1p2"] }))], ledger, owner: ME, force: false });
    assert.deepEqual([swap[0].kind, swap[0].reason], ["refuse-in-use", "nvme0 is the last live path of /dev/nvme0n1 (swap on nvme0n1p2)"]);
    assert.deepEqual(kinds([p], [on("nvme0", p, 7, ns("nvme0n1", { exclusive: "busy" }))]), ["refuse-in-use"]);
    assert.deepEqual(kinds([p], [on("nvme0", p, 7, ns("nvme0n1", { exclusive: "unknown" }))]), ["disconnect"]);

    // multipath=N: one device per path, both held by dm-0 (dm-multipath): one of two may go, not both.
    const dm = (device: string, id: PathIdentity, cntlid: number, use: Partial<NamespaceUse> = {}) =>
      on(device, id, cntlid, ns(`${device}n1`, { holders: ["dm-0"], exclusive: "busy", ...use }));
    assert.deepEqual(kinds([p], [dm("nvme0", p, 7), dm("nvme1", q, 8)]), ["disconnect"]);
    assert.deepEqual(kinds([p, q], [dm("nvme0", p, 7), dm("nvme1", q, 8)]), ["refuse-in-use", "refuse-in-use"]);
    // The same dm device over two different namespaces (a striped LV) is no second path of either.
    assert.deepEqual(kinds([p], [dm("nvme0", p, 7), dm("nvme1", q, 8, { nguid: "4a54e9f1000000ab0000000000000002" })]), ["refuse-in-use"]);
    // A mount or swap on this path's own device is not carried by dm-multipath.
    assert.deepEqual(kinds([p], [dm("nvme0", p, 7, { mountpoints: ["/x"] }), dm("nvme1", q, 8)]), ["refuse-in-use"]);
    assert.deepEqual(kinds([p], [dm("nvme0", p, 7, { swaps: ["nvme0n1"] }), dm("nvme1", q, 8)]), ["refuse-in-use"]);
  });

  it("forgets a record whose controller is gone", () => {
    const ledger = emptyLedger();
    recordCreated(ledger, p, ME, { device: "nvme0", cntlid: 7 });
    assert.deepEqual(planRelease({ release: [p], observed: [], ledger, owner: ME, force: false }).map((a) => a.kind), ["forget"]);
  });

  it("deletes the object, not the name nor the identity: a reused name or a re-made path is not ours", () => {
    const ledger = emptyLedger();
    recordCreated(ledger, p, ME, { device: "nvme0", cntlid: 7 });
    const other = POOL.find((x) => x.hostnqn !== p.hostnqn)!;
    // nvme0 now is somebody else's path; the same path came back as nvme1 (autoconnect): neither is ours.
    const observed = [ctrl("nvme0", other, "live"), ctrl("nvme1", p, "live")];
    const [a] = planRelease({ release: [p], observed, ledger, owner: ME, force: true });
    assert.equal(a.kind, "forget");
    assert.match(a.reason, /our controller nvme0 \(cntlid 7\) is gone; nvme1 has the same path but is not the object we made: left connected/);
    // Same name, same path, another controller ID: a look-alike too.
    assert.equal(planRelease({ release: [p], observed: [ctrl("nvme0", p, "live", false, 8)], ledger, owner: ME, force: true })[0].kind, "forget");
    // Same name, path and controller ID (nvmet hands the lowest free one out again), another kernel object.
    const withInode = emptyLedger();
    recordCreated(withInode, p, ME, { device: "nvme0", cntlid: 7, inode: "4242" });
    const lookAlike = { ...ctrl("nvme0", p, "live", false, 7), inode: "4343" };
    assert.equal(planRelease({ release: [p], observed: [lookAlike], ledger: withInode, owner: ME, force: true })[0].kind, "forget");
    assert.equal(planRelease({ release: [p], observed: [{ ...lookAlike, inode: "4242" }], ledger: withInode, owner: ME, force: true })[0].kind, "disconnect");
    // A ledger v1 record (no controller ID) is its name and identity.
    delete ledger.paths[identityKey(p)].cntlid;
    const [v1] = planRelease({ release: [p], observed: [ctrl("nvme0", p, "live", false, 8)], ledger, owner: ME, force: true });
    assert.deepEqual([v1.kind, v1.kind === "disconnect" && v1.controller.device], ["disconnect", "nvme0"]);
    assert.equal(planRelease({ release: [p], observed: [ctrl("nvme1", p, "live")], ledger, owner: ME, force: true })[0].kind, "forget");
  });

  it("an attach by the holder of a gone object holds the look-alike as someone else's", () => {
    const ledger = emptyLedger();
    recordCreated(ledger, p, ME, { device: "nvme0", cntlid: 7 });
    const [a] = planAttach({ desired: [p], observed: [ctrl("nvme3", p, "live")], ledger, owner: ME });
    assert.deepEqual([a.kind, a.kind === "adopt" && a.createdBy], ["adopt", EXTERNAL]);
    assert.match(a.reason, /our nvme0 is gone; nvme3 is the same path made by someone else/);
  });

  it("settles a connect: a new name is ours, an old one or a failed connect's is someone else's", () => {
    const before = ["nvme0", "nvme1"];
    assert.deepEqual(settleConnect(p, before, [], { ok: true, killed: false }), { kind: "failed" });
    const fresh = ctrl("nvme2", p, "live");
    assert.equal(settleConnect(p, before, [fresh], { ok: true, killed: false, device: "nvme2" }).kind, "created");
    assert.equal(settleConnect(p, before, [fresh], { ok: false, killed: true }).kind, "created", "the kernel finished what nvme-cli gave up on");
    assert.equal(settleConnect(p, before, [fresh], { ok: false, killed: false }).kind, "lost", "a failed connect made nothing");
    assert.equal(settleConnect(p, before, [ctrl("nvme1", p, "live")], { ok: true, killed: false }).kind, "lost", "a name that was there before is not the one we made");
    // Another subsystem's nvme1 went meanwhile and our connect got its name: nvme-cli read it from the kernel.
    assert.equal(settleConnect(p, before, [ctrl("nvme1", p, "live")], { ok: true, killed: false, device: "nvme1" }).kind, "created", "the name our connect reported is ours");
  });

  it("treats a deleting controller as absent (the kernel does too) and a connecting one as present", () => {
    assert.equal(planAttach({ desired: [p], observed: [ctrl("nvme0", p, "deleting")], ledger: emptyLedger(), owner: ME })[0].kind, "connect");
    assert.equal(planAttach({ desired: [p], observed: [ctrl("nvme0", p, "connecting")], ledger: emptyLedger(), owner: ME })[0].kind, "adopt");
  });

  it("reconciles a crash: intent with a controller becomes an orphan we made, intent without one is dropped", () => {
    const q = POOL[1];
    const ledger = emptyLedger();
    markPending(ledger, p, ME, new Date(0), new Date(90_000), ["nvme0"]);
    markPending(ledger, q, ME, new Date(0), new Date(90_000), ["nvme0"]);
    const changed = reconcilePending(ledger, [ctrl("nvme4", p, "live", false, 4)], new Date(1000));
    assert.equal(changed.length, 2);
    assert.deepEqual(ledger.paths[identityKey(p)], { identity: p, createdBy: ME, owners: [], device: "nvme4", cntlid: 4 });
    assert.equal(ledger.paths[identityKey(q)], undefined);
    // Another owner adopts the orphan and, as its last owner, disconnects it; the maker's release does too.
    const [adopt] = planAttach({ desired: [p], observed: [ctrl("nvme4", p, "live", false, 4)], ledger, owner: "other" });
    assert.deepEqual([adopt.kind, adopt.kind === "adopt" && adopt.createdBy], ["adopt", ME]);
    assert.equal(planRelease({ release: [p], observed: [ctrl("nvme4", p, "live", false, 4)], ledger, owner: ME, force: false })[0].kind, "disconnect");
    // An orphan whose controller went is forgotten at the next scan.
    assert.deepEqual(reconcilePending(ledger, [], new Date(2000)), [identityKey(p)]);
    assert.deepEqual(ledger.paths, {});
  });

  it("settles only the intents of the subsystem that was scanned", () => {
    const other = ident(0, 1, 0); // same address and host, another subsystem: not in a scan filtered to SUBSYS[0]
    assert.equal(p.subsysnqn, SUBSYS[0]);
    const ledger = emptyLedger();
    markPending(ledger, p, ME, new Date(0), new Date(90_000), []);
    markPending(ledger, other, ME, new Date(0), new Date(90_000), []);
    assert.deepEqual(reconcilePending(ledger, [], new Date(1000), { subsysnqn: SUBSYS[0] }), [identityKey(p)]);
    assert.equal(ledger.paths[identityKey(p)], undefined);
    assert.ok(ledger.paths[identityKey(other)]?.pending, "an intent of another subsystem waits for a scan that sees it");
  });

  it("an intent claims only a controller newer than itself, and only until it expires", () => {
    const intent = () => {
      const ledger = emptyLedger();
      markPending(ledger, p, ME, new Date(0), new Date(90_000), ["nvme0", "nvme1"]);
      return ledger;
    };
    // A name that existed when the intent was written is someone else's, whatever it is now.
    let ledger = intent();
    reconcilePending(ledger, [ctrl("nvme1", p, "live")], new Date(1000));
    assert.equal(ledger.paths[identityKey(p)], undefined, "an old name claimed");
    // Past its expiry (an admin connected the path long after our connect died): nothing is claimed.
    ledger = intent();
    reconcilePending(ledger, [ctrl("nvme2", p, "live")], new Date(90_001));
    assert.equal(ledger.paths[identityKey(p)], undefined, "an expired intent claimed");
    // A new name within the intent's time: the controller our connect made.
    ledger = intent();
    reconcilePending(ledger, [ctrl("nvme2", p, "live", false, 9)], new Date(89_000));
    assert.deepEqual([ledger.paths[identityKey(p)]?.createdBy, ledger.paths[identityKey(p)]?.device], [ME, "nvme2"]);
    // A v1 intent (neither expiry nor names) claims nothing.
    ledger = intent();
    delete ledger.paths[identityKey(p)].pending!.expires;
    reconcilePending(ledger, [ctrl("nvme2", p, "live")], new Date(1000));
    assert.equal(ledger.paths[identityKey(p)], undefined);
  });
});
