/**
 * Issue 14's ownership scenarios on the real kernel: our controller goes and something else takes its name
 * or its path, an address in another text form, an intent left by a connect that never returned. Each
 * asserts what the user sees (resource state, the provider's warnings, `powerflex-nvme status`) and that
 * the other user's controller stays live. The same rules run on the simulated host in test/component.
 *
 * Scenarios 1 and 2 go through the real dynamic-provider host (array.ts), as `pulumi up|refresh|destroy`
 * do; 3 and 4 drive the host engine (NvmeEngine on LocalHost) directly, as engine.test.ts does.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { hostSettings, type HostSettings } from "../../provider/host/access/access";
import { LocalHost } from "../../provider/host/access/local";
import { AttachError, NvmeEngine } from "../../provider/host/engine";
import type { PathIdentity } from "../../provider/host/nvme/identity";
import { readControllers } from "../../provider/host/nvme/sysfs";
import { startKernelArray, SUBSYS_NQN, type KernelArray } from "./array";
import { resetKernel } from "./hooks";
import {
  attr, connectOk, connectTakingName, controller, controllerKey, controllers, disconnectOk, keepsOthers, machineHostIdentity, NVME, runOk, statusCli, statusJson,
  statusRow, subsystemInstance, waitFor, type HostIdentity, type KernelController,
} from "./host";
import { addNamespace, addPort, createSubsystem, linkSubsystem, NVME_TCP_PORT, removePort, SDT1, SDT2, SDT3 } from "./targets";

/** Another tool on this machine using the PowerFlex subsystem under its own host NQN (port 4421 of SDT2). */
const OTHER_HOST: HostIdentity = {
  hostnqn: "nqn.2014-08.org.nvmexpress:uuid:2b7c9e4d-1a3f-4e8b-9c6d-5f0e1d2c3b4a",
  hostid: "2b7c9e4d-1a3f-4e8b-9c6d-5f0e1d2c3b4a",
};
const OTHER_TOOL_PORT = 4421;
/** ctrl-loss-tmo of a few seconds: the kernel deletes a controller whose target went this long after. */
const SHORT_LOSS = { ctrlLossTmo: 2, reconnectDelay: 1 };
const re = (text: string) => new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));

