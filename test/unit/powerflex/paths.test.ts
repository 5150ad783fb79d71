import { strict as assert } from "node:assert";
import { NO_SYSTEM_NQN_REASON, Sdt, planPaths, subsystemNqnOf } from "../../../provider/powerflex";

const system = { id: "1250de83018c2d0f" };

function sdt(id: string, ips: [string, string][], extra: Record<string, unknown> = {}): Sdt {
  return Sdt.parse({
    id,
    name: `sdt-${id}`,
    systemId: system.id,
    ipList: ips.map(([ip, role]) => ({ ip, role })),
    nvmePort: 4420,
    discoveryPort: 8009,
    sdtState: "Normal",
    mdmConnectionState: "Connected",
    membershipState: "Joined",
    maintenanceState: "NoMaintenance",
    ...extra,
  });
}

describe("planPaths", () => {
  it("keeps StorageAndHost and HostOnly addresses, never StorageOnly", () => {
    const plan = planPaths({
      system,
      sdts: [sdt("b", [["10.0.0.3", "StorageOnly"], ["10.0.0.4", "HostOnly"]]), sdt("a", [["10.0.0.1", "StorageAndHost"]])],
    });
    assert.deepEqual(plan.paths, [
      { sdtId: "a", sdtName: "sdt-a", traddr: "10.0.0.1", trsvcid: 4420, discoverySvcid: 8009 },
      { sdtId: "b", sdtName: "sdt-b", traddr: "10.0.0.4", trsvcid: 4420, discoverySvcid: 8009 },
    ]);
    assert.deepEqual(plan.skipped, []);
  });

  it("roles are configurable", () => {
    const plan = planPaths({ system, roles: ["StorageOnly"], sdts: [sdt("a", [["10.0.0.1", "StorageAndHost"], ["10.0.0.2", "StorageOnly"]])] });
    assert.deepEqual(plan.paths.map((p) => p.traddr), ["10.0.0.2"]);
  });

  it("an SDT with only StorageOnly addresses is skipped with a reason", () => {
    const plan = planPaths({ system, sdts: [sdt("a", [["10.0.0.1", "StorageOnly"]])] });
    assert.equal(plan.paths.length, 0);
    assert.match(plan.skipped[0]!.reason, /no address with role StorageAndHost or HostOnly/);
  });

  it("the SDT filter matches ids or names; the others are skipped with a reason", () => {
    const sdts = [sdt("a", [["10.0.0.1", "StorageAndHost"]]), sdt("b", [["10.0.0.2", "StorageAndHost"]]), sdt("c", [["10.0.0.3", "HostOnly"]])];
    const plan = planPaths({ system, sdts, sdtFilter: ["a", "sdt-c"] });
    assert.deepEqual(plan.paths.map((p) => p.sdtId), ["a", "c"]);
    assert.deepEqual(plan.skipped, [{ sdtId: "b", sdtName: "sdt-b", reason: "not in the SDT filter" }]);
  });

  it("address overrides replace the SDT's list (by id or name), canonicalised", () => {
    const sdts = [sdt("a", [["10.0.0.1", "StorageAndHost"]]), sdt("b", [["10.0.0.2", "StorageAndHost"]])];
    const plan = planPaths({ system, sdts, addressOverrides: { a: ["172.16.0.1"], "sdt-b": ["2001:DB8::0:1"] } });
    assert.deepEqual(plan.paths.map((p) => p.traddr), ["172.16.0.1", "2001:db8::1"]);
  });

  it("skips SDTs in maintenance and disconnected ones, with reasons", () => {
    const plan = planPaths({
      system,
      sdts: [
        sdt("a", [["10.0.0.1", "StorageAndHost"]], { maintenanceState: "InMaintenance" }),
        sdt("b", [["10.0.0.2", "StorageAndHost"]], { mdmConnectionState: "Disconnected" }),
        sdt("c", [["10.0.0.3", "StorageAndHost"]], { maintenanceState: "SetMaintenanceInProgress" }),
        sdt("d", [["10.0.0.4", "StorageAndHost"]], { systemId: "ffffffffffffffff" }),
        sdt("e", [["10.0.0.5", "StorageAndHost"]]),
      ],
    });
    assert.deepEqual(plan.paths.map((p) => p.sdtId), ["e"]);
    assert.deepEqual(
      plan.skipped.map((s) => [s.sdtId, s.reason]),
      [
        ["a", "in maintenance (maintenanceState=InMaintenance)"],
        ["b", "not connected to the MDM (mdmConnectionState=Disconnected)"],
        ["c", "in maintenance (maintenanceState=SetMaintenanceInProgress)"],
        ["d", "belongs to system ffffffffffffffff, not 1250de83018c2d0f"],
      ],
    );
  });

  it("invalid IPs (the csi mock's ':invalid' suffix) are skipped with a reason, not thrown", () => {
    const plan = planPaths({ system, sdts: [sdt("a", [["127.0.0.1:invalid", "StorageAndHost"], ["127.0.0.2", "StorageAndHost"]])] });
    assert.deepEqual(plan.paths.map((p) => p.traddr), ["127.0.0.2"]);
    assert.equal(plan.skipped.length, 1);
    assert.deepEqual(Object.keys(plan.skipped[0]!).sort(), ["reason", "sdtId", "sdtName"]);
    assert.match(plan.skipped[0]!.reason, /"127\.0\.0\.1:invalid" is not an IP literal/);
  });

  it("an ipList entry with ip: null or role: null is left out with a reason; the other SDTs and addresses stay", () => {
    const raw = (id: string, ipList: unknown[]) => Sdt.parse({ id, name: `sdt-${id}`, systemId: system.id, ipList });
    const plan = planPaths({
      system,
      sdts: [
        raw("a", [{ ip: null, role: "StorageAndHost" }, { ip: "10.0.0.1", role: "StorageAndHost" }]),
        raw("b", [{ ip: "10.0.0.2", role: null }]),
        raw("c", [{ ip: "10.0.0.3", role: "HostOnly" }]),
      ],
    });
    assert.deepEqual(plan.paths.map((p) => p.traddr), ["10.0.0.1", "10.0.0.3"]);
    assert.deepEqual(plan.skipped.map((s) => s.sdtId), ["a", "b"]);
    assert.match(plan.skipped[0]!.reason, /an address entry without ip \(role StorageAndHost\)/);
    assert.match(plan.skipped[1]!.reason, /address 10\.0\.0\.2 has no role/);
  });

  it("an SDT with several bad addresses appears once in skipped, naming each", () => {
    const plan = planPaths({ system, sdts: [sdt("a", [["bad-1", "StorageAndHost"], ["bad-2", "HostOnly"], ["10.0.0.9", "StorageOnly"]])] });
    assert.equal(plan.paths.length, 0);
    assert.equal(plan.skipped.length, 1);
    assert.match(plan.skipped[0]!.reason, /"bad-1" is not an IP literal.*"bad-2" is not an IP literal/);
  });

  it("IPv6 addresses are canonical (compressed, lower case, no brackets)", () => {
    const plan = planPaths({ system, sdts: [sdt("a", [["[2001:0DB8:0000::0010]", "StorageAndHost"], ["FE80::A", "HostOnly"]])] });
    assert.deepEqual(plan.paths.map((p) => p.traddr), ["2001:db8::10", "fe80::a"]);
  });

  it("uses the SDT's own nvmePort, also when it travels as a string; defaults 4420/8009", () => {
    const plan = planPaths({
      system,
      sdts: [
        sdt("a", [["10.0.0.1", "StorageAndHost"]], { nvmePort: "4421", discoveryPort: "8010" }),
        sdt("b", [["10.0.0.2", "StorageAndHost"]], { nvmePort: null, discoveryPort: undefined }),
      ],
    });
    assert.deepEqual(
      plan.paths.map((p) => [p.trsvcid, p.discoverySvcid]),
      [
        [4421, 8010],
        [4420, 8009],
      ],
    );
  });

  it("does not list one address twice", () => {
    const plan = planPaths({ system, sdts: [sdt("a", [["10.0.0.1", "StorageAndHost"], ["10.0.0.1", "HostOnly"]])] });
    assert.equal(plan.paths.length, 1);
  });

  it("is pure: same input, same output, input untouched", () => {
    const sdts = [sdt("b", [["10.0.0.2", "StorageAndHost"]]), sdt("a", [["10.0.0.1", "StorageAndHost"]])];
    const frozen = JSON.stringify(sdts);
    assert.deepEqual(planPaths({ system, sdts }), planPaths({ system, sdts }));
    assert.equal(JSON.stringify(sdts), frozen);
  });
});

describe("subsystemNqnOf", () => {
  it("uses systemNqn when present", () => {
    assert.deepEqual(subsystemNqnOf({ systemNqn: "nqn.1988-11.com.dell:powerflex:00:1250de83018c2d0f" }), {
      nqn: "nqn.1988-11.com.dell:powerflex:00:1250de83018c2d0f",
    });
  });
  it("null with the discovery reason otherwise", () => {
    for (const s of [{}, { systemNqn: null }, { systemNqn: "" }]) {
      const r = subsystemNqnOf(s);
      assert.equal(r.nqn, null);
      assert.equal(r.reason, NO_SYSTEM_NQN_REASON);
      assert.match(r.reason!, /discovery log stays empty until a volume is mapped/);
    }
  });
});
