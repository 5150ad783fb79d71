import { strict as assert } from "node:assert";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { LocalHost } from "../../provider/host/access/local";
import { InUseError, NvmeEngine } from "../../provider/host/engine";
import { NvmeCli } from "../../provider/host/nvme/cli";
import type { PathIdentity } from "../../provider/host/nvme/identity";
import { mergeMountTables, mountTables } from "../../provider/host/nvme/mounts";
import { readControllers } from "../../provider/host/nvme/sysfs";
import { createSimHost, DEFAULT_SIM_HOSTID, DEFAULT_SIM_HOSTNQN, type SimHost } from "../../provider/tools/simhost";

/** Issue 14, finding 5: the in-use guard sees swap, reads the host's tables, and looks again right before each delete. */

const NQN = "nqn.1988-11.com.dell:powerflex:00:4a54e9f1000000ab";
const at = (traddr: string): PathIdentity => ({ transport: "tcp", traddr, trsvcid: 4420, subsysnqn: NQN, hostnqn: DEFAULT_SIM_HOSTNQN, hostid: DEFAULT_SIM_HOSTID });
const SDT1 = at("10.0.0.1");
const SDT2 = at("10.0.0.2");
const host = new LocalHost();

function head(sim: SimHost): string {
  const blocks = readdirSync(path.join(sim.settings.sysfsRoot, "block")).filter((n) => /^nvme\d+n\d+$/.test(n));
  assert.equal(blocks.length, 1);
  return blocks[0];
}

describe("in-use guard (simulated host)", function () {
  this.timeout(60_000);
  let dir: string;
  let sim: SimHost;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "in-use-"));
    sim = createSimHost(dir, { version: "2.11" });
    sim.addNamespace(NQN, { nsid: 1, nguid: "4a54e9f1000000ab0000000000000001" });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("swap on a partition of the namespace: the last path is not cut; one of two may go", async () => {
    const engine = NvmeEngine.on(host, sim.settings);
    await engine.attach("A", [SDT1, SDT2]);
    const ns = head(sim);
    mkdirSync(path.join(sim.settings.sysfsRoot, "block", ns, `${ns}p2`), { recursive: true });
    sim.swapOn(`${ns}p2`);
    await engine.release("A", [SDT1]);
    await assert.rejects(engine.release("A", [SDT2]), (err: unknown) => {
      assert.ok(err instanceof InUseError);
      assert.match(err.message, new RegExp(`last live path of /dev/${ns} \\(swap on ${ns}p2\\).*force: true`, "s"));
      return true;
    });
    assert.equal(sim.controllers().filter((c) => c.subsysnqn === NQN).length, 1, "the swap's only path was cut");
    assert.deepEqual(sim.deletes().map((d) => d.traddr), ["10.0.0.1"]);
  });

  it("a live path of another host NQN carries the mounted namespace: the last path of ours may go", async () => {
    // The release reads only its own host NQN's controllers first; a refusal there is judged again on the
    // whole subsystem, where the other host NQN's path (one native multipath head) carries the mount.
    const engine = NvmeEngine.on(host, sim.settings);
    await engine.attach("A", [SDT1]);
    sim.addForeignController({ traddr: "10.0.0.2", subsysnqn: NQN, hostnqn: "nqn.2014-08.org.nvmexpress:uuid:0d4e8a7c-2f61-4b5e-9d3a-7c1e5b2a9f00" });
    sim.mount(head(sim), "/srv/db");
    await engine.release("A", [SDT1]);
    assert.deepEqual(sim.deletes().map((d) => d.traddr), ["10.0.0.1"]);
  });

  it("a mount that appears after the plan is seen right before the delete", async () => {
    let scans = 0;
    const engine = new NvmeEngine({
      host,
      settings: sim.settings,
      driver: new NvmeCli(host, sim.settings),
      readControllers: async (only) => {
        // Scan 3 is the release's plan, scan 4 its re-check right before the delete: mount in between.
        // The re-check refuses on the plan's scope, so scan 5 judges again on the whole subsystem.
        if (++scans === 4) sim.mount(head(sim), "/srv/db");
        return readControllers(host, sim.settings, only ?? {});
      },
    });
    await engine.attach("A", [SDT1]); // scans 1 and 2 (before and after the connect)
    await assert.rejects(engine.release("A", [SDT1]), /last live path of \/dev\/nvme\d+n1 \(mounted on \/srv\/db\) \(seen just before the delete; nothing was cut\)/);
    assert.equal(scans, 5);
    assert.deepEqual(sim.deletes(), []);
    assert.equal(sim.controllers().length, 1);
  });

  it("reads the mount table it is given, and for the default its own and the host's (a device's mounts from the first that shows it)", () => {
    const other = path.join(dir, "other-mounts");
    assert.deepEqual(mountTables("/proc/self/mounts"), ["/proc/self/mounts", "/proc/1/mounts"]);
    assert.deepEqual(mountTables(other), [other]);
    const own = [{ source: "/dev/nvme0n1", mountpoint: "/srv", fstype: "xfs" }];
    const host = [
      { source: "/dev/nvme0n1", mountpoint: "/newroot/srv", fstype: "xfs" },
      { source: "/dev/nvme1n1", mountpoint: "/var/lib/db", fstype: "ext4" }, // the host's alone: a container misses it
    ];
    assert.deepEqual(mergeMountTables([own, host]).map((m) => m.mountpoint), ["/srv", "/var/lib/db"]);
  });
});

describe("LocalHost.probeExclusive", () => {
  it("answers unknown for what is not a block device it can open (no proof either way)", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "probe-"));
    try {
      writeFileSync(path.join(dir, "file"), "");
      assert.equal(await host.probeExclusive(path.join(dir, "file")), "unknown");
      assert.equal(await host.probeExclusive(path.join(dir, "missing")), "unknown");
      assert.equal(await host.probeExclusive("/dev/null"), "unknown");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
