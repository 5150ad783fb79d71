import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { LocalHost } from "../../../provider/host/access/local";
import { NvmeCli, findControllers, readHostIdentity, type PathIdentity } from "../../../provider/host/nvme";
import { createSimHost, DEFAULT_SIM_HOSTID, DEFAULT_SIM_HOSTNQN, type SimVersion } from "../../../provider/tools/simhost";

const host = new LocalHost();
const NQN = "nqn.1988-11.com.dell:powerflex:00:abc123";
const OTHER_HOST = "nqn.2014-08.org.example:other-host";
const id = (traddr: string, extra: Partial<PathIdentity> = {}): PathIdentity => ({
  transport: "tcp", traddr, trsvcid: 4420, subsysnqn: NQN, hostnqn: DEFAULT_SIM_HOSTNQN, hostid: DEFAULT_SIM_HOSTID, ...extra,
});

describe("NvmeCli against the simulated host", function () {
  this.timeout(30_000);
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), "nvmecli-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  for (const version of ["1.16", "2.3", "2.8", "2.11"] as SimVersion[]) {
    it(`${version}: connect, already connected, and nothing else`, async () => {
      const sim = createSimHost(dir, { version });
      const cli = new NvmeCli(host, sim.settings);
      assert.equal((await cli.version()).text, version);
      // A stranger's controllers: same subsystem with another host NQN, and a discovery controller.
      sim.addForeignController({ traddr: "10.0.0.1", subsysnqn: NQN, hostnqn: OTHER_HOST, hostid: "0d4e8a7c-2f61-4b5e-9d3a-7c1e5b2a9f00", trsvcid: 4421 });
      sim.addForeignController({ traddr: "10.0.0.1", subsysnqn: "nqn.2014-08.org.nvmexpress.discovery", trsvcid: 8009, cntrltype: "discovery" });
      const r = await cli.connect(id("10.0.0.1"), { ctrlLossTmo: -1, reconnectDelay: 2, keepAliveTmo: 5, nrIoQueues: 4 });
      assert.deepEqual(r, { ok: true, device: "nvme2" });
      const again = await cli.connect(id("10.0.0.1"));
      assert.equal(again.ok, false);
      if (!again.ok) {
        assert.equal(again.failure.class, "already-connected");
        assert.match(again.failure.message, /10\.0\.0\.1:4420/);
      }
      const [mine] = await findControllers(host, sim.settings, id("10.0.0.1"));
      assert.equal(mine.device, "nvme2");
      assert.deepEqual(sim.calls().map((a) => a[0]), ["version", "connect", "connect"]);
      const connectArgv = sim.calls().find((a) => a[0] === "connect")!;
      assert.deepEqual(connectArgv, [
        "connect", "-t", "tcp", "-a", "10.0.0.1", "-s", "4420", "-n", NQN, "-q", DEFAULT_SIM_HOSTNQN, "-I", DEFAULT_SIM_HOSTID,
        "-l", "-1", "-c", "2", "-k", "5", "-i", "4", "-o", "json",
      ]);
    });
  }

  it("classifies injected failures with the path and advice in the message", async () => {
    const sim = createSimHost(dir, { version: "2.11" });
    const cli = new NvmeCli(host, sim.settings);
    sim.setPathKnobs("10.0.0.7", { fail: "refused" });
    sim.setPathKnobs("10.0.0.8:4420", { fail: "rejected-by-target" });
    sim.setPathKnobs("10.0.0.9", { fail: "no-nvme-fabrics-module" });
    const classes = [];
    for (const a of ["10.0.0.7", "10.0.0.8", "10.0.0.9"]) {
      const r = await cli.connect(id(a));
      assert.equal(r.ok, false);
      if (!r.ok) classes.push(r.failure.class);
    }
    assert.deepEqual(classes, ["refused", "rejected-by-target", "no-nvme-fabrics-module"]);
    const missing = new NvmeCli(host, { ...sim.settings, nvmeCli: path.join(dir, "no-nvme") });
    const r = await missing.connect(id("10.0.0.1"));
    assert.ok(!r.ok && r.failure.class === "no-nvme-cli" && /install nvme-cli/.test(r.failure.message));
  });

  it("times out a hanging connect", async () => {
    const sim = createSimHost(dir, { version: "2.8" });
    sim.setPathKnobs("10.0.0.5", { hang: true });
    const r = await new NvmeCli(host, sim.settings).connect(id("10.0.0.5"), { timeoutMs: 1500 });
    assert.ok(!r.ok && r.failure.class === "timeout");
  });

  it("parallel connects take turns on the host's fabrics mutex, as in the kernel, and get distinct lowest instances", async () => {
    const sim = createSimHost(dir, { version: "2.11" });
    const LATENCY = 1000;
    for (let i = 1; i <= 3; i++) sim.setPathKnobs(`10.0.1.${i}`, { latencyMs: LATENCY });
    const cli = new NvmeCli(host, sim.settings);
    await cli.version();
    const rs = await Promise.all([1, 2, 3].map((i) => cli.connect(id(`10.0.1.${i}`))));
    assert.deepEqual(rs.map((r) => (r.ok ? r.device : "fail")).sort(), ["nvme0", "nvme1", "nvme2"]);
    const connects = sim.commandTimes().filter((t) => t.command === "connect");
    assert.equal(connects.length, 3);
    // All three were running at once, yet each answer came a whole latency after the one before.
    assert.ok(Math.max(...connects.map((t) => t.start)) < Math.min(...connects.map((t) => t.end)), "the connects did not run at once");
    const ends = connects.map((t) => t.end).sort((a, b) => a - b);
    for (let i = 1; i < ends.length; i++) assert.ok(ends[i] - ends[i - 1] >= LATENCY - 50, `answers ${ends[i] - ends[i - 1]} ms apart: they overlapped in the kernel`);
  });

  it("refuses bad values before running anything", async () => {
    const sim = createSimHost(dir, { version: "2.11" });
    const cli = new NvmeCli(host, sim.settings);
    await assert.rejects(cli.connect(id("2001:0db8::1")), /canonical/);
    await assert.rejects(cli.connect(id("10.0.0.1", { subsysnqn: "-n" })), /subsysnqn/);
    await assert.rejects(cli.connect(id("10.0.0.1", { hostid: "not-a-uuid" })), /hostid/);
    await assert.rejects(cli.connect(id("10.0.0.1"), { ctrlLossTmo: -2 }), /ctrlLossTmo/);
    await assert.rejects(cli.connect(id("10.0.0.1"), { nrIoQueues: 1.5 }), /nrIoQueues/);
    await assert.rejects(cli.connect(id("10.0.0.1"), { hostIface: "-eth0" }), /hostIface/);
    await assert.rejects(cli.connect(id("10.0.0.1", { hostIface: "eth0" }), { hostIface: "eth1" }), /differs/);
    assert.deepEqual(sim.calls(), []);
  });

  it("discover returns every record of the log (1.x subtype text): subsystems and referrals", async () => {
    const sim = createSimHost(dir, { version: "1.16" });
    sim.updateKnobs((k) => ({
      ...k,
      discovery: {
        "10.0.0.1:8009": [
          { subtype: "current discovery subsystem", trsvcid: "8009", subnqn: "nqn.2014-08.org.nvmexpress.discovery", traddr: "10.0.0.1" },
          { subtype: "nvme subsystem", trsvcid: "4420", subnqn: NQN, traddr: "10.0.0.1" },
          { subtype: "discovery subsystem referral", trsvcid: "8009", subnqn: "nqn.2014-08.org.nvmexpress.discovery", traddr: "10.0.0.2" },
        ],
      },
    }));
    const cli = new NvmeCli(host, sim.settings);
    assert.deepEqual(
      (await cli.discover("10.0.0.1", 8009, DEFAULT_SIM_HOSTNQN, DEFAULT_SIM_HOSTID)).map((r) => [r.subtype, r.traddr]),
      [["unrecognized", "10.0.0.1"], ["nvme subsystem", "10.0.0.1"], ["discovery subsystem", "10.0.0.2"]],
    );
    await assert.rejects(cli.discover("10.0.0.2", 8009, DEFAULT_SIM_HOSTNQN, DEFAULT_SIM_HOSTID), /refused/);
  });
});

