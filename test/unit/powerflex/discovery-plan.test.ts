import { strict as assert } from "node:assert";
import { Sdt, planPaths } from "../../../provider/powerflex";
import { pathsFromDiscovery, referralsOf, whyNoPlan, type DiscoveryPlanInput } from "../../../provider/powerflex/discovery-plan";
import type { DiscoveryRecord } from "../../../provider/host/nvme/discover";

const system = { id: "1250de83018c2d0f" };
const NQN = "nqn.1988-11.com.dell:powerflex:00:1250de83018c2d0f";
const PURE = "nqn.2010-06.com.purestorage:flasharray.6b1a2f0c1d2e3f40";

function sdt(id: string, ips: [string, string][], extra: Record<string, unknown> = {}): Sdt {
  return Sdt.parse({ id, name: `sdt-${id}`, systemId: system.id, ipList: ips.map(([ip, role]) => ({ ip, role })), nvmePort: 4420, discoveryPort: 8009, ...extra });
}

const SDTS = [
  sdt("a", [["10.0.0.1", "StorageAndHost"], ["fd00::a1", "HostOnly"]]),
  sdt("b", [["10.0.0.2", "StorageAndHost"], ["10.0.1.2", "StorageOnly"]]),
  sdt("c", [["10.0.0.3", "StorageAndHost"]], { maintenanceState: "InMaintenance" }),
];

function rec(traddr: string, extra: Partial<DiscoveryRecord> = {}): DiscoveryRecord {
  return { trtype: "tcp", adrfam: traddr.includes(":") ? "ipv6" : "ipv4", subtype: "nvme subsystem", trsvcid: "4420", subnqn: NQN, traddr, ...extra };
}

function input(records: DiscoveryRecord[], extra: Partial<DiscoveryPlanInput> = {}): DiscoveryPlanInput {
  const plan = planPaths({ system, sdts: SDTS });
  return { records, subsystemNqn: NQN, sdts: SDTS, candidates: plan, connectable: plan.paths, overridden: new Set(), ...extra };
}

const addrs = (r: { paths: { traddr: string; trsvcid: number }[] }) => r.paths.map((p) => `${p.traddr}:${p.trsvcid}`);

