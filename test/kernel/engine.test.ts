/**
 * Issue 3's acceptance on the real kernel: the REAL host engine (NvmeEngine on LocalHost, the real
 * nvme-cli adapter and sysfs reader, /usr/sbin/nvme) against the VM's NVMe/TCP initiator and nvmet
 * targets. Everything is asserted from sysfs with ./host.ts (not the engine's own reader), and every
 * test checks that no controller it did not make on purpose went away (`keepsOthers`).
 * The same scenarios run on the simulated host in test/component/engine.test.ts.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { AttachError, InUseError, NvmeEngine } from "../../provider/host/engine";
import { hostSettings, type HostSettings } from "../../provider/host/access/access";
import { LocalHost } from "../../provider/host/access/local";
import { deleteControllerObject } from "../../provider/host/nvme/delete";
import type { PathIdentity } from "../../provider/host/nvme/identity";
import { readControllers } from "../../provider/host/nvme/sysfs";
import { resetKernel } from "./hooks";
import {
  connectOk, controller, controllerKey, controllers, disconnectOk, keepsOthers, machineHostIdentity, NVME, runOk, snapshot, statusCli, waitForNamespace,
  type HostIdentity, type KernelController,
} from "./host";
import { addNamespace, addPort, createSubsystem, linkSubsystem, NVME_TCP_PORT, SDT1, SDT2, SDT3 } from "./targets";

const POWERFLEX_NQN = "nqn.1988-11.com.dell:powerflex:00:4a54e9f1000000ab";
/** A second PowerFlex system, reachable only through our path: for the in-use guard. */
const POWERFLEX2_NQN = "nqn.1988-11.com.dell:powerflex:00:77aa0c1d000000cd";
/** Stands for another vendor's array (Pure) the host is also attached to. */
const PURE_NQN = "nqn.2010-06.com.purestorage:flasharray.6b1a2f0c1d2e3f40";
const PURE_ADDR = "127.0.0.10";
/** An SDT address with no listener: `nvme connect` gets "Connection refused". */
const DEAD_SDT = "127.0.0.4";
/** Another tool on this machine using the PowerFlex subsystem under its own host NQN. */
const OTHER_HOST: HostIdentity = {
  hostnqn: "nqn.2014-08.org.example:another-tool",
  hostid: "0d4e8a7c-2f61-4b5e-9d3a-7c1e5b2a9f00",
};
const MNT = "/tmp/kt-engine-mnt";

/** Snapshot keys, for "exactly these controllers" comparisons. */
const keys = () => [...snapshot().keys()].sort();
const isMounted = (dir: string) => fs.readFileSync("/proc/mounts", "utf8").split("\n").some((l) => l.split(" ")[1] === dir);

