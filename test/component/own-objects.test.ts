import { strict as assert } from "node:assert";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import type { HostAccess } from "../../provider/host/access/access";
import { LocalHost } from "../../provider/host/access/local";
import { NvmeEngine } from "../../provider/host/engine";
import { NvmeCli } from "../../provider/host/nvme/cli";
import type { PathIdentity } from "../../provider/host/nvme/identity";
import { readControllers } from "../../provider/host/nvme/sysfs";
import { createSimHost, DEFAULT_SIM_HOSTID, DEFAULT_SIM_HOSTNQN, type SimHost } from "../../provider/tools/simhost";
import { runSim } from "../../provider/tools/simhost/sim";

/**
 * Issue 14: destroy cuts the kernel object an attachment made, never a controller that only has its name
 * or its path. Each scenario runs the real engine, LocalHost and sysfs reader on the simulated host.
 */

const NQN = "nqn.1988-11.com.dell:powerflex:00:4a54e9f1000000ab";
const PURE = "nqn.2010-06.com.purestorage:flasharray.6b1a2f0c1d2e3f40";
const at = (traddr: string): PathIdentity => ({ transport: "tcp", traddr, trsvcid: 4420, subsysnqn: NQN, hostnqn: DEFAULT_SIM_HOSTNQN, hostid: DEFAULT_SIM_HOSTID });
const SDT1 = at("10.0.0.1");
const SDT2 = at("10.0.0.2");
const local = new LocalHost();

function engineOn(sim: SimHost, host: HostAccess = local, now?: () => Date): NvmeEngine {
  return new NvmeEngine({
    host,
    settings: sim.settings,
    driver: new NvmeCli(host, sim.settings),
    readControllers: (only) => readControllers(host, sim.settings, only ?? {}),
    ...(now ? { now } : {}),
  });
}

/** `host`, except that `before` runs once, just before the first teardown of `device` starts. */
function beforeTeardownOf(inner: HostAccess, device: string, before: () => Promise<void>): HostAccess {
  let fired = false;
  const fire = async () => {
    if (!fired) {
      fired = true;
      await before();
    }
  };
  const hooked: Record<string, unknown> = {
    run: async (argv: readonly string[], o?: object) => {
      if (argv[1] === "disconnect" && argv.includes(device)) await fire();
      return inner.run(argv, o);
    },
    deleteController: async (dir: string, expect: Record<string, string>, o?: object) => {
      if (path.basename(dir) === device) await fire();
      return (inner as unknown as { deleteController: (...a: unknown[]) => Promise<unknown> }).deleteController(dir, expect, o);
    },
  };
  return Object.assign(Object.create(inner) as HostAccess, hooked);
}

/** The controller the simulated kernel shows for `traddr` of our subsystem, as `device cntlid state`. */
const shown = (sim: SimHost, traddr: string) =>
  sim.controllers().filter((c) => c.subsysnqn === NQN && c.traddr === traddr).map((c) => `${c.device} ${c.cntlid} ${c.state}`);

