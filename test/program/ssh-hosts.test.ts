import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { startWorld, type World } from "../../provider/tools/demo/world";
import { createSimHost, type SimHost } from "../../provider/tools/simhost";
import { repoRoot } from "../support/paths";
import { runProgram } from "../support/program";
import { makeKeyPair, startSshd, type Sshd } from "../support/sshd";

/**
 * examples/ssh-hosts: three remote hosts in one `up` and one `destroy`, each a simulated host behind its
 * own real sshd on loopback, through the real dynamic-provider host.
 */

const program = path.join(repoRoot(), "dist", "examples", "ssh-hosts", "index.js");
const PD1_SDT_IPS = ["192.0.2.11", "192.0.2.12", "198.51.100.11"];

describe("program examples/ssh-hosts: three hosts over SSH in one up", function () {
  this.timeout(120_000);
  let w: World;
  let dir: string;
  const servers: Sshd[] = [];
  const sims: SimHost[] = [];

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "pfnvme-fleet-"));
    const key = makeKeyPair(dir, "fleet");
    for (let i = 0; i < 3; i++) {
      servers.push(await startSshd({ userKey: key }));
      sims.push(
        createSimHost(path.join(dir, `host${i}`), {
          version: (["1.16", "2.8", "2.11"] as const)[i],
          hostnqn: `nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-00000000000${i}`,
          hostid: `00000000-0000-4000-8000-00000000000${i}`,
        }),
      );
    }
    w = await startWorld();
  });
  after(async () => {
    await w?.close();
    for (const s of servers) await s.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("attaches, reports and destroys all three; each host's ledger and controllers are its own", async () => {
    const hosts = servers.map((s, i) => {
      const st = sims[i].settings;
      return {
        name: `node-${i}`,
        host: "127.0.0.1",
        port: s.port,
        user: s.user,
        hostKey: i === 1 ? s.hostFingerprint : s.hostKey,
        paths: { nvmeCli: st.nvmeCli, sysfsRoot: st.sysfsRoot, stateDir: st.stateDir, etcNvmeDir: st.etcNvmeDir, mountsFile: st.mountsFile },
      };
    });
    const config = {
      ...w.config,
      "ssh-hosts:protectionDomain": "pd1",
      "ssh-hosts:registerHosts": "true",
      "ssh-hosts:hosts": JSON.stringify(hosts),
      "ssh-hosts:sshPrivateKey": servers[0].privateKey,
    };
    const options = { program, project: "ssh-hosts", config, secretKeys: ["powerflex:password", "ssh-hosts:sshPrivateKey"] };

    const up = await runProgram(w.stack, options, "up");
    assert.deepEqual(up.registrations.map((r) => r.name), ["node-0", "node-1", "node-2"]);
    for (const r of up.registrations) assert.deepEqual(r.secretOutputs, ["gateway", "hostAccess"]);
    assert.deepEqual(up.exports.hostNqns, sims.map((_, i) => `nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-00000000000${i}`));
    assert.deepEqual(up.exports.paths, sims.map(() => ["sdt-1 192.0.2.11:4420 created live", "sdt-1 198.51.100.11:4420 created live", "sdt-2 192.0.2.12:4420 created live"]));
    for (const [i, sim] of sims.entries()) {
      assert.deepEqual(sim.controllers().map((c) => c.traddr).sort(), PD1_SDT_IPS, `host ${i}`);
      const ledger = JSON.parse(fs.readFileSync(path.join(sim.settings.stateDir, "ledger.json"), "utf8"));
      assert.equal(Object.keys(ledger.paths).length, 3);
      assert.ok(Object.values(ledger.paths).every((r: any) => r.identity.hostnqn === up.exports.hostNqns![i as never]));
      assert.equal((servers[i].log().match(/Accepted publickey/g) ?? []).length, 1, `one connection to host ${i}`);
    }
    assert.equal(w.emulator.state.hosts.size >= 3, true, "three NVMe host objects registered");
    assert.equal(w.sim.calls().length, 0, "the local (world) host was never touched");

    const again = await runProgram(w.stack, options, "preview");
    assert.equal(again.registrations.length, 3);

    await w.stack.destroy();
    for (const sim of sims) {
      assert.deepEqual(sim.controllers(), []);
      assert.ok(!sim.calls().some((argv) => argv[0].startsWith("disconnect")), "no nvme disconnect: teardown writes delete_controller");
      assert.ok(sim.deletes().length > 0 && sim.deletes().every((d) => d.by === "delete_controller"));
    }
  });
});
