import { strict as assert } from "node:assert";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { createSimHost, DEFAULT_SIM_HOSTID, DEFAULT_SIM_HOSTNQN, type SimVersion } from "../../../provider/tools/simhost";
import { runSim } from "../../../provider/tools/simhost/sim";
import { harnessRun } from "../../unit/nvme/reference";

/**
 * Rules of the simulated kernel that nvme-cli does not show: what it refuses (the host NQN/host ID pairs
 * of nvmf_host_add) and what an old kernel lacks (no hostnqn/hostid attributes before 5.7).
 */

const NQN = "nqn.1988-11.com.dell:powerflex:00:4a54e9f1000000ab";
const TENANT = "nqn.2014-08.com.example:tenant-a";
const TENANT_ID = "0d4e8a7c-2f61-4b5e-9d3a-7c1e5b2a9f00";
const connect = (traddr: string, hostnqn: string, hostid: string) => ["connect", "-t", "tcp", "-a", traddr, "-s", "4420", "-n", NQN, "-q", hostnqn, "-I", hostid, "-o", "json"];

describe("simulated kernel rules", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), "sim-kernel-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  for (const version of ["1.16", "2.3", "2.8", "2.11"] as SimVersion[]) {
    it(`${version}: one host ID per host NQN and one host NQN per host ID (EINVAL, as nvme-cli prints it, and the kernel's line)`, async () => {
      const sim = createSimHost(mkdtempSync(path.join(dir, "h-")), { version });
      const einval = harnessRun("connect-kernel-EINVAL", version);
      sim.addForeignController({ traddr: "10.9.9.9", subsysnqn: "nqn.2014-08.org.example:other-array" }); // host's own NQN and ID
      const before = sim.controllers().length;

      const sameId = await runSim(sim.dir, connect("10.0.0.1", TENANT, DEFAULT_SIM_HOSTID));
      assert.deepEqual([sameId.stdout, sameId.stderr, sameId.code], [einval.stdout, einval.stderr, einval.rc]);
      const sameNqn = await runSim(sim.dir, connect("10.0.0.1", DEFAULT_SIM_HOSTNQN, TENANT_ID));
      assert.deepEqual([sameNqn.stderr, sameNqn.code], [einval.stderr, einval.rc]);
      assert.equal(sim.controllers().length, before, "nothing was made");
      assert.deepEqual(sim.kernelLog(), [
        `nvme_fabrics: found same hostid ${DEFAULT_SIM_HOSTID} but different hostnqn ${TENANT}`,
        `nvme_fabrics: found same hostnqn ${DEFAULT_SIM_HOSTNQN} but different hostid ${TENANT_ID}`,
      ]);

      assert.equal((await runSim(sim.dir, connect("10.0.0.1", TENANT, TENANT_ID))).code, 0, "its own pair is fine");
      assert.equal((await runSim(sim.dir, connect("10.0.0.2", DEFAULT_SIM_HOSTNQN, DEFAULT_SIM_HOSTID))).code, 0);
    });
  }

  it("the pair is free again once no controller holds it", async () => {
    const sim = createSimHost(dir, { version: "2.11" });
    const theirs = sim.addForeignController({ traddr: "10.9.9.9", subsysnqn: NQN, hostnqn: TENANT, hostid: DEFAULT_SIM_HOSTID });
    assert.notEqual((await runSim(sim.dir, connect("10.0.0.1", DEFAULT_SIM_HOSTNQN, DEFAULT_SIM_HOSTID))).code, 0);
    await runSim(sim.dir, ["disconnect", "-d", theirs]);
    assert.equal((await runSim(sim.dir, connect("10.0.0.1", DEFAULT_SIM_HOSTNQN, DEFAULT_SIM_HOSTID))).code, 0);
  });

  it("kernel 5.4: no hostnqn/hostid attribute per controller, no pair check, yet EALREADY by the identity it keeps", async () => {
    const sim = createSimHost(dir, { version: "2.3" });
    sim.updateKnobs((k) => ({ ...k, kernel: "5.4" }));
    const foreign = sim.addForeignController({ traddr: "10.9.9.9", subsysnqn: NQN });
    const r = await runSim(sim.dir, connect("10.0.0.1", TENANT, DEFAULT_SIM_HOSTID));
    assert.equal(r.code, 0);
    const ours = JSON.parse(r.stdout).device as string;
    for (const device of [foreign, ours]) {
      const ctl = path.join(sim.settings.sysfsRoot, "class", "nvme-fabrics", "ctl", device);
      assert.ok(existsSync(path.join(ctl, "subsysnqn")));
      assert.ok(!existsSync(path.join(ctl, "hostnqn")) && !existsSync(path.join(ctl, "hostid")), `${device} shows no host attributes`);
    }
    assert.equal(sim.controllers().find((c) => c.device === ours)?.hostnqn, TENANT, "the simulator still knows it");
    assert.equal((await runSim(sim.dir, connect("10.0.0.1", TENANT, DEFAULT_SIM_HOSTID))).code, 1, "the same path again: refused");
  });
});
