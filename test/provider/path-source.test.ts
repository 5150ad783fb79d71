import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import { defaultTopology, systemNqnOf } from "../../provider/tools/emulator";
import { startWorld, type World } from "../../provider/tools/demo/world";

/**
 * pathSource through the real dynamic-provider host: the simulated host's discovery controllers answer
 * with a plan of 2 of the protection domain's 6 host ports (as PowerFlex's load balancer does with
 * maxNumSysPorts 2), set with the static `discovery` knob, so the provider must follow the log, not REST.
 */

/** Three usable SDTs with two host addresses each: 6 ports. */
function sixPorts() {
  const t = defaultTopology();
  const sdts = (t.sdts ?? []).map((s) => ({
    ...s,
    maintenanceState: "NoMaintenance",
    ipList: (s["ipList"] as { ip: string; role: string }[]).map((a) => ({ ...a, role: a.role === "StorageOnly" ? "HostOnly" : a.role })),
  }));
  return { ...t, sdts };
}

const ALL = ["192.0.2.11", "192.0.2.12", "192.0.2.13", "198.51.100.11", "198.51.100.13", "203.0.113.12"];

type Out = Record<string, any>;
const outputs = (w: World): Out => [...w.stack.resources.values()][0].outputs as Out;
const held = (w: World) => (outputs(w).paths as { traddr: string }[]).map((p) => p.traddr).sort();
const connected = (w: World) => w.sim.controllers().map((c) => c.traddr).sort();
const said = (w: World, from = 0) => w.host.stdout.slice(from).join("");