const OTHER_ID = "0D4E8A7C-2F61-4B5E-9D3A-7C1E5B2A9F00";

describe("readHostIdentity", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), "hostid-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("reads /etc/nvme, lower-cases the host ID, prefers inputs", async () => {
    const sim = createSimHost(dir, { version: "2.3", hostid: DEFAULT_SIM_HOSTID.toUpperCase() });
    assert.deepEqual(await readHostIdentity(host, sim.settings), { hostnqn: DEFAULT_SIM_HOSTNQN, hostid: DEFAULT_SIM_HOSTID });
    assert.deepEqual(await readHostIdentity(host, sim.settings, { nqn: "nqn.2014-08.com.example:host1", id: "0D4E8A7C-2F61-4B5E-9D3A-7C1E5B2A9F00" }), {
      hostnqn: "nqn.2014-08.com.example:host1",
      hostid: "0d4e8a7c-2f61-4b5e-9d3a-7c1e5b2a9f00",
    });
  });

  it("says how to create missing files and never invents an identity", async () => {
    const sim = createSimHost(dir, { version: "2.3", hostnqn: null, hostid: null });
    await assert.rejects(readHostIdentity(host, sim.settings), /nvme gen-hostnqn > .*hostnqn/);
    writeFileSync(path.join(sim.settings.etcNvmeDir, "hostnqn"), `${DEFAULT_SIM_HOSTNQN}\n`);
    await assert.rejects(readHostIdentity(host, sim.settings), /uuidgen > .*hostid/);
    await assert.rejects(readHostIdentity(host, sim.settings, { nqn: DEFAULT_SIM_HOSTNQN }), /uuidgen > .*hostid/, "the host's own NQN goes with its own host ID");
  });

  it("a host NQN other than the host's own gets its own stable host ID, never /etc/nvme/hostid (issue 14, finding 8)", async () => {
    const sim = createSimHost(dir, { version: "2.11" });
    const other = "nqn.2014-08.com.example:host1";
    const uuidNqn = "nqn.2014-08.org.nvmexpress:uuid:5E3C1B2A-0F9D-4C8B-A7E6-D5C4B3A29180";
    assert.deepEqual(await readHostIdentity(host, sim.settings, { nqn: DEFAULT_SIM_HOSTNQN }), { hostnqn: DEFAULT_SIM_HOSTNQN, hostid: DEFAULT_SIM_HOSTID });
    // UUID v5 in HOSTID_NAMESPACE: python3 -c 'import uuid; print(uuid.uuid5(uuid.UUID("8d3e5b0c-6f1a-4c2e-9b7d-2a4f6c8e0d13"), "nqn.2014-08.com.example:host1"))'
    assert.deepEqual(await readHostIdentity(host, sim.settings, { nqn: other }), { hostnqn: other, hostid: "a01f0820-1e23-5957-b80d-042b9db31bd2" });
    assert.deepEqual(await readHostIdentity(host, sim.settings, { nqn: uuidNqn }), { hostnqn: uuidNqn, hostid: "5e3c1b2a-0f9d-4c8b-a7e6-d5c4b3a29180" });
    // An attachment that recorded another host ID for this NQN (made before IDs were derived) keeps it.
    const recorded = { hostnqn: other, hostid: DEFAULT_SIM_HOSTID };
    assert.deepEqual(await readHostIdentity(host, sim.settings, { nqn: other, recorded }), recorded);
    assert.deepEqual(await readHostIdentity(host, sim.settings, { nqn: uuidNqn, recorded }), { hostnqn: uuidNqn, hostid: "5e3c1b2a-0f9d-4c8b-a7e6-d5c4b3a29180" }, "only for the same NQN");
    assert.deepEqual(await readHostIdentity(host, sim.settings, { nqn: other, id: OTHER_ID, recorded }), { hostnqn: other, hostid: OTHER_ID.toLowerCase() }, "an input wins");
  });

  it("validates NQN format and length and the UUID", async () => {
    const sim = createSimHost(dir, { version: "2.3" });
    await assert.rejects(readHostIdentity(host, sim.settings, { nqn: "host1" }), /not an NQN/);
    await assert.rejects(readHostIdentity(host, sim.settings, { nqn: `nqn.2014-08.com.example:${"x".repeat(220)}` }), /bytes/);
    await assert.rejects(readHostIdentity(host, sim.settings, { nqn: "nqn.2014-13.com.example:a" }), /not an NQN/);
    writeFileSync(path.join(sim.settings.etcNvmeDir, "hostid"), "1234\n");
    await assert.rejects(readHostIdentity(host, sim.settings), /hostid.* is not a UUID/);
  });
});