describe("issue 14: only the kernel object we made is ever deleted", function () {
  this.timeout(60_000);
  let dir: string;
  let sim: SimHost;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "own-objects-"));
    sim = createSimHost(dir, { version: "2.11" });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("name reuse: ours goes while another is deleted and a look-alike takes its name; release leaves the look-alike live and says ours was gone", async () => {
    sim.addForeignController({ traddr: "10.9.9.9", subsysnqn: PURE }); // nvme0
    // One after the other, so the names are known (parallel connects take them in any order).
    const a1 = await engineOn(sim).attach("A", [SDT1]);
    const a2 = await engineOn(sim).attach("A", [SDT1, SDT2]);
    assert.deepEqual([...a1.paths, ...a2.paths].map((p) => p.device), ["nvme1", "nvme1", "nvme2"]);
    let lookAlike = "";
    const host = beforeTeardownOf(local, "nvme1", async () => {
      // While nvme1 is being deleted: our nvme2 reaches ctrl-loss-tmo and goes, and autoconnect makes the
      // same path again; the kernel hands it the lowest free name, nvme2.
      await runSim(sim.dir, ["disconnect", "-d", "nvme2"]);
      lookAlike = sim.addForeignController({ traddr: "10.0.0.2", subsysnqn: NQN });
    });
    const r = await engineOn(sim, host).release("A", [SDT1, SDT2]);
    assert.equal(lookAlike, "nvme2");
    assert.equal(shown(sim, "10.0.0.2").length, 1, "the look-alike was deleted");
    assert.match(shown(sim, "10.0.0.2")[0], /^nvme2 \d+ live$/, "the look-alike stays live");
    assert.deepEqual(r.disconnected.map((d) => d.device), ["nvme1"]);
    assert.deepEqual(r.forgotten.map((p) => p.traddr), ["10.0.0.2"]);
    assert.match(r.warnings.join("\n"), /10\.0\.0\.2:4420.*our controller nvme2 is gone \(nvme2 is another controller now \(another kernel object\)\); nothing was disconnected; forgotten/);
    assert.deepEqual(JSON.parse(readFileSync(path.join(sim.settings.stateDir, "ledger.json"), "utf8")).paths, {});
  });

  for (const name of ["its old name", "another name"]) {
    it(`the same path re-made by someone else (${name}) after ours expired: refresh does not call it ours, destroy leaves it`, async () => {
      const engine = engineOn(sim);
      const [ours] = (await engine.attach("A", [SDT1])).paths;
      assert.equal(ours.device, "nvme0");
      await runSim(sim.dir, ["disconnect", "-d", "nvme0"]); // ctrl-loss-tmo: the kernel removed ours
      if (name === "another name") sim.addForeignController({ traddr: "10.9.9.9", subsysnqn: PURE }); // takes nvme0
      const lookAlike = sim.addForeignController({ traddr: "10.0.0.1", subsysnqn: NQN }); // autoconnect, same host NQN/ID
      assert.equal(lookAlike, name === "its old name" ? "nvme0" : "nvme1");

      const [seen] = await engine.observe("A", [SDT1]);
      assert.deepEqual([seen.state, seen.held, seen.device], ["missing", true, undefined], "refresh called the look-alike ours");
      const r = await engine.release("A", [SDT1], { force: true });
      assert.deepEqual(r.disconnected, []);
      assert.deepEqual(r.forgotten.map((p) => p.traddr), ["10.0.0.1"]);
      assert.match(r.warnings.join("\n"), new RegExp(`our controller nvme0 \\(cntlid \\d+\\) is gone; ${lookAlike} has the same path but is not the object we made: left connected`));
      assert.equal(shown(sim, "10.0.0.1").length, 1, "the look-alike was deleted");
      assert.deepEqual(sim.deletes().map((d) => d.by), ["nvme-cli"], "nothing but the expiry");
    });
  }

  it("a stale intent claims no later controller: an admin connects the path after our connect died; another attachment adopts it and its release leaves it", async () => {
    let clock = new Date("2026-12-01T10:00:00Z");
    const engine = engineOn(sim, local, () => clock);
    sim.updateKnobs((k) => ({ ...k, hangMs: 5_000 }));
    sim.setPathKnobs("10.0.0.1", { hang: true });
    await assert.rejects(engine.attach("A", [SDT1], { connect: { timeoutMs: 300 } }), /did not finish in time/);
    const ledgerFile = path.join(sim.settings.stateDir, "ledger.json");
    assert.ok(JSON.parse(readFileSync(ledgerFile, "utf8")).paths[`tcp|10.0.0.1|4420|${NQN}|${DEFAULT_SIM_HOSTNQN}|${DEFAULT_SIM_HOSTID}||`]?.pending, "the timed-out connect leaves its intent");
    sim.setPathKnobs("10.0.0.1", undefined);

    // Ten minutes later an admin connects the same path by hand.
    clock = new Date(clock.getTime() + 10 * 60_000);
    await runSim(sim.dir, ["connect", "-t", "tcp", "-a", "10.0.0.1", "-s", "4420", "-n", NQN]);
    const admins = shown(sim, "10.0.0.1");
    assert.equal(admins.length, 1);

    const b = await engine.attach("B", [SDT1]);
    assert.deepEqual(b.paths.map((p) => p.origin), ["adopted"]);
    const r = await engine.release("B", [SDT1]);
    assert.deepEqual(r.disconnected, [], "B's release cut the admin's controller");
    assert.deepEqual(shown(sim, "10.0.0.1"), admins);
  });

  it("an intent in force claims no controller whose name existed when it was written, of any subsystem: an admin's connect that reuses it is left alone", async () => {
    const clock = new Date("2026-12-01T10:00:00Z");
    const engine = engineOn(sim, local, () => clock);
    // Another array's controller is there when the intent is written (the engine scans only our subsystem).
    const other = sim.addForeignController({ traddr: "10.9.9.9", subsysnqn: PURE });
    sim.updateKnobs((k) => ({ ...k, hangMs: 5_000 }));
    sim.setPathKnobs("10.0.0.1", { hang: true });
    await assert.rejects(engine.attach("A", [SDT1], { connect: { timeoutMs: 300 } }), /did not finish in time/);
    sim.setPathKnobs("10.0.0.1", undefined);

    // Still within the intent's time: the other array's controller goes, an admin connects our path and gets its name.
    await runSim(sim.dir, ["disconnect", "-d", other]);
    await runSim(sim.dir, ["connect", "-t", "tcp", "-a", "10.0.0.1", "-s", "4420", "-n", NQN]);
    const admins = shown(sim, "10.0.0.1");
    assert.deepEqual(admins.map((a) => a.split(" ")[0]), [other], "the simulated kernel gave the freed name to the admin's controller");

    const b = await engine.attach("B", [SDT1]);
    assert.deepEqual(b.paths.map((p) => p.origin), ["adopted"]);
    const r = await engine.release("B", [SDT1]);
    assert.deepEqual(r.disconnected, [], "the intent claimed the admin's controller, and B's release cut it");
    assert.deepEqual(shown(sim, "10.0.0.1"), admins);
  });
});