describe("pathSource (provider over gRPC: the array's plan from nvme discover, or every SDT)", function () {
  this.timeout(90_000);
  let w: World;
  let nqn: string;
  /** The ports the "array" plans now: every discovery controller lists them (and only them). */
  let planned: string[] = [];
  const servePlan = () =>
    w.sim.updateKnobs((k) => ({
      ...k,
      discovery: Object.fromEntries(ALL.map((ip) => [`${ip}:8009`, planned.map((traddr) => ({ subtype: "nvme subsystem", trsvcid: "4420", subnqn: nqn, traddr }))])),
    }));
  const plan = (ports: string[]) => {
    planned = ports;
    servePlan();
  };

  beforeEach(async () => {
    w = await startWorld({ emulator: { topology: sixPorts() } });
    nqn = systemNqnOf([...w.emulator.state.systems.values()][0]);
    // The world's simulated host asks the emulator's load balancer; this test's static plan wins over it.
    w.emulator.state.mappingListeners.push(() => servePlan());
    plan(["192.0.2.11", "203.0.113.12"]);
  });
  afterEach(() => w.close());

  const args = () => ({ protectionDomain: "pd1", host: { register: true }, hostAccess: w.hostAccess, volumes: [{ volume: "vol1" }] });

  it("holds exactly the 2 planned ports; a new plan shows in refresh and preview, and up connects the new before it releases the old", async () => {
    await w.stack.up({ a: args() });
    assert.deepEqual(held(w), ["192.0.2.11", "203.0.113.12"]);
    assert.deepEqual(connected(w), ["192.0.2.11", "203.0.113.12"]);
    assert.ok(w.sim.calls().some((c) => c[0] === "discover"), "the plan came from nvme discover");
    assert.doesNotMatch(said(w), /pathSource "plan"/, "no fallback");
    assert.deepEqual(await w.stack.preview({ a: args() }), [{ name: "a", op: "same" }]);

    plan(["192.0.2.13", "198.51.100.11"]); // recalculated (e.g. an SDT added)
    let from = w.host.stdout.length;
    await w.stack.refresh();
    assert.match(said(w, from), /the paths PowerFlex plans for this host differ from the ones held: to connect 198\.51\.100\.11:4420 .*192\.0\.2\.13:4420 .*; to drop 192\.0\.2\.11:4420 .*203\.0\.113\.12:4420 .*`pulumi up` moves to them/);
    assert.deepEqual(held(w), ["192.0.2.11", "203.0.113.12"], "refresh changes no path");

    const calls = w.sim.calls().length;
    assert.deepEqual(await w.stack.preview({ a: args() }), [{ name: "a", op: "update" }]);
    assert.deepEqual(w.sim.calls().slice(calls).map((c) => c[0]), ["discover"], "preview only reads the discovery log");
    assert.deepEqual(connected(w), ["192.0.2.11", "203.0.113.12"]);

    const times = w.sim.commandTimes().length;
    const deletes = w.sim.deletes().length;
    assert.deepEqual(await w.stack.up({ a: args() }), [{ name: "a", op: "update" }]);
    assert.deepEqual(held(w), ["192.0.2.13", "198.51.100.11"]);
    assert.deepEqual(connected(w), ["192.0.2.13", "198.51.100.11"]);
    const connects = w.sim.commandTimes().slice(times).filter((t) => t.command === "connect");
    const gone = w.sim.deletes().slice(deletes);
    assert.equal(connects.length, 2);
    assert.deepEqual(gone.map((d) => d.traddr).sort(), ["192.0.2.11", "203.0.113.12"]);
    const lastConnect = Math.max(...connects.map((t) => t.end));
    const firstDelete = Math.min(...gone.map((d) => d.at));
    assert.ok(lastConnect <= firstDelete, `a path was released (${firstDelete}) before the new ones were connected (${lastConnect})`);

    from = w.host.stdout.length;
    await w.stack.refresh();
    assert.doesNotMatch(said(w, from), /differ from the ones held/);
    await w.stack.destroy();
    assert.deepEqual(w.sim.controllers(), []);
  });

  it("a plan preview cannot read shows as an update, saying why, rather than as no change; a refusing discovery port is no plan", async () => {
    const refuse = () => w.sim.updateKnobs((k) => ({ ...k, discovery: {} })); // nothing listens on the discovery ports
    w.emulator.state.mappingListeners.push(refuse);
    await w.stack.up({ a: args() });
    assert.deepEqual(held(w), ALL, "no plan: every SDT address");
    assert.deepEqual(await w.stack.preview({ a: args() }), [{ name: "a", op: "same" }], "refused again: up would do the same");

    // nvme-cli gone from the host: discovery cannot run, so the plan is unknown (not: there is none).
    const nvme = w.sim.settings.nvmeCli;
    fs.renameSync(nvme, `${nvme}.away`);
    const from = w.host.stdout.length;
    try {
      assert.deepEqual(await w.stack.preview({ a: args() }), [{ name: "a", op: "update" }], "the held paths equal the fallback, yet the plan is unknown");
    } finally {
      fs.renameSync(`${nvme}.away`, nvme);
    }
    assert.match(said(w, from), /warning: preview could not read PowerFlex's plan for this host \(no discovery controller answered: nvme discover at 192\.0\.2\.11:8009 .*\), so it shows an update rather than guess "no change"/s);

    w.emulator.state.mappingListeners.pop();
    servePlan();
    assert.deepEqual(await w.stack.preview({ a: args() }), [{ name: "a", op: "update" }]);
    await w.stack.up({ a: args() });
    assert.deepEqual(held(w), ["192.0.2.11", "203.0.113.12"]);
    assert.deepEqual(await w.stack.preview({ a: args() }), [{ name: "a", op: "same" }]);
    await w.stack.destroy();
  });

  it("entries of another subsystem or outside the protection domain are left out with a warning", async () => {
    w.emulator.state.mappingListeners.push(() =>
      w.sim.updateKnobs((k) => ({
        ...k,
        discovery: Object.fromEntries(
          Object.entries(k.discovery ?? {}).map(([at, records]) => [
            at,
            [...records, { subtype: "nvme subsystem", trsvcid: "4420", subnqn: "nqn.2010-06.com.purestorage:flasharray.1", traddr: "192.0.2.12" }, { subtype: "nvme subsystem", trsvcid: "4420", subnqn: nqn, traddr: "10.9.9.9" }],
          ]),
        ),
      })),
    );
    await w.stack.up({ a: args() });
    assert.deepEqual(held(w), ["192.0.2.11", "203.0.113.12"]);
    assert.match(said(w), /warning: the discovery log entry 192\.0\.2\.12:4420 nqn\.2010-06\.com\.purestorage:flasharray\.1: another subsystem than the system's/);
    assert.match(said(w), /warning: the discovery log entry 10\.9\.9\.9:4420 \S+: no SDT of the protection domain has this address and NVMe port; it is left out/);
    await w.stack.destroy();
  });

  it("a referral is followed: a discovery controller that lists only its own port and a referral", async () => {
    const refer = (traddr: string) => ({ subtype: "discovery subsystem referral", trsvcid: "8009", subnqn: "nqn.2014-08.org.nvmexpress.discovery", traddr });
    const own = (traddr: string) => ({ subtype: "nvme subsystem", trsvcid: "4420", subnqn: nqn, traddr });
    w.emulator.state.mappingListeners.push(() =>
      w.sim.updateKnobs((k) => ({
        ...k,
        // Like nvmet: each port lists itself; the first refers to the second, the second back to the first.
        discovery: { "192.0.2.11:8009": [own("192.0.2.11"), refer("192.0.2.12")], "192.0.2.12:8009": [own("192.0.2.12"), refer("192.0.2.11")] },
      })),
    );
    await w.stack.up({ a: args() });
    assert.deepEqual(held(w), ["192.0.2.11", "192.0.2.12"]);
    const discovers = w.sim.calls().filter((c) => c[0] === "discover").map((c) => c[c.indexOf("-a") + 1]);
    assert.deepEqual(discovers, ["192.0.2.11", "192.0.2.12"], "each discovery controller once");
    await w.stack.destroy();
  });

  it("without a volume there is no plan: every SDT address, and a warning that says why", async () => {
    const { volumes: _, ...noVolumes } = args();
    await w.stack.up({ a: noVolumes });
    assert.deepEqual(held(w), ALL);
    assert.match(
      said(w),
      /warning: pathSource "plan": no volume is mapped to this host by this attachment \(volumes\), and PowerFlex plans ports only for a host with mapped volumes; connecting every usable address of the protection domain's SDTs instead \(as pathSource "all-sdts"\)/,
    );
    await w.stack.destroy();
  });

  it("when nothing listens on the discovery ports: every SDT address, and a warning naming the failures", async () => {
    w.emulator.state.mappingListeners.push(() => w.sim.updateKnobs((k) => ({ ...k, discovery: {}, discoveryFrom: undefined })));
    await w.stack.up({ a: args() });
    assert.deepEqual(held(w), ALL);
    assert.match(said(w), /warning: pathSource "plan": no discovery controller listens at the SDTs' discovery ports: nvme discover at 192\.0\.2\.11:8009 .*refused.*; connecting every usable address/);
    await w.stack.destroy();
  });

  it('pathSource "all-sdts": every SDT address, without discovery', async () => {
    await w.stack.up({ a: { ...args(), pathSource: "all-sdts" } });
    assert.deepEqual(held(w), ALL);
    assert.deepEqual(w.sim.calls().filter((c) => c[0] === "discover"), []);
    assert.doesNotMatch(said(w), /pathSource/);
    // Back to the plan: an update that moves to the 2 planned ports.
    assert.deepEqual(await w.stack.up({ a: args() }), [{ name: "a", op: "update" }]);
    assert.deepEqual(held(w), ["192.0.2.11", "203.0.113.12"]);
    assert.deepEqual(connected(w), ["192.0.2.11", "203.0.113.12"]);
    await w.stack.destroy();
  });

  it('pathSource: "plan" written down is the default: no change', async () => {
    await w.stack.up({ a: args() });
    assert.deepEqual(await w.stack.preview({ a: { ...args(), pathSource: "plan" } }), [{ name: "a", op: "same" }]);
    await w.stack.destroy();
  });
});
