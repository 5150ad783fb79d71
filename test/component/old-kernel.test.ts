import { strict as assert } from "node:assert";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { NvmeEngine } from "../../provider/host/engine";
import { LocalHost } from "../../provider/host/access/local";
import type { PathIdentity } from "../../provider/host/nvme/identity";
import { OldKernelError } from "../../provider/host/nvme/kernel-support";
import { createSimHost, DEFAULT_SIM_HOSTID, DEFAULT_SIM_HOSTNQN, type SimHost, type SimVersion } from "../../provider/tools/simhost";
import { repoRoot } from "../support/paths";

const run = promisify(execFile);

/**
 * Issue 14, finding 6: before Linux 5.7 sysfs shows no hostnqn/hostid per controller, so no controller can
 * be proven ours. Attach refuses before connecting when any fabrics controller shows that; on a host with
 * none it learns it from its own connects and disconnects them again. Never an unrecorded controller.
 */

const NQN = "nqn.1988-11.com.dell:powerflex:00:4a54e9f1000000ab";
const at = (traddr: string): PathIdentity => ({ transport: "tcp", traddr, trsvcid: 4420, subsysnqn: NQN, hostnqn: DEFAULT_SIM_HOSTNQN, hostid: DEFAULT_SIM_HOSTID });
const host = new LocalHost();

function oldKernelHost(dir: string, version: SimVersion): SimHost {
  const sim = createSimHost(dir, { version });
  sim.updateKnobs((k) => ({ ...k, kernel: "5.4" }));
  return sim;
}

const ledgerPaths = (sim: SimHost) => {
  try {
    return JSON.parse(readFileSync(path.join(sim.settings.stateDir, "ledger.json"), "utf8")).paths;
  } catch {
    return {};
  }
};
const isOldKernelError = (err: unknown) => {
  assert.ok(err instanceof OldKernelError, String(err));
  assert.match(err.message, /no hostnqn\/hostid attribute.*Linux 5\.7.*connects nothing/s);
  return true;
};

describe("a kernel before 5.7 (issue 14, finding 6)", function () {
  this.timeout(30_000);
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), "old-kernel-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("another user's controller shows it: attach refuses before connecting anything", async () => {
    const sim = oldKernelHost(dir, "2.3");
    sim.addForeignController({ traddr: "10.9.9.9", subsysnqn: "nqn.2010-06.com.purestorage:flasharray.1" });
    const before = sim.controllers();
    await assert.rejects(NvmeEngine.on(host, sim.settings).attach("A", [at("10.0.0.1"), at("10.0.0.2")]), isOldKernelError);
    assert.deepEqual(sim.calls().filter((c) => c[0] === "connect" || c[0] === "disconnect"), []);
    assert.deepEqual(sim.controllers(), before);
    assert.deepEqual(ledgerPaths(sim), {});
  });

  it("a controller of our subsystem shows it too (the scan reads no further than that subsystem)", async () => {
    const sim = oldKernelHost(dir, "1.16");
    sim.addForeignController({ traddr: "10.0.0.1", subsysnqn: NQN });
    await assert.rejects(NvmeEngine.on(host, sim.settings).attach("A", [at("10.0.0.1")]), isOldKernelError);
    assert.deepEqual(sim.calls().filter((c) => c[0] === "connect"), []);
    assert.equal(sim.controllers().length, 1);
  });

  for (const version of ["1.16", "2.11"] as SimVersion[]) {
    it(`${version}: on a host without controllers our own connects tell, and are disconnected again, nothing recorded`, async () => {
      const sim = oldKernelHost(mkdtempSync(path.join(dir, "h-")), version);
      await assert.rejects(NvmeEngine.on(host, sim.settings).attach("A", [at("10.0.0.1"), at("10.0.0.2")]), (err: unknown) => {
        isOldKernelError(err);
        assert.match((err as Error).message, /10\.0\.0\.1:4420[^;]*nvme[01] was disconnected again.*10\.0\.0\.2:4420[^;]*nvme[01] was disconnected again/s);
        return true;
      });
      assert.deepEqual(sim.controllers(), [], "no controller left that no record could ever match");
      assert.deepEqual(sim.deletes().map((d) => d.device).sort(), ["nvme0", "nvme1"], "deleted through delete_controller");
      assert.deepEqual(ledgerPaths(sim), {}, "no intent left behind either");
    });
  }

  it("`powerflex-nvme status` says so", async () => {
    const sim = oldKernelHost(dir, "2.3");
    sim.addForeignController({ traddr: "10.9.9.9", subsysnqn: NQN });
    const flags = ["--sysfs-root", sim.settings.sysfsRoot, "--state-dir", sim.settings.stateDir, "--etc-nvme-dir", sim.settings.etcNvmeDir];
    const { stdout } = await run(process.execPath, [path.join(repoRoot(), "bin", "powerflex-nvme.js"), "status", ...flags], { timeout: 15_000 });
    assert.match(stdout, /^nvme0 .*foreign \(never touched\)$/m);
    assert.match(stdout, /no host NQN or host ID per controller \(Linux before 5\.7\).*attaches nothing on this host/s);
    const fresh = createSimHost(mkdtempSync(path.join(dir, "new-")), { version: "2.3" });
    fresh.addForeignController({ traddr: "10.9.9.9", subsysnqn: NQN });
    const now = await run(process.execPath, [path.join(repoRoot(), "bin", "powerflex-nvme.js"), "status", "--sysfs-root", fresh.settings.sysfsRoot], { timeout: 15_000 });
    assert.doesNotMatch(now.stdout, /Linux before 5\.7/);
  });

  it("on 5.7+ nothing changes: a host without controllers attaches", async () => {
    const sim = createSimHost(dir, { version: "2.11" });
    const r = await NvmeEngine.on(host, sim.settings).attach("A", [at("10.0.0.1")]);
    assert.deepEqual(r.paths.map((p) => p.origin), ["created"]);
  });
});
