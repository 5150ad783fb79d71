import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { request } from "undici";
import { fixturesDir } from "../../support/paths";
import { HOST, NQN, PD, SUBNQN, sixPorts } from "../../support/six-ports";
import { startEmulator, systemNqnOf, type Emulator } from "../../../provider/tools/emulator";
import { createSimHost, type SimHost } from "../../../provider/tools/simhost";


async function call(e: Emulator, method: "GET" | "POST", p: string, json?: unknown) {
  const headers: Record<string, string> = {};
  if (json !== undefined) headers["content-type"] = "application/json";
  if (p.startsWith("/api/")) {
    const login = await request(`${e.url}/api/login`, { headers: { authorization: `Basic ${Buffer.from(`${e.username}:${e.password}`).toString("base64")}` } });
    headers["authorization"] = `Bearer ${JSON.parse(await login.body.text())}`;
  }
  const res = await request(e.url + p, { method, headers, ...(json !== undefined ? { body: JSON.stringify(json) } : {}) });
  const text = await res.body.text();
  return { status: res.statusCode, json: () => JSON.parse(text) as never };
}

const discovery = (traddr: string, trsvcid: number | string, hostnqn = NQN) =>
  `/__emulator/discovery?traddr=${encodeURIComponent(traddr)}&trsvcid=${trsvcid}&hostnqn=${encodeURIComponent(hostnqn)}`;