describe("pathsFromDiscovery (discovery log -> planned paths)", () => {
  it("keeps the planned ports of our SDTs, in SDT order, whatever the log's order", () => {
    const r = pathsFromDiscovery(input([rec("10.0.0.2"), rec("10.0.0.1")]));
    assert.deepEqual(addrs(r), ["10.0.0.1:4420", "10.0.0.2:4420"]);
    assert.deepEqual(r.leftOut, []);
    assert.equal(r.subsystemNqn, NQN);
  });

  it("leaves out another subsystem's entry, naming it", () => {
    const r = pathsFromDiscovery(input([rec("10.0.0.1"), rec("10.0.0.2", { subnqn: PURE })]));
    assert.deepEqual(addrs(r), ["10.0.0.1:4420"]);
    assert.deepEqual(r.leftOut, [`10.0.0.2:4420 ${PURE}: another subsystem than the system's ${NQN}`]);
  });

  it("leaves out an address no SDT of the protection domain has, and another port of an SDT address", () => {
    const r = pathsFromDiscovery(input([rec("10.9.9.9"), rec("10.0.0.1", { trsvcid: "4421" }), rec("10.0.0.2")]));
    assert.deepEqual(addrs(r), ["10.0.0.2:4420"]);
    assert.deepEqual(r.leftOut, [
      `10.9.9.9:4420 ${NQN}: no SDT of the protection domain has this address and NVMe port`,
      `10.0.0.1:4421 ${NQN}: no SDT of the protection domain has this address and NVMe port`,
    ]);
  });

  it("leaves out an SDT's address the other rules leave out: its role, its state, the sdts filter", () => {
    const filtered = planPaths({ system, sdts: SDTS, sdtFilter: ["sdt-a", "sdt-c"] });
    const r = pathsFromDiscovery(input([rec("10.0.1.2"), rec("10.0.0.3"), rec("10.0.0.2"), rec("10.0.0.1")], { candidates: filtered, connectable: filtered.paths }));
    assert.deepEqual(addrs(r), ["10.0.0.1:4420"]);
    assert.deepEqual(r.leftOut, [
      `10.0.1.2:4420 ${NQN}: SDT sdt-b is left out: not in the SDT filter`,
      `10.0.0.3:4420 ${NQN}: SDT sdt-c is left out: in maintenance (maintenanceState=InMaintenance)`,
      `10.0.0.2:4420 ${NQN}: SDT sdt-b is left out: not in the SDT filter`,
    ]);
    const unfiltered = pathsFromDiscovery(input([rec("10.0.1.2")]));
    assert.deepEqual(unfiltered.leftOut, [`10.0.1.2:4420 ${NQN}: the address of SDT sdt-b has role StorageOnly, not one of roles`]);
  });

  it("leaves out entries of another transport; referrals and the discovery controller itself are no paths", () => {
    const r = pathsFromDiscovery(
      input([
        rec("10.0.0.1", { trtype: "rdma" }),
        rec("10.0.0.2", { subtype: "discovery subsystem referral", trsvcid: "8009", subnqn: "nqn.2014-08.org.nvmexpress.discovery" }),
        rec("10.0.0.1", { subtype: "current discovery subsystem", trsvcid: "8009", subnqn: "nqn.2014-08.org.nvmexpress.discovery" }),
        rec("10.0.0.2"),
      ]),
    );
    assert.deepEqual(addrs(r), ["10.0.0.2:4420"]);
    assert.deepEqual(r.leftOut, [`10.0.0.1:4420 ${NQN}: transport rdma, not tcp`]);
  });

  it("an entry listed by several discovery controllers counts once; so does one of its text forms", () => {
    const r = pathsFromDiscovery(input([rec("10.0.0.1"), rec("10.0.0.1"), rec("10.9.9.9"), rec("10.9.9.9"), rec("10.0.0.1", { trsvcid: "4420 " })]));
    assert.deepEqual(addrs(r), ["10.0.0.1:4420"]);
    assert.equal(r.leftOut.length, 1);
  });

  it("matches IPv6 whatever its text form (expanded, upper case, bracketed)", () => {
    for (const text of ["fd00:0:0:0:0:0:0:a1", "FD00::A1", "[fd00::a1]", "fd00:0000::00a1"]) {
      const r = pathsFromDiscovery(input([rec(text)]));
      assert.deepEqual(addrs(r), ["fd00::a1:4420"], text);
      assert.deepEqual(r.leftOut, [], text);
    }
  });

  it("an entry whose address is no IP literal is left out with a reason", () => {
    const r = pathsFromDiscovery(input([rec("sdt-a.example.com"), rec("10.0.0.1", { trsvcid: "http" })]));
    assert.deepEqual(r.paths, []);
    assert.deepEqual(r.leftOut.map((l) => l.split(": ")[1]), ["the address or port is not an IP literal and a TCP port", "the address or port is not an IP literal and a TCP port"]);
  });

  it("without a known NQN, takes the one the log names at our SDTs; several there is an error", () => {
    const r = pathsFromDiscovery(input([rec("10.9.9.9", { subnqn: PURE }), rec("10.0.0.2")], { subsystemNqn: undefined }));
    assert.equal(r.subsystemNqn, NQN);
    assert.deepEqual(addrs(r), ["10.0.0.2:4420"]);
    assert.throws(() => pathsFromDiscovery(input([rec("10.0.0.1", { subnqn: PURE }), rec("10.0.0.2")], { subsystemNqn: undefined })), /several subsystems.*purestorage.*powerflex/);
  });

  it("with addresses overridden, the plan picks the SDT and the overrides give its addresses", () => {
    const overrides = { "sdt-a": ["192.0.2.1", "192.0.2.2"] };
    const connectable = planPaths({ system, sdts: SDTS, addressOverrides: overrides }).paths;
    const r = pathsFromDiscovery(input([rec("fd00::a1"), rec("10.0.0.2")], { connectable, overridden: new Set(["a"]) }));
    assert.deepEqual(addrs(r), ["192.0.2.1:4420", "192.0.2.2:4420", "10.0.0.2:4420"]);
    const none = pathsFromDiscovery(input([rec("10.0.0.2")], { connectable, overridden: new Set(["a"]) }));
    assert.deepEqual(addrs(none), ["10.0.0.2:4420"], "an SDT the plan does not name is not connected at its overrides");
  });
});

