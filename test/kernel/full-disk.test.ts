/**
 * Issue 15, finding 5 on the real kernel: the ledger's directory is on a tiny tmpfs that fills up while
 * `nvme connect` runs (after the intents were written), so the commit of a create fails with the kernel's
 * own ENOSPC. The undo must delete exactly the controllers that create made (real nvmet paths), leave the
 * foreign ones live, name the file and what to do, and leave no temporary file. The simulated host's
 * version of this is in test/component/ledger/hostile.test.ts.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { NvmeEngine } from "../../provider/host/engine";
import { hostSettings, type HostSettings } from "../../provider/host/access/access";
import { LocalHost } from "../../provider/host/access/local";
import { NvmeCli } from "../../provider/host/nvme/cli";
import type { PathIdentity } from "../../provider/host/nvme/identity";
import { readControllers } from "../../provider/host/nvme/sysfs";
import { resetKernel } from "./hooks";
import { connectOk, controller, controllers, keepsOthers, machineHostIdentity, NVME, runOk, type HostIdentity } from "./host";
import { addNamespace, addPort, createSubsystem, linkSubsystem, NVME_TCP_PORT, SDT1, SDT2, SDT3 } from "./targets";

const POWERFLEX_NQN = "nqn.1988-11.com.dell:powerflex:00:5b65fa02000000ef";
/** Another tool on this machine using the PowerFlex subsystem under its own host NQN. */
const OTHER_HOST: HostIdentity = { hostnqn: "nqn.2014-08.org.example:another-tool", hostid: "0d4e8a7c-2f61-4b5e-9d3a-7c1e5b2a9f00" };

describe("a full disk under the ledger on the real kernel (issue 15, finding 5)", () => {
  const me = machineHostIdentity();
  const pathTo = (traddr: string): PathIdentity => ({ transport: "tcp", traddr, trsvcid: NVME_TCP_PORT, subsysnqn: POWERFLEX_NQN, hostnqn: me.hostnqn, hostid: me.hostid });
  let mnt = "";
  let settings: HostSettings;
  const foreign: string[] = [];

  before(function () {
    this.timeout(120_000);
    createSubsystem(POWERFLEX_NQN, { allowAnyHost: true, model: "PowerFlex" });
    addNamespace(POWERFLEX_NQN, 1, { sizeMiB: 16, memoryBacked: false });
    for (const [id, addr] of [[1, SDT1], [2, SDT2], [3, SDT3]] as const) {
      addPort(id, addr, NVME_TCP_PORT);
      linkSubsystem(id, POWERFLEX_NQN);
    }
    // Foreign: another tool on the same subsystem (its own host NQN), on a path the attach does not use.
    foreign.push(connectOk({ traddr: SDT3, trsvcid: NVME_TCP_PORT, nqn: POWERFLEX_NQN, host: OTHER_HOST }));
    mnt = fs.mkdtempSync("/tmp/kt-full-");
    runOk(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", mnt]);
    settings = hostSettings({ nvmeCli: NVME, stateDir: path.join(mnt, "state") });
  });

  after(async function () {
    this.timeout(60_000);
    runOk(["umount", mnt]);
    fs.rmdirSync(mnt);
    await resetKernel();
  });

  /** Fill the tmpfs until the kernel says ENOSPC: from then on no new byte fits. */
  const fill = () => {
    const fd = fs.openSync(path.join(mnt, "filler"), "a");
    try {
      const chunk = Buffer.alloc(4096, 0x61);
      for (;;) fs.writeSync(fd, chunk);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
    } finally {
      fs.closeSync(fd);
    }
  };

  it("the commit of an attach fails with ENOSPC: exactly the controllers it made are deleted, the foreign one stays live, the error names the file and the fix, no .tmp is left", () =>
    keepsOthers(async () => {
      const host = new LocalHost();
      const cli = new NvmeCli(host, settings);
      let connects = 0;
      const engine = new NvmeEngine({
        host,
        settings,
        // The disk fills while nvme connects: after the intents were written, before the commit.
        driver: { connect: async (id, o) => { const r = await cli.connect(id, o); connects++; fill(); return r; } },
        readControllers: (only) => readControllers(host, settings, only ?? {}),
      });
      const before = controllers().map((c) => c.device).sort();
      const ledgerFile = path.join(settings.stateDir, "ledger.json");
      await assert.rejects(engine.attach("A", [pathTo(SDT1), pathTo(SDT2)]), (err: Error) => {
        assert.equal(err.name, "AttachError", err.message);
        assert.ok(err.message.includes(`could not write the ownership ledger ${ledgerFile} on local: ENOSPC: no space left on device`), err.message);
        assert.ok(err.message.includes(`The filesystem of ${settings.stateDir} is full: free space there (\`df ${settings.stateDir}\`), then run again`), err.message);
        assert.ok(err.message.includes("so the attach is undone: disconnected the 2 controller(s) it made"), err.message);
        return true;
      });
      assert.equal(connects, 2, "both paths were really connected before the commit");
      assert.deepEqual(controllers().map((c) => c.device).sort(), before, "no orphan: the controllers left are exactly those before the attach");
      for (const f of foreign) assert.equal(controller(f)?.state, "live", `${f} (foreign) is not live`);
      assert.deepEqual(fs.readdirSync(settings.stateDir).filter((n) => n.endsWith(".tmp")), [], "no temporary ledger file left");

      // Space freed: the intents left on disk are dropped, and the same attach works and releases.
      fs.rmSync(path.join(mnt, "filler"));
      const plain = NvmeEngine.on(host, settings);
      const again = await plain.attach("A", [pathTo(SDT1)]);
      assert.deepEqual(again.paths.map((p) => p.origin), ["created"]);
      const r = await plain.release("A", [pathTo(SDT1)]);
      assert.deepEqual(r.disconnected.map((d) => d.device), [again.paths[0].device]);
      assert.deepEqual(JSON.parse(fs.readFileSync(ledgerFile, "utf8")).paths, {});
      return [];
    }));
});
