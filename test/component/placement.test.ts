import { strict as assert } from "node:assert";
import { startEmulator, type Emulator } from "../../provider/tools/emulator";
import { placementOf } from "../../provider/powerflex/placement";
import { PowerFlexClient } from "../../provider/powerflex";
import { planTargets } from "../../provider/powerflex/targets";

const HOST = { hostnqn: "nqn.2014-08.org.nvmexpress:uuid:0b9e1a3c-5d7f-4e2a-8c6b-1f0e9d8c7b6a", hostid: "0b9e1a3c-5d7f-4e2a-8c6b-1f0e9d8c7b6a" };
const SYSTEMS = "GET /api/types/System/instances";
const DOMAINS = "GET /api/instances/System::{id}/relationships/ProtectionDomain";
const SDTS = "GET /api/instances/ProtectionDomain::{id}/relationships/Sdt";

describe("placement: system and protection domain looked up once a minute per client", () => {
  let e: Emulator;
  let c: PowerFlexClient;
  beforeEach(async () => {
    e = await startEmulator();
    c = new PowerFlexClient({ endpoint: e.url, username: e.username, password: e.password, retryDelayMs: 1 }, { warn: () => undefined });
  });
  afterEach(async () => {
    await c.close();
    await e.close();
  });

  it("asks the gateway once for many plans, but for the SDTs every time (an SDT added is seen)", async () => {
    const first = await planTargets(c, { protectionDomain: "pd1" }, HOST);
    e.state.addSdt({ name: "sdt-9", protectionDomainId: first.protectionDomainId, ipList: [{ ip: "192.0.2.99", role: "HostOnly" }], nvmePort: 4420 });
    const plans = await Promise.all(Array.from({ length: 5 }, () => planTargets(c, { protectionDomain: "pd1" }, HOST)));
    assert.equal(e.count(SYSTEMS), 1);
    assert.equal(e.count(DOMAINS), 1);
    assert.equal(e.count(SDTS), 6);
    assert.ok(!first.paths.some((x) => x.traddr === "192.0.2.99"));
    for (const p of plans) assert.ok(p.paths.some((x) => x.traddr === "192.0.2.99"), "the SDT added is planned");
  });

  it("asks again after a minute, and for another protection domain", async () => {
    let t = 1_000_000;
    await placementOf(c, undefined, "pd1", () => t);
    await placementOf(c, undefined, "pd2", () => t);
    t += 59_000;
    await placementOf(c, undefined, "pd1", () => t);
    assert.equal(e.count(DOMAINS), 2);
    t += 2_000;
    await placementOf(c, undefined, "pd1", () => t);
    assert.equal(e.count(DOMAINS), 3);
  });

  it("does not remember a failure", async () => {
    e.injectFault({ path: "/api/types/System/instances", status: 404, times: 1 });
    await assert.rejects(placementOf(c, undefined, "pd1"));
    const p = await placementOf(c, undefined, "pd1");
    assert.equal(p.protectionDomain.name, "pd1");
    assert.equal(e.count(SYSTEMS), 2);
  });
  it("SDT names with control characters are escaped in planning errors", async () => {
    e.state.updateSdt("a1b2c3d400000001", { name: "sdt\u001b[2J\nfake", maintenanceState: "InMaintenance" });
    e.state.updateSdt("a1b2c3d400000002", { maintenanceState: "InMaintenance" });
    for (const inputs of [{ protectionDomain: "pd1", sdts: ["nope"] }, { protectionDomain: "pd1" }]) {
      await assert.rejects(planTargets(c, inputs, HOST), (err: Error) => {
        assert.doesNotMatch(err.message, /[\u0000-\u001f]/, err.message);
        assert.match(err.message, /sdt\\x1b\[2J\\nfake/);
        return true;
      });
    }
  });
});