describe("host engine on the real kernel (nvme-cli 2.3, nvmet-tcp)", () => {
  const me = machineHostIdentity();
  const pathTo = (traddr: string, subsysnqn = POWERFLEX_NQN): PathIdentity => ({
    transport: "tcp", traddr, trsvcid: NVME_TCP_PORT, subsysnqn, hostnqn: me.hostnqn, hostid: me.hostid,
  });
  const P1 = pathTo(SDT1);
  const P2 = pathTo(SDT2);
  let settings: HostSettings;
  let engine: NvmeEngine;
  let foreign: KernelController[] = [];
  let preexisting: KernelController;

  const ledger = () => JSON.parse(fs.readFileSync(path.join(settings.stateDir, "ledger.json"), "utf8")) as {
    paths: Record<string, { identity: PathIdentity; createdBy: string; owners: string[] }>;
  };
  const ledgerOf = (id: PathIdentity) => Object.values(ledger().paths).find((r) => r.identity.traddr === id.traddr && r.identity.subsysnqn === id.subsysnqn);
  /** The one controller in sysfs with exactly this identity. */
  const kernelPath = (id: PathIdentity, host: HostIdentity = me) => {
    const found = controllers().filter((c) =>
      c.transport === "tcp" && c.traddr === id.traddr && c.trsvcid === String(id.trsvcid) && c.subsysnqn === id.subsysnqn &&
      c.hostnqn === host.hostnqn && c.hostid === host.hostid);
    assert.ok(found.length <= 1, `more than one controller for ${id.traddr}: ${found.map((c) => c.device).join(", ")}`);
    return found[0];
  };
  const assertForeignAlive = () => {
    for (const f of [...foreign, preexisting]) {
      const now = controller(f.device);
      assert.ok(now, `${controllerKey(f)} is gone`);
      assert.equal(controllerKey(now), controllerKey(f));
      assert.equal(now.state, "live", `${f.device} is ${now.state}`);
    }
  };

  before(function () {
    this.timeout(120_000);
    createSubsystem(POWERFLEX_NQN, { allowAnyHost: true, model: "PowerFlex" });
    addNamespace(POWERFLEX_NQN, 1, { sizeMiB: 16, memoryBacked: false });
    createSubsystem(POWERFLEX2_NQN, { allowAnyHost: true, model: "PowerFlex" });
    addNamespace(POWERFLEX2_NQN, 1, { sizeMiB: 64, memoryBacked: true });
    createSubsystem(PURE_NQN, { allowAnyHost: true, model: "FlashArray" });
    addNamespace(PURE_NQN, 1, { sizeMiB: 16, memoryBacked: false });
    for (const [id, addr] of [[1, SDT1], [2, SDT2], [3, SDT3]] as const) {
      addPort(id, addr, NVME_TCP_PORT);
      linkSubsystem(id, POWERFLEX_NQN);
    }
    linkSubsystem(1, POWERFLEX2_NQN);
    addPort(4, PURE_ADDR, NVME_TCP_PORT);
    linkSubsystem(4, PURE_NQN);

    // 1. Foreign controllers first. Another tool sits on SDT3: nvme-cli 2.3 ignores the host NQN in its
    // "already connected" check, so on a path we attach it would block us (harness test c2).
    const pure = connectOk({ traddr: PURE_ADDR, trsvcid: NVME_TCP_PORT, nqn: PURE_NQN, host: me });
    const otherTool = connectOk({ traddr: SDT3, trsvcid: NVME_TCP_PORT, nqn: POWERFLEX_NQN, host: OTHER_HOST });
    foreign = [pure, otherTool].map((d) => controller(d)!);
    // The same path the engine will want, connected with our host NQN before any ledger owner.
    preexisting = controller(connectOk({ traddr: SDT2, trsvcid: NVME_TCP_PORT, nqn: POWERFLEX_NQN, host: me }))!;

    settings = hostSettings({ nvmeCli: NVME, stateDir: fs.mkdtempSync("/tmp/kt-engine-state-") });
    engine = NvmeEngine.on(new LocalHost(), settings);
  });

  after(async function () {
    this.timeout(60_000);
    if (isMounted(MNT)) runOk(["umount", "-l", MNT]);
    await resetKernel();
  });

  it("1. foreign controllers are live: another array, another host NQN on PowerFlex, our own pre-existing path", () => {
    assert.deepEqual(
      [...foreign, preexisting].map((c) => [c.traddr, c.subsysnqn, c.hostnqn, c.state]),
      [
        [PURE_ADDR, PURE_NQN, me.hostnqn, "live"],
        [SDT3, POWERFLEX_NQN, OTHER_HOST.hostnqn, "live"],
        [SDT2, POWERFLEX_NQN, me.hostnqn, "live"],
      ],
    );
  });

  let created = "";

  it("2. attach A to both SDTs: SDT1 is connected (created), the pre-existing SDT2 adopted", () =>
    keepsOthers(async () => {
      const a = await engine.attach("A", [P1, P2]);
      assert.deepEqual(a.failures, []);
      assert.deepEqual(a.paths.map((p) => [p.identity.traddr, p.origin]), [[SDT1, "created"], [SDT2, "adopted"]]);
      const k1 = kernelPath(P1);
      assert.ok(k1, "no controller for SDT1 in sysfs");
      assert.equal(k1.state, "live");
      assert.equal(a.paths[0].device, k1.device);
      assert.equal(a.paths[1].device, preexisting.device, "adopted the controller that was there, no second connect");
      created = k1.device;
      assert.deepEqual([ledgerOf(P1)?.createdBy, ledgerOf(P1)?.owners], ["A", ["A"]]);
      assert.deepEqual([ledgerOf(P2)?.createdBy, ledgerOf(P2)?.owners], ["external", ["A"]]);
      assertForeignAlive();
    }));

  it("2b. `powerflex-nvme status` (the real bin, --json and table) shows A's created and adopted paths and the foreign ones as sysfs has them", () =>
    keepsOthers(() => {
      assert.ok(created, "needs step 2");
      const status = (...args: string[]) => statusCli(settings.stateDir, ...args);
      const r = status("--json");
      assert.equal(r.rc, 0, r.stderr);
      const lines = r.stdout.trimEnd().split("\n");
      const shown = (JSON.parse(lines[lines.length - 1]) as { controllers: Record<string, unknown>[] }).controllers;
      const owners = new Map<string, [string[], string | null]>([
        [created, [["A"], "A"]],
        [preexisting.device, [["A"], "external"]],
        ...foreign.map((f): [string, [string[], null]] => [f.device, [[], null]]),
      ]);
      assert.deepEqual(shown, controllers().map((c) => ({
        device: c.device, transport: c.transport, traddr: c.traddr, trsvcid: Number(c.trsvcid), subsysnqn: c.subsysnqn,
        hostnqn: c.hostnqn, state: c.state, owners: owners.get(c.device)![0], createdBy: owners.get(c.device)![1],
      })));
      // The table marks the machine's own host NQN (from /etc/nvme) and names the other tool's.
      const table = status();
      assert.equal(table.rc, 0, table.stderr);
      const row = (device: string) => table.stdout.split("\n").find((l) => l.startsWith(`${device} `)) ?? assert.fail(`no row for ${device}:\n${table.stdout}`);
      assert.match(row(created), /\(this host\)\s+created by A; held by A$/);
      assert.match(row(preexisting.device), /\(this host\)\s+was there before us; held by A$/);
      for (const f of foreign) assert.match(row(f.device), new RegExp(`${f.hostnqn === me.hostnqn ? "\\(this host\\)" : f.hostnqn}\\s+foreign \\(never touched\\)$`));
    }));

  it("3. attach B to SDT1 adopts A's controller; release A keeps what B holds and the pre-existing path", () =>
    keepsOthers(async () => {
      assert.ok(created, "needs step 2");
      const b = await engine.attach("B", [P1]);
      assert.deepEqual(b.paths.map((p) => [p.device, p.origin]), [[created, "adopted"]]);
      const before = keys();
      const ra = await engine.release("A", [P1, P2]);
      assert.deepEqual(ra.disconnected, []);
      assert.deepEqual(ra.released.map((p) => p.traddr).sort(), [SDT1, SDT2]);
      assert.deepEqual(keys(), before, "no controller changed");
      assert.equal(kernelPath(P1)?.device, created);
      assert.equal(kernelPath(P1)?.state, "live");
      assert.deepEqual([ledgerOf(P1)?.createdBy, ledgerOf(P1)?.owners], ["A", ["B"]]);
      assert.equal(ledgerOf(P2), undefined, "A was the pre-existing path's only holder: the record goes, the controller stays");
      assertForeignAlive();
    }));

  it("4. release B disconnects the controller A made; the pre-existing path and the foreign ones stay", () =>
    keepsOthers(async () => {
      assert.ok(created, "needs step 2");
      const rb = await engine.release("B", [P1]);
      assert.deepEqual(rb.disconnected.map((d) => d.device), [created]);
      assert.equal(kernelPath(P1), undefined, "SDT1 still connected");
      assert.equal(controller(created), undefined);
      assert.deepEqual(ledger().paths, {}, "nothing left in the ledger");
      assertForeignAlive();
      return [created];
    }));

  it("5. attach with one SDT refusing (no listener) rolls back to exactly the starting controllers", () =>
    keepsOthers(async () => {
      const start = keys();
      const dead = pathTo(DEAD_SDT);
      await assert.rejects(engine.attach("C", [P1, P2, dead]), (err: unknown) => {
        assert.ok(err instanceof AttachError, String(err));
        assert.deepEqual(err.failures.map((f) => [f.identity.traddr, f.kind]), [[DEAD_SDT, "refused"]]);
        assert.match(err.message, /127\.0\.0\.4:4420/);
        assert.deepEqual(err.rollbackProblems, []);
        return true;
      });
      assert.deepEqual(keys(), start, "the rollback left other controllers than the starting ones");
      assert.equal(kernelPath(P1), undefined);
      assert.deepEqual(ledger().paths, {}, "the ledger holds nothing of the failed attach");
      assertForeignAlive();
    }));

  it("6. release of the last path of a mounted namespace: refused without force, done with it", function () {
    this.timeout(180_000);
    return keepsOthers(async () => {
      const only = pathTo(SDT1, POWERFLEX2_NQN);
      const [held] = (await engine.attach("D", [only])).paths;
      assert.equal(held.origin, "created");
      const head = await waitForNamespace(held.device, 1);
      runOk(["mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=1,lazy_journal_init=1", `/dev/${head}`]);
      fs.mkdirSync(MNT, { recursive: true });
      runOk(["mount", "-t", "ext4", `/dev/${head}`, MNT]);
      const before = keys();

      await assert.rejects(engine.release("D", [only]), (err: unknown) => {
        assert.ok(err instanceof InUseError, String(err));
        assert.match(err.message, new RegExp(`${held.device} is the last live path of /dev/${head} \\(mounted on ${MNT}\\)`));
        assert.match(err.message, /force: true.*Nothing was changed/s);
        return true;
      });
      assert.deepEqual(keys(), before, "a refused release changed a controller");
      assert.equal(kernelPath(only)?.state, "live");
      assert.deepEqual(ledgerOf(only)?.owners, ["D"], "a refused release keeps the ledger");

      const forced = await engine.release("D", [only], { force: true });
      assert.deepEqual(forced.disconnected.map((d) => d.device), [held.device]);
      assert.equal(kernelPath(only), undefined);
      assertForeignAlive();
      return [held.device];
    });
  });

  it("7. issue 14: swap on a namespace, and an exclusive open alone, keep its last path; the guard says which", function () {
    this.timeout(180_000);
    // A subsystem of its own: test 6 leaves POWERFLEX2's namespace mounted (unmounted in after()).
    const SWAP_NQN = "nqn.1988-11.com.dell:powerflex:00:5a9e0c1d000000ef";
    createSubsystem(SWAP_NQN, { allowAnyHost: true, model: "PowerFlex" });
    addNamespace(SWAP_NQN, 1, { sizeMiB: 64, memoryBacked: true });
    linkSubsystem(2, SWAP_NQN);
    return keepsOthers(async () => {
      const only = pathTo(SDT2, SWAP_NQN);
      const [held] = (await engine.attach("E", [only])).paths;
      const head = await waitForNamespace(held.device, 1);
      runOk(["mkswap", `/dev/${head}`]);
      runOk(["swapon", `/dev/${head}`]);
      try {
        await assert.rejects(engine.release("E", [only]), new RegExp(`${held.device} is the last live path of /dev/${head} \\(swap on ${head}\\)`));
      } finally {
        runOk(["swapoff", `/dev/${head}`]);
      }
      assert.equal(kernelPath(only)?.state, "live", "the swap's only path was cut");
      // Someone holds the device open exclusively (as mount, dm, md and LVM do): the probe sees it.
      const excl = await fs.promises.open(`/dev/${head}`, fs.constants.O_RDONLY | fs.constants.O_EXCL);
      try {
        await assert.rejects(engine.release("E", [only]), /open exclusively by someone \(an exclusive open was refused\)/);
      } finally {
        await excl.close();
      }
      const r = await engine.release("E", [only]);
      assert.deepEqual(r.disconnected.map((d) => d.device), [held.device]);
      assertForeignAlive();
      return [held.device];
    });
  });

  it("8. issue 14: a controller that took our controller's name, path and controller ID is another kernel object and is not deleted", function () {
    this.timeout(180_000);
    return keepsOthers(async () => {
      const spec = { traddr: SDT1, trsvcid: NVME_TCP_PORT, nqn: POWERFLEX_NQN, host: me };
      const ours = connectOk(spec);
      const host = new LocalHost();
      const seen = (await readControllers(host, settings)).find((c) => c.device === ours)!;
      await disconnectOk(ours); // ours goes (ctrl-loss-tmo, someone's disconnect)
      const again = connectOk(spec); // the same path again: lowest free name, and nvmet's lowest free cntlid
      const now = (await readControllers(host, settings)).find((c) => c.device === again)!;
      if (again === ours && now.cntlid === seen.cntlid) assert.notEqual(now.inode, seen.inode, "kernfs gave the new controller the old inode");
      const r = await deleteControllerObject(host, settings, seen);
      assert.equal(r.deleted, false);
      assert.equal(controller(again)?.state, "live", "the look-alike was deleted");
      await disconnectOk(again);
      return [ours, again];
    });
  });
});
