import { strict as assert } from "node:assert";
import { healthySdt, PD, SYS } from "../../support/six-ports";
import { choosePorts, EmulatorState, maxSysPortsOf, portKey, sysPortsOf, type SysPort, type TopologyInput } from "../../../provider/tools/emulator";

const POOL = "b0c1d2e300000001";
/** SDT `n` (1-based) with two StorageAndHost addresses 192.0.2.1n and 198.51.100.1n, healthy. */
const sdt = (n: number, extra: Record<string, unknown> = {}): Record<string, unknown> => healthySdt(n, extra);

function world(sdts: Record<string, unknown>[], hosts: { id: string; max?: number | string | null }[] = []): TopologyInput {
  return {
    systems: [{ id: SYS }],
    protectionDomains: [{ id: PD, name: "pd1", systemId: SYS }],
    storagePools: [{ id: POOL, name: "pool1", protectionDomainId: PD }],
    sdts: sdts as never,
    hosts: hosts.map((h) => ({ id: h.id, nqn: `nqn.2014-08.org.example:${h.id}`, hostType: "NVMeHost", maxNumSysPorts: h.max ?? null })),
    volumes: [1, 2, 3].map((n) => ({ id: `3bd1f7880000000${n}`, name: `vol${n}`, storagePoolId: POOL, mappedSdcInfo: [] })),
  };
}

const sdtsOf = (ports: readonly SysPort[]) => ports.map((p) => p.sdtId);

describe("emulator load balancer (pure choice)", () => {
  const six = sysPortsOf(SYS, [sdt(1), sdt(2), sdt(3)]);

  it("never chooses more than the budget, and spreads 2 ports of 6 over 2 SDTs", () => {
    for (let max = 1; max <= 8; max++) {
      const chosen = choosePorts(six, max, new Map());
      assert.equal(chosen.length, Math.min(max, 6));
      assert.equal(new Set(chosen.map(portKey)).size, chosen.length, "no port twice");
      // Each SDT gets a second port only when every SDT has one.
      const perSdt = [1, 2, 3].map((n) => chosen.filter((p) => p.sdtId === `a1b2c3d40000000${n}`).length);
      assert.ok(Math.max(...perSdt) - Math.min(...perSdt) <= 1, `max ${max}: ${perSdt.join(",")}`);
    }
    assert.deepEqual(sdtsOf(choosePorts(six, 2, new Map())), ["a1b2c3d400000001", "a1b2c3d400000002"]);
  });

  it("honours fault sets before SDTs", () => {
    const ports = sysPortsOf(SYS, [sdt(1, { faultSetId: "fs-a" }), sdt(2, { faultSetId: "fs-a" }), sdt(3, { faultSetId: "fs-b" })]);
    const two = choosePorts(ports, 2, new Map());
    assert.deepEqual(sdtsOf(two), ["a1b2c3d400000001", "a1b2c3d400000003"], "one port in each fault set, not SDTs 1 and 2 of fs-a");
    const three = choosePorts(ports, 3, new Map());
    assert.deepEqual(sdtsOf(three).sort(), ["a1b2c3d400000001", "a1b2c3d400000002", "a1b2c3d400000003"]);
  });

  it("prefers the least-loaded port, ties by id; the same input gives the same plan", () => {
    const load = new Map([[portKey(six[0]!), 1], [portKey(six[2]!), 1]]);
    const chosen = choosePorts(six, 2, load);
    assert.deepEqual(sdtsOf(chosen), ["a1b2c3d400000003", "a1b2c3d400000001"]);
    assert.equal(chosen[1]!.traddr, "198.51.100.11", "on SDT 1 the unloaded address");
    assert.deepEqual(choosePorts([...six].reverse(), 2, load), chosen, "order of input does not matter");
  });

  it("property: random worlds and loads; within budget, no port twice, every failure domain before a second port, order-free", () => {
    let seed = 16;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let round = 0; round < 200; round++) {
      const sdts = Array.from({ length: 1 + rand(6) }, (_, i) =>
        sdt(i + 1, {
          faultSetId: rand(2) ? `fs-${rand(3)}` : null,
          ipList: Array.from({ length: 1 + rand(3) }, (_, j) => ({ ip: `10.${i}.${j}.1`, role: "StorageAndHost" })),
        }),
      );
      const ports = sysPortsOf(SYS, sdts);
      const load = new Map(ports.filter(() => rand(3) === 0).map((p) => [portKey(p), 1 + rand(4)]));
      const max = 1 + rand(8);
      const chosen = choosePorts(ports, max, load);
      assert.equal(chosen.length, Math.min(max, ports.length));
      assert.equal(new Set(chosen.map(portKey)).size, chosen.length);
      const domain = (p: SysPort) => p.faultSetId ?? `sdt:${p.sdtId}`;
      const domains = new Set(ports.map(domain)).size;
      assert.equal(new Set(chosen.map(domain)).size, Math.min(chosen.length, domains), `round ${round}: failure domains spread`);
      assert.deepEqual(choosePorts([...ports].reverse(), max, load), chosen, `round ${round}: deterministic`);
    }
  });

  it("uses only usable SDTs and host roles", () => {
    const ports = sysPortsOf(SYS, [
      sdt(1, { maintenanceState: "InMaintenance" }),
      sdt(2, { mdmConnectionState: "Disconnected" }),
      sdt(3, { ipList: [{ ip: "192.0.2.13", role: "StorageOnly" }, { ip: "198.51.100.13", role: "HostOnly" }] }),
      sdt(4, { sdtState: "Degraded" }),
      sdt(5, { membershipState: "Decoupled" }),
    ]);
    assert.deepEqual(ports.map((p) => p.traddr), ["198.51.100.13"]);
  });

  it("maxNumSysPorts null, absent or nonsense means PowerFlex's default 10; strings count", () => {
    assert.equal(maxSysPortsOf(null), 10);
    assert.equal(maxSysPortsOf(undefined), 10);
    assert.equal(maxSysPortsOf(0), 10);
    assert.equal(maxSysPortsOf("2"), 2);
    assert.equal(maxSysPortsOf(3), 3);
  });
});

