import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { LocalHost } from "../../../provider/host/access/local";
import { parseDiscover, subsystemRecords } from "../../../provider/host/nvme/discover";
import { startEmulator, type Emulator } from "../../../provider/tools/emulator";
import { createSimHost, type SimHost, type SimVersion } from "../../../provider/tools/simhost";
import { HOST, SUBNQN, VOLUME, sixPorts } from "../../support/six-ports";

describe("simulated nvme discover answers from the emulator's plan (discoveryFrom)", () => {
  let dir: string;
  let e: Emulator;
  const local = new LocalHost();
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "pfnvme-sim-disc-"));
    e = await startEmulator({ tls: true, topology: sixPorts() });
  });
  after(async () => {
    await e.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function sim(v: SimVersion): SimHost {
    const s = createSimHost(path.join(dir, v), { version: v });
    s.updateKnobs((k) => ({ ...k, discoveryFrom: e.url, discoveryCaCert: e.caCert! }));
    return s;
  }
  const discover = (s: SimHost, traddr: string, json = true) =>
    local.run([s.settings.nvmeCli, "discover", "-t", "tcp", "-a", traddr, "-s", "8009", ...(json ? ["-o", "json"] : [])]);

  for (const v of ["1.16", "2.3", "2.8", "2.11"] as const) {
    it(`${v}: the planned ports in ${v}'s JSON; empty before a mapping; refused off a discovery address`, async () => {
      const s = sim(v);
      const before = await discover(s, "192.0.2.13");
      assert.deepEqual([before.exitCode, before.stdout], [0, "No discovery log entries to fetch.\n"]);
      e.state.mapVolume(VOLUME, HOST);
      try {
        const r = await discover(s, "192.0.2.13");
        assert.equal(r.exitCode, 0, r.stderr);
        const raw = JSON.parse(r.stdout) as { device?: string; records: Record<string, unknown>[] };
        assert.equal("device" in raw, v === "1.16", "1.x names its discovery controller");
        assert.match(r.stdout, v === "1.16" ? /"genctr" : \d+/ : /"genctr":\d+/);
        assert.equal(raw.records[0]!["subtype"], v === "1.16" ? "unrecognized" : "current discovery subsystem");
        assert.equal("eflags" in raw.records[0]!, v !== "1.16");
        const subsystems = subsystemRecords(parseDiscover(r.stdout)).map((x) => [x.traddr, x.trsvcid, x.subnqn]);
        assert.deepEqual(subsystems, e.state.plannedPorts(HOST).map((p) => [p.traddr, String(p.trsvcid), SUBNQN]));
        assert.equal(subsystems.length, 2);
        const plain = await discover(s, "198.51.100.11", false);
        assert.equal(plain.exitCode, 0);
        assert.equal(subsystemRecords(parseDiscover(plain.stdout)).length, 2);
        const refused = await discover(s, "203.0.113.13");
        assert.equal(refused.exitCode, v === "1.16" ? 111 : 1);
        assert.match(refused.stderr, /onnection refused/);
      } finally {
        e.state.unmapVolume(VOLUME, HOST);
      }
    });
  }

  it("a static discovery knob for the endpoint wins over the emulator", async () => {
    const s = sim("2.11");
    s.updateKnobs((k) => ({ ...k, discovery: { "192.0.2.11:8009": [{ subtype: "nvme subsystem", trsvcid: "4420", subnqn: "nqn.2014-08.org.example:static", traddr: "192.0.2.99" }] } }));
    const r = await discover(s, "192.0.2.11");
    assert.deepEqual(parseDiscover(r.stdout).records.map((x) => x.subnqn), ["nqn.2014-08.org.example:static"]);
  });
});
