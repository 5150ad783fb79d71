import { strict as assert } from "node:assert";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { NvmeEngine } from "../../provider/host/engine";
import { LocalHost } from "../../provider/host/access/local";
import { identityKey, type PathIdentity } from "../../provider/host/nvme/identity";
import { createSimHost, DEFAULT_SIM_HOSTID, DEFAULT_SIM_HOSTNQN, type SimVersion } from "../../provider/tools/simhost";

/**
 * Connects and time (issue 14, finding 7) on the simulated host: a connect the kernel answered with
 * ETIMEDOUT (an SDT that drops SYNs) made nothing and leaves no intent.
 */

const NQN = "nqn.1988-11.com.dell:powerflex:00:4a54e9f1000000ab";
const pathTo = (traddr: string): PathIdentity => ({ transport: "tcp", traddr, trsvcid: 4420, subsysnqn: NQN, hostnqn: DEFAULT_SIM_HOSTNQN, hostid: DEFAULT_SIM_HOSTID });
const host = new LocalHost();

describe("connects and time on the simulated host", function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), "connect-time-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const ledgerPaths = (stateDir: string) => (JSON.parse(readFileSync(path.join(stateDir, "ledger.json"), "utf8")) as { paths: Record<string, { pending?: unknown }> }).paths;

  for (const version of ["1.16", "2.3", "2.11"] as SimVersion[]) {
    it(`${version}: the kernel's ETIMEDOUT (SYNs dropped) is an answer: no intent is left behind, the other path is held`, async () => {
      const sim = createSimHost(dir, { version });
      sim.setPathKnobs("10.0.0.1", { fail: "ETIMEDOUT" });
      const engine = NvmeEngine.on(host, sim.settings);
      const a = await engine.attach("A", [pathTo("10.0.0.1"), pathTo("10.0.0.2")], { minPaths: 1 });
      assert.deepEqual(a.paths.map((p) => p.identity.traddr), ["10.0.0.2"]);
      assert.equal(a.failures.length, 1);
      assert.deepEqual(Object.keys(ledgerPaths(sim.settings.stateDir)), [identityKey(pathTo("10.0.0.2"))], "an intent for the silent SDT stayed in the ledger");
    });
  }
});