describe("kernel: issue 14 — our controller gone, its name or path taken by someone else (provider host)", function () {
  this.timeout(180_000);
  const me = machineHostIdentity();
  let array: KernelArray;
  let args: Record<string, unknown>;

  /** Our controller (the machine's host NQN) of the PowerFlex subsystem at `traddr`:4420, from sysfs. */
  const ourPath = (traddr: string): KernelController | undefined =>
    controllers().find((c) => c.subsysnqn === SUBSYS_NQN && c.traddr === traddr && c.trsvcid === String(NVME_TCP_PORT) && c.hostnqn === me.hostnqn);
  /**
   * Our two paths, the one to lose first: not the controller whose name is the subsystem's instance, as the
   * kernel does not hand that name out again while the subsystem has another controller (ours, kept).
   */
  const losing = () => {
    const [two, three] = [ourPath(SDT2)!, ourPath(SDT3)!];
    return three.device !== subsystemInstance(SUBSYS_NQN)
      ? { gone: three, kept: two, addr: SDT3, port: 2 }
      : { gone: two, kept: three, addr: SDT2, port: 1 };
  };
  const log = (from: number) => array.world.host.stdout.slice(from).join("");
  const owner = () => [...array.world.stack.resources.values()][0].id;
  const outPaths = () => ([...array.world.stack.resources.values()][0].outputs.paths as { traddr: string }[]).map((p) => p.traddr).sort();

  before(async function () {
    array = await startKernelArray([me.hostnqn, OTHER_HOST.hostnqn]);
    addPort(11, SDT2, OTHER_TOOL_PORT);
    linkSubsystem(11, SUBSYS_NQN);
    args = { protectionDomain: "pd1", host: { register: true }, hostAccess: array.world.hostAccess, connect: SHORT_LOSS };
  });

  after(async () => {
    await array?.close();
    await resetKernel();
  });

  it("1. name reuse: our controller goes at ctrl-loss-tmo, another tool's connect takes its name; status and destroy leave it alone", () =>
    keepsOthers(async () => {
      const stack = array.world.stack;
      assert.deepEqual(await stack.up({ one: args }), [{ name: "one", op: "create" }]);
      const { gone, kept, addr, port } = losing();
      assert.equal(attr(gone.device, "ctrl_loss_tmo"), "2", "the connect option reached the kernel");
      const cntlid = attr(gone.device, "cntlid");
      try {
        removePort(port); // the SDT's nvmet port: the target goes, the kernel retries, then deletes our controller
        await waitFor(`${gone.device} to be deleted at ctrl-loss-tmo`, () => (controller(gone.device) ? undefined : true), 90_000);
      } finally {
        addPort(port, addr, NVME_TCP_PORT);
        linkSubsystem(port, SUBSYS_NQN);
      }
      // Another tool connects (its own host NQN, a path we never had): the kernel hands out the lowest free name.
      const taken = await connectTakingName(gone.device, { traddr: SDT2, trsvcid: OTHER_TOOL_PORT, nqn: SUBSYS_NQN, host: OTHER_HOST });
      const foreign = controller(taken)!;

      // status: the name is the other tool's, nobody holds it; our record has no controller.
      const shown = statusJson(array.stateDir);
      assert.deepEqual([shown.get(taken)?.owners, shown.get(taken)?.createdBy], [[], null]);
      assert.deepEqual([shown.get(kept.device)?.owners, shown.get(kept.device)?.createdBy], [[owner()], owner()]);
      const table = statusCli(array.stateDir).stdout;
      assert.match(statusRow(table, taken), /foreign \(never touched\)$/);
      assert.match(table, re(`In the ledger but no controller on the host`));
      assert.match(table, re(`  ${addr}:4420 (${SUBSYS_NQN}) as ${me.hostnqn}: held by ${owner()}`));

      // destroy with the stale state (no refresh): ours is gone, so it is forgotten with a warning; the name's new holder stays.
      const from = array.world.host.stdout.length;
      assert.deepEqual(await stack.destroy(), [{ name: "one", op: "delete" }]);
      assert.match(log(from), re(`warning: ${addr}:4420 (${SUBSYS_NQN}) as ${me.hostnqn}: our controller ${gone.device} (cntlid ${cntlid}) is gone; forgotten`));
      assert.equal(controller(kept.device), undefined, "our other path was not disconnected");
      assert.equal(controllerKey(controller(taken)!), controllerKey(foreign));
      assert.equal(controller(taken)?.state, "live", "the other tool's controller was cut");
      assert.deepEqual(statusJson(array.stateDir).get(taken)?.owners, []);
      await disconnectOk(taken); // the test's own cleanup of the other tool's controller
      return [gone.device, kept.device, taken];
    }));

  it("2. the same path re-created by someone else (autoconnect, connect-all): refresh says it is not ours, destroy leaves it live", () =>
    keepsOthers(async () => {
      const stack = array.world.stack;
      assert.deepEqual(await stack.up({ two: args }), [{ name: "two", op: "create" }]);
      const { gone: ours, kept, addr } = losing();
      const was = { cntlid: attr(ours.device, "cntlid"), inode: String(fs.statSync(`/sys/class/nvme/${ours.device}/delete_controller`).ino) };
      await disconnectOk(ours.device); // behind our back (someone's `nvme disconnect -d`; ctrl-loss-tmo does the same)
      // Exactly our path again: the machine's host NQN and ID (/etc/nvme), as nvme-cli autoconnect would; it
      // gets our name, and (nvmet's lowest free) usually our controller ID: only the kernel object differs.
      const again = await connectTakingName(ours.device, { traddr: addr, trsvcid: NVME_TCP_PORT, nqn: SUBSYS_NQN, host: me });
      const now = { cntlid: attr(again, "cntlid"), inode: String(fs.statSync(`/sys/class/nvme/${again}/delete_controller`).ino) };
      assert.notEqual(now.inode, was.inode, "kernfs gave the new controller the old inode");

      const shown = statusJson(array.stateDir);
      assert.deepEqual([shown.get(again)?.owners, shown.get(again)?.createdBy], [[], null], `status took ${again} (cntlid ${now.cntlid}; ours had ${was.cntlid}) for ours`);
      assert.match(statusRow(statusCli(array.stateDir).stdout, again), /foreign \(never touched\)$/);

      const from = array.world.host.stdout.length;
      assert.deepEqual(await stack.refresh(), [{ name: "two", op: "refresh" }]);
      assert.match(
        log(from),
        re(`${addr}:4420 (${SUBSYS_NQN}) as ${me.hostnqn} is gone from this host: our controller is gone, and ${again} has the same path but was made by someone else (not ours; never cut by us)`),
      );
      assert.deepEqual(outPaths(), [kept.traddr], "the state still lists the path someone else re-created");
      assert.equal(statusJson(array.stateDir).get(again)?.createdBy, null);

      assert.deepEqual(await stack.destroy(), [{ name: "two", op: "delete" }]);
      assert.equal(controller(kept.device), undefined);
      assert.equal(controller(again)?.state, "live", "the re-created path was cut");
      await disconnectOk(again);
      return [ours.device, kept.device, again];
    }));
});

