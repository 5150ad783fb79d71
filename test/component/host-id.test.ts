import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { NvmeEngine } from "../../provider/host/engine";
import { LocalHost } from "../../provider/host/access/local";
import { attachmentHost } from "../../provider/host/attachment-host";
import { hostIdForNqn, readHostIdentity, type HostIdentity } from "../../provider/host/nvme/hostid";
import type { PathIdentity } from "../../provider/host/nvme/identity";
import { createSimHost, DEFAULT_SIM_HOSTID } from "../../provider/tools/simhost";

/**
 * Issue 14, finding 8: `host.nqn` without `host.id` paired the NQN with /etc/nvme/hostid, so attachments
 * under two host NQNs connected with one host ID, which the kernel refuses (EINVAL). The simulated host
 * refuses it too now; each NQN gets its own host ID.
 */

const NQN = "nqn.1988-11.com.dell:powerflex:00:4a54e9f1000000ab";
const TENANT = "nqn.2014-08.com.example:tenant-a";
const host = new LocalHost();
const path_ = (id: HostIdentity, traddr = "10.0.0.1"): PathIdentity => ({ transport: "tcp", traddr, trsvcid: 4420, subsysnqn: NQN, ...id });

describe("host NQNs given without a host ID (issue 14, finding 8)", function () {
  this.timeout(30_000);
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), "host-id-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("the host's own NQN and two tenant NQNs attach side by side, each with its own host ID", async () => {
    const sim = createSimHost(dir, { version: "2.11" });
    const engine = NvmeEngine.on(host, sim.settings);
    const own = await readHostIdentity(host, sim.settings);
    const a = await readHostIdentity(host, sim.settings, { nqn: "nqn.2014-08.com.example:tenant-a" });
    const b = await readHostIdentity(host, sim.settings, { nqn: "nqn.2014-08.org.nvmexpress:uuid:5e3c1b2a-0f9d-4c8b-a7e6-d5c4b3a29180" });
    assert.equal(own.hostid, DEFAULT_SIM_HOSTID);
    for (const [owner, id] of [["OWN", own], ["A", a], ["B", b]] as const) {
      const r = await engine.attach(owner, [path_(id)]);
      assert.deepEqual(r.paths.map((p) => p.origin), ["created"], `${owner} connects as ${id.hostnqn} / ${id.hostid}`);
    }
    assert.deepEqual(sim.kernelLog(), []);
    const ids = sim.controllers().map((c) => `${c.hostnqn} ${c.hostid}`);
    assert.equal(new Set(ids).size, 3);
    assert.equal(new Set(sim.controllers().map((c) => c.hostid)).size, 3, "one host ID per host NQN");
  });

  it("a host NQN attachments here are already connected as keeps that host ID (the kernel takes no other)", async () => {
    const sim = createSimHost(dir, { version: "2.11" });
    const s = sim.settings;
    const h = attachmentHost({ hostAccess: { nvmeCli: s.nvmeCli, sysfsRoot: s.sysfsRoot, stateDir: s.stateDir, etcNvmeDir: s.etcNvmeDir, mountsFile: s.mountsFile } });
    // An attachment made before host IDs were derived: the tenant NQN with /etc/nvme/hostid.
    const older = { hostnqn: TENANT, hostid: DEFAULT_SIM_HOSTID };
    await h.engine.attach("OLD", [path_(older)]);
    const next = await h.identity({ host: { nqn: TENANT } });
    assert.deepEqual(next, older);
    const r = await h.engine.attach("NEW", [path_(next, "10.0.0.2")]);
    assert.deepEqual(r.paths.map((p) => p.origin), ["created"]);
    assert.deepEqual(sim.kernelLog(), []);
    await h.engine.release("OLD", [path_(older)]);
    await h.engine.release("NEW", [path_(next, "10.0.0.2")]);
    assert.deepEqual(await h.identity({ host: { nqn: TENANT } }), { hostnqn: TENANT, hostid: hostIdForNqn(TENANT) }, "nothing connected as it: derived");
  });

  it("a tenant NQN paired with the host's own ID is refused as the kernel refuses it: a clear failure, nothing made", async () => {
    const sim = createSimHost(dir, { version: "2.11" });
    const engine = NvmeEngine.on(host, sim.settings);
    await engine.attach("OWN", [path_(await readHostIdentity(host, sim.settings))]);
    const before = sim.controllers().length;
    const paired = { hostnqn: "nqn.2014-08.com.example:tenant-a", hostid: DEFAULT_SIM_HOSTID };
    await assert.rejects(engine.attach("A", [path_(paired, "10.0.0.2")]), /invalid.*host NQN\/host ID pair/s);
    assert.equal(sim.controllers().length, before);
    assert.match(sim.kernelLog().join("\n"), /found same hostid .* but different hostnqn nqn\.2014-08\.com\.example:tenant-a/);
  });
});