describe("referralsOf", () => {
  it("lists TCP referrals (2.x and nvme-cli 1.x subtype text), canonical, once each", () => {
    const ref = (traddr: string, extra: Partial<DiscoveryRecord> = {}) => rec(traddr, { subtype: "discovery subsystem referral", trsvcid: "8009", subnqn: "nqn.2014-08.org.nvmexpress.discovery", ...extra });
    assert.deepEqual(
      referralsOf([
        rec("10.0.0.1"),
        ref("10.0.0.2"),
        ref("FD00::A1", { subtype: "discovery subsystem" }),
        ref("10.0.0.2"),
        ref("10.0.0.3", { trtype: "rdma" }),
        rec("10.0.0.4", { subtype: "current discovery subsystem", trsvcid: "8009" }),
        ref("not-an-ip"),
      ]),
      [
        { traddr: "10.0.0.2", port: 8009 },
        { traddr: "fd00::a1", port: 8009 },
      ],
    );
  });
});

describe("whyNoPlan (when pathSource \"plan\" falls back to every SDT address)", () => {
  const e1 = { traddr: "10.0.0.1", port: 8009 };
  const e2 = { traddr: "10.0.0.2", port: 8009 };
  it("no volume mapped", () => {
    const r = whyNoPlan({ mappedVolumes: 0, canDiscover: true })!;
    assert.match(r.reason, /^no volume is mapped to this host by this attachment/);
    assert.equal(r.unread, false, "there is no plan: nothing to read");
  });
  it("no discovery here", () => {
    assert.deepEqual(whyNoPlan({ mappedVolumes: 1, canDiscover: false }), { reason: "nvme discover cannot run here", unread: true });
  });
  it("no discovery controller answering, naming each problem: the plan is unread", () => {
    assert.deepEqual(whyNoPlan({ mappedVolumes: 1, canDiscover: true, asked: [{ endpoint: e1, problem: "refused", records: 0, refused: true }, { endpoint: e2, problem: "timed out", records: 0 }] }), {
      reason: "no discovery controller answered: refused; timed out",
      unread: true,
    });
  });
  it("every discovery port refusing the connection: there is no plan (nothing listens), not an unread one", () => {
    assert.deepEqual(whyNoPlan({ mappedVolumes: 1, canDiscover: true, asked: [{ endpoint: e1, problem: "p1", records: 0, refused: true }, { endpoint: e2, problem: "p2", records: 0, refused: true }] }), {
      reason: "no discovery controller listens at the SDTs' discovery ports: p1; p2",
      unread: false,
    });
  });
  it("an empty log, with the failures beside it", () => {
    assert.deepEqual(whyNoPlan({ mappedVolumes: 1, canDiscover: true, asked: [{ endpoint: e1, problem: "refused", records: 0 }, { endpoint: e2, records: 0 }] }), {
      reason: "the discovery log is empty at 10.0.0.2:8009 (the array plans no port for this host); refused",
      unread: false,
    });
  });
  it("a log that plans nothing we may use, with the entries left out", () => {
    assert.deepEqual(whyNoPlan({ mappedVolumes: 1, canDiscover: true, asked: [{ endpoint: e1, records: 1 }], planned: 0, leftOut: ["10.9.9.9:4420 nqn.x: no SDT"] }), {
      reason: "the discovery log plans no port this attachment may use: 10.9.9.9:4420 nqn.x: no SDT",
      unread: false,
    });
  });
  it("a plan: no reason", () => {
    assert.equal(whyNoPlan({ mappedVolumes: 1, canDiscover: true, asked: [{ endpoint: e1, records: 2 }], planned: 2 }), undefined);
  });
});