describe("kernel: issue 14 — address text and stale intents (host engine)", function () {
  this.timeout(180_000);
  const me = machineHostIdentity();
  const V6_NQN = "nqn.1988-11.com.dell:powerflex:00:6b1e0c9d000000a6";
  const V4_NQN = "nqn.1988-11.com.dell:powerflex:00:6b1e0c9d000000a4";
  /** Another PowerFlex system on this host: its controllers' names are freed and reused in scenario 4b. */
  const OTHER_NQN = "nqn.1988-11.com.dell:powerflex:00:6b1e0c9d000000b0";
  const V6_SDT = "fd00::3";
  const pathTo = (traddr: string, subsysnqn: string): PathIdentity => ({
    transport: "tcp", traddr, trsvcid: NVME_TCP_PORT, subsysnqn, hostnqn: me.hostnqn, hostid: me.hostid,
  });
  const host = new LocalHost();
  let settings: HostSettings;
  let engine: NvmeEngine;

  const ledgerOf = (id: PathIdentity) =>
    Object.values(
      (JSON.parse(fs.readFileSync(path.join(settings.stateDir, "ledger.json"), "utf8")) as {
        paths: Record<string, { identity: PathIdentity; createdBy: string; owners: string[]; pending?: { owner: string; expires: string; instances: string[] } }>;
      }).paths,
    ).find((r) => r.identity.traddr === id.traddr && r.identity.subsysnqn === id.subsysnqn);

  /**
   * An engine whose `nvme connect` never came back (nvme-cli killed at its timeout, or the provider killed
   * mid-connect), at `now`: it leaves its intent in the ledger as a real one does, and connects nothing.
   */
  const cutShort = (now: () => Date) =>
    new NvmeEngine({
      host,
      settings,
      driver: { connect: async () => ({ ok: false as const, failure: { class: "timeout" as const, killed: true, exitCode: -1, stderr: "", reason: "killed", message: "nvme connect did not finish in time and was killed" } }) },
      readControllers: (only) => readControllers(host, settings, only ?? {}),
      now,
    });

  before(function () {
    // IPv6 on the VM's lo (the only interface): the kernel and iproute2 allow a ULA address there.
    runOk(["ip", "-6", "addr", "add", `${V6_SDT}/128`, "dev", "lo"]);
    createSubsystem(V6_NQN, { allowAnyHost: true, model: "PowerFlex" });
    addNamespace(V6_NQN, 1, { sizeMiB: 16, memoryBacked: false });
    addPort(20, V6_SDT, NVME_TCP_PORT);
    linkSubsystem(20, V6_NQN);
    createSubsystem(V4_NQN, { allowAnyHost: true, model: "PowerFlex" });
    addNamespace(V4_NQN, 1, { sizeMiB: 16, memoryBacked: false });
    createSubsystem(OTHER_NQN, { allowAnyHost: true, model: "PowerFlex" });
    addNamespace(OTHER_NQN, 1, { sizeMiB: 16, memoryBacked: false });
    // 4a's path on SDT1, 4b's on SDT2: neither leaves anything the other could adopt.
    addPort(21, SDT1, NVME_TCP_PORT);
    linkSubsystem(21, V4_NQN);
    addPort(22, SDT2, NVME_TCP_PORT);
    linkSubsystem(22, V4_NQN);
    linkSubsystem(22, OTHER_NQN);
    settings = hostSettings({ nvmeCli: NVME, stateDir: fs.mkdtempSync(path.join(os.tmpdir(), "kt-own-state-")) });
    engine = NvmeEngine.on(host, settings);
  });

  after(async () => {
    await resetKernel();
    runOk(["ip", "-6", "addr", "del", `${V6_SDT}/128`, "dev", "lo"]);
    if (settings) fs.rmSync(settings.stateDir, { recursive: true, force: true });
  });

  it("3. an address in another text form: the kernel keeps `FD00:0:0::3` as a separate path; release deletes only our `fd00::3`; status shows the other as nobody's", () =>
    keepsOthers(async () => {
      const ours = pathTo(V6_SDT, V6_NQN);
      const [held] = (await engine.attach("A", [ours])).paths;
      assert.equal(held.origin, "created");
      // An admin's `nvme connect -a FD00:0:0::3`: nvme-cli 2.3 passes the text on, the kernel keeps it as given.
      const other = connectOk({ traddr: "FD00:0:0::3", trsvcid: NVME_TCP_PORT, nqn: V6_NQN, host: me });
      assert.notEqual(other, held.device, "the kernel took FD00:0:0::3 for our path (EALREADY)");
      assert.deepEqual([controller(held.device)?.traddr, controller(other)?.traddr], [V6_SDT, "FD00:0:0::3"]);

      const shown = statusJson(settings.stateDir);
      assert.deepEqual([shown.get(held.device)?.owners, shown.get(held.device)?.createdBy], [["A"], "A"]);
      assert.deepEqual([shown.get(other)?.traddr, shown.get(other)?.owners, shown.get(other)?.createdBy], ["FD00:0:0::3", [], null]);
      const table = statusCli(settings.stateDir).stdout;
      assert.match(statusRow(table, other), /\[FD00:0:0::3\]:4420 .*foreign \(never touched\)$/);
      assert.match(statusRow(table, held.device), /\[fd00::3\]:4420 .*created by A; held by A$/);

      const r = await engine.release("A", [ours]);
      assert.deepEqual(r.disconnected.map((d) => d.device), [held.device]);
      assert.deepEqual(r.warnings, []);
      assert.equal(controller(held.device), undefined);
      assert.equal(controller(other)?.state, "live", "the FD00:0:0::3 controller was cut");
      await disconnectOk(other);
      return [held.device, other];
    }));

  it("4a. a stale intent (a connect cut short ten minutes ago): an admin's later `nvme connect` of that path is adopted by another attachment, whose release leaves it live", () =>
    keepsOthers(async () => {
      const p = pathTo(SDT1, V4_NQN);
      const leftAt = new Date(Date.now() - 10 * 60_000);
      await assert.rejects(cutShort(() => leftAt).attach("A", [p]), AttachError);
      assert.equal(ledgerOf(p)?.pending?.owner, "A", "the cut-short connect left its intent");
      assert.ok(Date.parse(ledgerOf(p)!.pending!.expires) < Date.now(), "the intent has expired");

      const admin = connectOk({ traddr: SDT1, trsvcid: NVME_TCP_PORT, nqn: V4_NQN, host: me });
      // status before anyone settles the intent: the admin's controller is nobody's (the intent expired).
      assert.deepEqual([statusJson(settings.stateDir).get(admin)?.owners, statusJson(settings.stateDir).get(admin)?.createdBy], [[], null]);
      assert.match(statusRow(statusCli(settings.stateDir).stdout, admin), /foreign \(never touched\)$/);

      const [adopted] = (await engine.attach("B", [p])).paths;
      assert.deepEqual([adopted.device, adopted.origin], [admin, "adopted"]);
      assert.deepEqual([ledgerOf(p)?.createdBy, ledgerOf(p)?.owners, ledgerOf(p)?.pending], ["external", ["B"], undefined]);
      const r = await engine.release("B", [p]);
      assert.deepEqual(r.disconnected, []);
      assert.deepEqual(r.released.map((x) => x.traddr), [SDT1]);
      assert.equal(controller(admin)?.state, "live", "the admin's controller was cut");
      await disconnectOk(admin);
      return [admin];
    }));

  it("4b. an intent still in force claims no controller whose name existed when it was written, whatever its subsystem: the admin's connect reusing that name stays live", () =>
    keepsOthers(async () => {
      const p = pathTo(SDT2, V4_NQN);
      // A controller of another subsystem is there when the intent is written; it goes, and its name is reused.
      const before = connectOk({ traddr: SDT2, trsvcid: NVME_TCP_PORT, nqn: OTHER_NQN, host: me });
      await assert.rejects(cutShort(() => new Date()).attach("A", [p]), AttachError);
      assert.ok(Date.parse(ledgerOf(p)!.pending!.expires) > Date.now() + 30_000, "the intent is still in force");
      await disconnectOk(before);
      const admin = await connectTakingName(before, { traddr: SDT2, trsvcid: NVME_TCP_PORT, nqn: V4_NQN, host: me });

      const [adopted] = (await engine.attach("B", [p])).paths;
      assert.deepEqual([adopted.device, adopted.origin], [admin, "adopted"]);
      assert.equal(ledgerOf(p)?.createdBy, "external", "the intent claimed the admin's controller as made by A");
      const r = await engine.release("B", [p]);
      assert.deepEqual(r.disconnected, []);
      assert.equal(controller(admin)?.state, "live", "the admin's controller was cut");
      await disconnectOk(admin);
      return [before, admin];
    }));
});