describe("emulator load balancer (kept plan and its events)", () => {
  const A = "c0ffee00000000a1";
  const B = "c0ffee00000000b2";

  it("no plan without a mapped volume; mapping plans the host, unmapping drops it", () => {
    const st = new EmulatorState(world([sdt(1), sdt(2), sdt(3)], [{ id: A, max: 2 }]));
    assert.deepEqual(st.plannedPorts(A), []);
    st.mapVolume("3bd1f78800000001", A);
    assert.equal(st.plannedPorts(A).length, 2);
    st.unmapVolume("3bd1f78800000001", A);
    assert.deepEqual(st.plannedPorts(A), []);
  });

  it("null maxNumSysPorts plans up to 10 ports (all 6 here)", () => {
    const st = new EmulatorState(world([sdt(1), sdt(2), sdt(3)], [{ id: A, max: null }]));
    st.mapVolume("3bd1f78800000001", A);
    assert.equal(st.plannedPorts(A).length, 6);
  });

  it("keeps a plan when other hosts come and go; recalculates on an SDT added, removed or changed", () => {
    const one = (n: number) => sdt(n, { ipList: [{ ip: `192.0.2.1${n}`, role: "StorageAndHost" }] });
    const st = new EmulatorState(world([one(1), one(2), one(3)], [{ id: A, max: 2 }, { id: B, max: 2 }]));
    st.mapVolume("3bd1f78800000001", A);
    assert.deepEqual(sdtsOf(st.plannedPorts(A)), ["a1b2c3d400000001", "a1b2c3d400000002"]);
    st.mapVolume("3bd1f78800000002", B);
    // B sees A's load: the free SDT 3 first, then the lowest id.
    assert.deepEqual(sdtsOf(st.plannedPorts(B)), ["a1b2c3d400000003", "a1b2c3d400000001"]);
    const generation = st.plan().generation;
    st.updateSdt("a1b2c3d400000003", { name: "renamed" });
    st.mapVolume("3bd1f78800000003", A); // A's own mapping: planned again, against B's load
    assert.deepEqual(sdtsOf(st.plannedPorts(A)), ["a1b2c3d400000002", "a1b2c3d400000001"]);
    assert.equal(st.plan().generation, generation + 1, "a rename is no event; A's second mapping is one");
    const before = st.plannedPorts(B);
    st.addSdt(one(4) as never);
    assert.equal(st.plan().generation, generation + 2);
    // From nothing, in host id order: A takes SDTs 1 and 2, B the free 3 and 4.
    assert.deepEqual(sdtsOf(st.plannedPorts(A)), ["a1b2c3d400000001", "a1b2c3d400000002"]);
    assert.deepEqual(sdtsOf(st.plannedPorts(B)), ["a1b2c3d400000003", "a1b2c3d400000004"]);
    assert.notDeepEqual(st.plannedPorts(B), before);
    st.updateSdt("a1b2c3d400000001", { maintenanceState: "InMaintenance" });
    assert.ok(!sdtsOf(st.plannedPorts(A)).includes("a1b2c3d400000001"), "an SDT in maintenance leaves the plan");
    st.removeSdt("a1b2c3d400000004");
    assert.ok(!sdtsOf(st.plannedPorts(B)).includes("a1b2c3d400000004"));
  });

  it("a host's first connection recalculates its plan, later ones do not", () => {
    const st = new EmulatorState(world([sdt(1), sdt(2), sdt(3)], [{ id: A, max: 2 }]));
    st.mapVolume("3bd1f78800000001", A);
    const g = st.plan().generation;
    st.noteConnected([A]);
    assert.equal(st.plan().generation, g + 1);
    st.noteConnected([A]);
    assert.equal(st.plan().generation, g + 1);
  });

  it("plan listeners hear each recalculation with the plan as kept, and nothing else", () => {
    const st = new EmulatorState(world([sdt(1), sdt(2), sdt(3)], [{ id: A, max: 2 }]));
    const heard: string[] = [];
    st.planListeners.push((p) => heard.push(`${p.generation} ${p.hosts.flatMap((e) => e.ports.map((x) => x.traddr)).join(",")}`));
    const g = st.plan().generation;
    st.mapVolume("3bd1f78800000001", A);
    st.updateSdt("a1b2c3d400000003", { name: "renamed" }); // no event
    st.addSdt(sdt(0) as never);
    st.unmapVolume("3bd1f78800000001", A);
    assert.deepEqual(heard, [`${g + 1} 192.0.2.11,192.0.2.12`, `${g + 2} 192.0.2.10,192.0.2.11`, `${g + 3} `]);
  });

  it("a new maxNumSysPorts recalculates the host's plan", () => {
    const st = new EmulatorState(world([sdt(1), sdt(2), sdt(3)], [{ id: A, max: 2 }]));
    st.mapVolume("3bd1f78800000001", A);
    st.updateHost(A, { maxNumSysPorts: "3" });
    assert.deepEqual(sdtsOf(st.plannedPorts(A)), ["a1b2c3d400000001", "a1b2c3d400000002", "a1b2c3d400000003"]);
    assert.throws(() => st.updateHost(A, { maxNumSysPorts: "two" }), /maxNumSysPorts should be a positive integer/);
  });
});