describe("emulator: PowerFlex's NVMe view (NvmeController, plan, discovery)", () => {
  let dir: string;
  let sim: SimHost;
  let e: Emulator | undefined;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "pfnvme-emu-view-"));
    sim = createSimHost(path.join(dir, "host"), { version: "2.11" });
  });
  afterEach(async () => {
    await e?.close();
    e = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("lists the host's connections in the fixture's shape; an unplanned one is isAssigned false", async () => {
    e = await startEmulator({ api: "5.0", topology: sixPorts(), initiatorSysfs: [sim.settings.sysfsRoot] });
    e.state.mapVolume("3bd1f78800000001", HOST);
    const planned = e.state.plannedPorts(HOST);
    assert.deepEqual(planned.map((p) => p.traddr), ["192.0.2.11", "192.0.2.12"]);
    sim.addForeignController({ traddr: "192.0.2.11", subsysnqn: SUBNQN, hostnqn: NQN, srcAddr: "192.0.2.200" });
    sim.addForeignController({ traddr: "198.51.100.13", subsysnqn: SUBNQN, hostnqn: NQN });
    // Not the host's, not the system's, not an SDT port, not live: none of these is listed.
    sim.addForeignController({ traddr: "192.0.2.12", subsysnqn: SUBNQN, hostnqn: "nqn.2014-08.org.example:other", hostid: "00000000-0000-4000-8000-000000000001" });
    sim.addForeignController({ traddr: "192.0.2.12", subsysnqn: "nqn.2014-08.org.example:foreign", hostnqn: NQN });
    sim.addForeignController({ traddr: "192.0.2.99", subsysnqn: SUBNQN, hostnqn: NQN });
    sim.addForeignController({ traddr: "192.0.2.12", subsysnqn: SUBNQN, hostnqn: NQN, state: "connecting" });
    const r = await call(e, "GET", `/api/instances/Host::${HOST}/relationships/NvmeController`);
    assert.equal(r.status, 200);
    const list = r.json() as Record<string, unknown>[];
    const fixture = JSON.parse(fs.readFileSync(path.join(fixturesDir("powerflex"), "nvme_controllers_of_host__goscaleio_test.json"), "utf8")) as Record<string, unknown>[];
    for (const entry of list) assert.deepEqual(Object.keys(entry).sort(), Object.keys(fixture[0]!).sort());
    const brief = list.map((c) => [c["sysPortIp"], c["sdtId"], c["isConnected"], c["isAssigned"], c["subsystem"], c["hostId"], c["hostIp"]]);
    assert.deepEqual(brief, [
      ["192.0.2.11", "a1b2c3d400000001", true, true, "Io", HOST, "192.0.2.200"],
      ["198.51.100.13", "a1b2c3d400000003", true, false, "Io", HOST, "192.0.2.1"],
    ]);
    assert.equal(typeof list[0]!["controllerId"], "number");
    assert.match(String(list[0]!["id"]), /^[0-9a-f]{16}$/);
  });

  it("discovery lists the planned ports after the current discovery subsystem; empty without a mapping or for an unknown host; refused off a host-role discovery address", async () => {
    e = await startEmulator({ api: "4.5", topology: sixPorts() });
    const empty = await call(e, "GET", discovery("192.0.2.13", 8009));
    assert.equal(empty.status, 200);
    assert.deepEqual((empty.json() as { records: unknown[] }).records, [], "no volume mapped: an empty log");
    e.state.mapVolume("3bd1f78800000001", HOST);
    const log = (await call(e, "GET", discovery("192.0.2.13", 8009))).json() as { records: Record<string, unknown>[] };
    assert.deepEqual(
      log.records.map((r) => [r["subtype"], r["traddr"], r["trsvcid"], r["subnqn"], r["adrfam"], r["trtype"]]),
      [
        ["current discovery subsystem", "192.0.2.13", "8009", "nqn.2014-08.org.nvmexpress.discovery", "ipv4", "tcp"],
        ["nvme subsystem", "192.0.2.11", "4420", SUBNQN, "ipv4", "tcp"],
        ["nvme subsystem", "192.0.2.12", "4420", SUBNQN, "ipv4", "tcp"],
      ],
    );
    assert.ok(log.records.every((r) => r["treq"] === "not specified, sq flow control disable supported" && typeof r["portid"] === "number"));
    assert.deepEqual((await call(e, "GET", discovery("192.0.2.13", 8009, "nqn.2014-08.org.example:nobody"))).json(), { genctr: e.state.plan().generation, records: [] });
    for (const [addr, port, why] of [
      ["203.0.113.13", 8009, /no SDT has a discovery address 203\.0\.113\.13:8009 with a host role/],
      ["192.0.2.11", 4420, /no SDT has a discovery address 192\.0\.2\.11:4420/],
      ["192.0.2.250", 8009, /no SDT has a discovery address/],
    ] as const) {
      const r = await call(e, "GET", discovery(addr, port));
      assert.equal(r.status, 404);
      assert.match((r.json() as { message: string }).message, why);
    }
    e.state.updateSdt("a1b2c3d400000003", { maintenanceState: "InMaintenance" });
    const down = await call(e, "GET", discovery("192.0.2.13", 8009));
    assert.equal(down.status, 404);
    assert.match((down.json() as { message: string }).message, /SDT sdt-3 \(id a1b2c3d400000003\) does not serve 192\.0\.2\.13:8009: in maintenance/);
  });

  it("admin: the plan, a rebalance, SDT and host changes over HTTP", async () => {
    e = await startEmulator({ topology: sixPorts() });
    e.state.mapVolume("3bd1f78800000001", HOST);
    const plan = (await call(e, "GET", "/__emulator/plan")).json() as { generation: number; hosts: Record<string, unknown>[] };
    assert.equal(plan.hosts.length, 1);
    assert.deepEqual([plan.hosts[0]!["hostId"], plan.hosts[0]!["nqn"], plan.hosts[0]!["protectionDomainId"], plan.hosts[0]!["maxNumSysPorts"]], [HOST, NQN, PD, 2]);
    assert.deepEqual((plan.hosts[0]!["ports"] as { sdtId: string }[]).map((p) => p.sdtId), ["a1b2c3d400000001", "a1b2c3d400000002"]);
    const re = (await call(e, "POST", "/__emulator/rebalance")).json() as { generation: number };
    assert.equal(re.generation, plan.generation + 1);
    const changed = await call(e, "POST", "/__emulator/state/sdts/a1b2c3d400000001", { mdmConnectionState: "Disconnected" });
    assert.equal(changed.status, 200);
    assert.deepEqual(e.state.plannedPorts(HOST).map((p) => p.sdtId), ["a1b2c3d400000002", "a1b2c3d400000003"]);
    assert.equal((await call(e, "POST", `/__emulator/state/hosts/${HOST}`, { maxNumSysPorts: "1" })).status, 200);
    assert.equal(e.state.plannedPorts(HOST).length, 1);
    const bad = await call(e, "POST", `/__emulator/state/hosts/${HOST}`, { maxNumSysPorts: "many" });
    assert.equal(bad.status, 400);
  });

  it("POST Host takes maxNumSysPorts/maxNumPaths as strings or numbers and serves numbers; modifyMaxNumSysPorts on 5.0", async () => {
    e = await startEmulator({ api: "5.0", topology: sixPorts() });
    const made = await call(e, "POST", "/api/types/Host/instances", { name: "h2", nqn: "nqn.2014-08.org.example:h2", maxNumPaths: "4", maxNumSysPorts: "3" });
    const id = (made.json() as { id: string }).id;
    const got = (await call(e, "GET", `/api/instances/Host::${id}`)).json() as Record<string, unknown>;
    assert.deepEqual([got["maxNumPaths"], got["maxNumSysPorts"]], [4, 3]);
    const bad = await call(e, "POST", "/api/types/Host/instances", { nqn: "nqn.2014-08.org.example:h3", maxNumSysPorts: "x" });
    assert.equal(bad.status, 400);
    assert.equal((await call(e, "POST", `/api/instances/Host::${id}/action/modifyMaxNumSysPorts`, { maxNumSysPorts: 5 })).status, 200);
    assert.equal(e.state.hosts.get(id)!["maxNumSysPorts"], 5);
  });

  it("removeMappedHost allHosts unmaps each host: plans and listeners follow", async () => {
    e = await startEmulator({ topology: sixPorts() });
    const seen: string[] = [];
    e.state.mappingListeners.push((m) => seen.push(`${m.kind} ${m.host.id}`));
    e.state.mapVolume("3bd1f78800000001", HOST);
    const r = await call(e, "POST", "/api/instances/Volume::3bd1f78800000001/action/removeMappedHost", { allHosts: "true" });
    assert.equal(r.status, 200);
    assert.deepEqual(seen, [`map ${HOST}`, `unmap ${HOST}`]);
    assert.deepEqual(e.state.plannedPorts(HOST), [], "no volume left: no plan");
  });

  it("3.6 has no NVMe/TCP: no NvmeController relationship, no discovery", async () => {
    e = await startEmulator({ api: "3.6", topology: sixPorts(), initiatorSysfs: [sim.settings.sysfsRoot] });
    const rel = await call(e, "GET", `/api/instances/Host::${HOST}/relationships/NvmeController`);
    assert.equal(rel.status, 404);
    const d = await call(e, "GET", discovery("192.0.2.11", 8009));
    assert.equal(d.status, 404);
    assert.match((d.json() as { message: string }).message, /3\.6 has no NVMe\/TCP/);
  });

  it("the host's first connection seen is a recalculation; the in-process connections() reads the same", async () => {
    e = await startEmulator({ topology: sixPorts(), initiatorSysfs: [sim.settings.sysfsRoot] });
    e.state.mapVolume("3bd1f78800000001", HOST);
    const g = e.state.plan().generation;
    assert.deepEqual(await e.connections(), []);
    assert.equal(e.state.plan().generation, g);
    sim.addForeignController({ traddr: "192.0.2.11", subsysnqn: systemNqnOf([...e.state.systems.values()][0]!), hostnqn: NQN });
    assert.equal((await e.connections()).length, 1);
    assert.equal(e.state.plan().generation, g + 1);
    await e.connections();
    assert.equal(e.state.plan().generation, g + 1);
  });
});
