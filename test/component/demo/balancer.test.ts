import { strict as assert } from "node:assert";
import { LocalHost } from "../../../provider/host/access/local";
import { parseDiscover, subsystemRecords } from "../../../provider/host/nvme/discover";
import { PowerFlexClient } from "../../../provider/powerflex";
import { startWorld, type World } from "../../../provider/tools/demo/world";
import { HOST, NQN, PD, SUBNQN, SYS, VOLUME, sixPorts } from "../../support/six-ports";

/**
 * The demo world models PowerFlex's load balancer end to end: its simulated host's `nvme discover` at an
 * SDT answers the emulator's plan, and the emulator sees the host's connections.
 */
describe("demo world: discovery follows the array's load balancer", function () {
  this.timeout(120_000);
  let w: World;
  const local = new LocalHost();
  afterEach(async () => w?.close());

  const discover = async (traddr: string) => {
    const r = await local.run([w.sim.settings.nvmeCli, "discover", "-t", "tcp", "-a", traddr, "-s", "8009", "-q", NQN, "-o", "json"]);
    assert.equal(r.exitCode, 0, r.stderr);
    return subsystemRecords(parseDiscover(r.stdout)).map((x) => {
      assert.equal(x.subnqn, SUBNQN);
      return `${x.traddr}:${x.trsvcid}`;
    });
  };
  const sdtOf = (addr: string) => [...w.emulator.state.sdts.values()].find((s) => (s["ipList"] as { ip: string }[]).some((a) => addr.startsWith(`${a.ip}:`)))?.id;

  it("6 ports, maxNumSysPorts 2, a mapped volume: 2 entries on 2 SDTs; an SDT added recalculates; the array marks a connection off the plan", async () => {
    w = await startWorld({ emulator: { topology: sixPorts() } });
    assert.deepEqual(await discover("192.0.2.11"), [], "no volume mapped: empty log");
    w.emulator.state.mapVolume(VOLUME, HOST);
    const first = await discover("198.51.100.12");
    assert.equal(first.length, 2);
    assert.equal(new Set(first.map(sdtOf)).size, 2, `two SDTs: ${first.join(", ")}`);
    assert.deepEqual(await discover("192.0.2.13"), first, "every SDT's discovery controller gives the same plan");

    w.emulator.state.addSdt({
      id: "a1b2c3d400000000",
      name: "sdt-0",
      protectionDomainId: PD,
      systemId: SYS,
      ipList: [{ ip: "192.0.2.10", role: "HostOnly" }],
    });
    const second = await discover("192.0.2.11");
    assert.equal(second.length, 2);
    assert.ok(second.includes("192.0.2.10:4420"), `the new SDT is planned: ${second.join(", ")}`);
    assert.notDeepEqual(second, first);

    // A connection to a port off the plan: PowerFlex accepts it and marks it.
    const off = ["192.0.2.11", "198.51.100.11", "192.0.2.12", "198.51.100.12", "192.0.2.13", "198.51.100.13"].find((a) => !second.includes(`${a}:4420`))!;
    const on = second[0]!.split(":")[0]!;
    for (const traddr of [on, off]) {
      const r = await local.run([w.sim.settings.nvmeCli, "connect", "-t", "tcp", "-a", traddr, "-s", "4420", "-n", SUBNQN]);
      assert.equal(r.exitCode, 0, r.stderr);
    }
    const client = new PowerFlexClient({ endpoint: w.emulator.url, username: w.emulator.username, password: w.emulator.password, caCert: w.emulator.caCert! }, { warn: () => undefined });
    try {
      const seen = await client.listNvmeControllersOfHost(HOST);
      assert.deepEqual(
        seen.map((c) => [c.sysPortIp, c.isConnected, c.isAssigned]).sort(),
        [[on, true, true], [off, true, false]].sort(),
      );
    } finally {
      await client.close();
    }
  });
});
