import { strict as assert } from "node:assert";
import { Agent, request } from "undici";
import { PowerFlexClient } from "../../provider/powerflex";
import { startWorld, type World } from "../../provider/tools/demo/world";
import { HOST, PD, SYS, sixPorts } from "../support/six-ports";

/**
 * Issue 16's acceptance story through the real dynamic-provider host, on the emulator's own load balancer
 * (no static discovery knob): the simulated host's `nvme discover` asks the emulator for the plan.
 */

const ALL = ["192.0.2.11", "192.0.2.12", "192.0.2.13", "198.51.100.11", "198.51.100.12", "198.51.100.13"];

type Out = Record<string, any>;
const outputs = (w: World): Out => [...w.stack.resources.values()][0].outputs as Out;
const held = (w: World) => (outputs(w).paths as { traddr: string }[]).map((p) => p.traddr).sort();
const connected = (w: World) => w.sim.controllers().map((c) => c.traddr).sort();
const said = (w: World, from = 0) => w.host.stdout.slice(from).join("");
/** The addresses `GET /__emulator/plan` names for the host, as an admin reads them (over the world's TLS). */
async function planned(w: World): Promise<string[]> {
  const agent = new Agent({ connect: { ca: w.emulator.caCert! } });
  try {
    const res = await request(`${w.emulator.url}/__emulator/plan`, { dispatcher: agent });
    assert.equal(res.statusCode, 200);
    const plan = (await res.body.json()) as { hosts: { hostId: string; ports: { traddr: string }[] }[] };
    return plan.hosts.filter((h) => h.hostId === HOST).flatMap((h) => h.ports.map((p) => p.traddr)).sort();
  } finally {
    await agent.close();
  }
}

describe("issue 16 acceptance: paths follow the emulator's load balancer (provider over gRPC)", function () {
  this.timeout(120_000);
  let w: World;
  beforeEach(async () => {
    w = await startWorld({ emulator: { topology: sixPorts() } });
  });
  afterEach(() => w.close());

  const args = () => ({ protectionDomain: "pd1", host: { register: true }, hostAccess: w.hostAccess, volumes: [{ volume: "vol1" }] });

  it("holds exactly the 2 planned ports; an SDT added shows in preview; up moves to the new plan with never a moment without a path", async () => {
    await w.stack.up({ a: args() });
    const first = await planned(w);
    assert.equal(first.length, 2, "maxNumSysPorts 2");
    assert.deepEqual(held(w), first);
    assert.deepEqual(connected(w), first);
    assert.deepEqual(await w.stack.preview({ a: args() }), [{ name: "a", op: "same" }]);

    // PowerFlex sees the held paths as its plan's.
    const client = new PowerFlexClient({ endpoint: w.emulator.url, username: w.emulator.username, password: w.emulator.password, caCert: w.emulator.caCert! }, { warn: () => undefined });
    try {
      const seen = await client.listNvmeControllersOfHost(HOST);
      assert.deepEqual(seen.map((c) => [c.sysPortIp, c.isConnected, c.isAssigned]).sort(), first.map((a) => [a, true, true]));
    } finally {
      await client.close();
    }

    // An SDT added: the balancer recalculates the plan from nothing and takes the new SDT in.
    w.emulator.state.addSdt({ id: "a1b2c3d400000000", name: "sdt-0", protectionDomainId: PD, systemId: SYS, ipList: [{ ip: "192.0.2.10", role: "HostOnly" }] });
    const second = await planned(w);
    assert.ok(second.includes("192.0.2.10"), `the new SDT is planned: ${second.join(", ")}`);
    assert.notDeepEqual(second, first);
    assert.deepEqual(await w.stack.preview({ a: args() }), [{ name: "a", op: "update" }]);
    assert.deepEqual(connected(w), first, "preview connects nothing");

    const times = w.sim.commandTimes().length;
    const deletes = w.sim.deletes().length;
    assert.deepEqual(await w.stack.up({ a: args() }), [{ name: "a", op: "update" }]);
    assert.deepEqual(held(w), second);
    assert.deepEqual(connected(w), second);

    // Replay the update from the simulated host's log: a path counts from the end of its connect to its delete.
    const events = [
      ...w.sim.commandTimes().slice(times).filter((t) => t.command === "connect").map((t) => ({ at: t.end, change: +1 })),
      ...w.sim.deletes().slice(deletes).map((d) => ({ at: d.at, change: -1 })),
    ].sort((a, b) => a.at - b.at || a.change - b.change); // same instant: count the delete first (worst case)
    assert.equal(events.filter((e) => e.change > 0).length, second.filter((a) => !first.includes(a)).length, "connects only the new ports");
    assert.equal(events.filter((e) => e.change < 0).length, first.filter((a) => !second.includes(a)).length, "drops only the old ports");
    let live = first.length;
    for (const e of events) {
      live += e.change;
      assert.ok(live >= 1, `no path left at ${e.at}: ${JSON.stringify(events)}`);
    }

    const client2 = new PowerFlexClient({ endpoint: w.emulator.url, username: w.emulator.username, password: w.emulator.password, caCert: w.emulator.caCert! }, { warn: () => undefined });
    try {
      const seen = await client2.listNvmeControllersOfHost(HOST);
      assert.deepEqual(seen.map((c) => [c.sysPortIp, c.isConnected, c.isAssigned]).sort(), second.map((a) => [a, true, true]), "after up, PowerFlex marks every held path assigned");
    } finally {
      await client2.close();
    }
    assert.deepEqual(await w.stack.preview({ a: args() }), [{ name: "a", op: "same" }]);
    await w.stack.destroy();
    assert.deepEqual(w.sim.controllers(), []);
  });

  it("a planned SDT taken out of service: preview shows the update and up moves off it", async () => {
    await w.stack.up({ a: args() });
    const first = await planned(w);
    assert.deepEqual(held(w), first);
    const sdt = [...w.emulator.state.sdts.values()].find((s) => (s["ipList"] as { ip: string }[]).some((a) => a.ip === first[0]))!;
    w.emulator.state.updateSdt(sdt.id, { maintenanceState: "InMaintenance" });
    const second = await planned(w);
    assert.ok(!second.includes(first[0]!), `the SDT in maintenance is no longer planned: ${second.join(", ")}`);
    assert.deepEqual(await w.stack.preview({ a: args() }), [{ name: "a", op: "update" }]);
    await w.stack.up({ a: args() });
    assert.deepEqual(held(w), second);
    await w.stack.destroy();
  });

  it("without volumes there is no plan: every SDT address, and the warning says why", async () => {
    const { volumes: _, ...noVolumes } = args();
    await w.stack.up({ a: noVolumes });
    assert.deepEqual(held(w), ALL);
    assert.match(said(w), /warning: pathSource "plan": no volume is mapped to this host by this attachment \(volumes\), and PowerFlex plans ports only for a host with mapped volumes/);
    await w.stack.destroy();
  });
});
