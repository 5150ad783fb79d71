import { strict as assert } from "node:assert";
import type { ProviderHost } from "../../provider/tools/demo/provider-host";
import type { Stack } from "../../provider/tools/demo/stack";
import { startWorld, type World } from "../../provider/tools/demo/world";
import { DEFAULT_SIM_HOSTNQN } from "../../provider/tools/simhost";
import { addForeign, assertForeignUntouched, ledgerOf, nextCommand as nextCommandOf, ours, registeredHostsOf, until } from "./support";

/**
 * SIGKILL of the real provider host process in the middle of `pulumi up`, then a new provider host (as the
 * next `pulumi` command starts one) against the same host dir and ledger: the next refresh, destroy and
 * up reconcile, nothing leaks, no duplicate connect.
 */

const NQN = "nqn.1988-11.com.dell:powerflex:00:5fd1a0c900000001";
const ALL = ["192.0.2.11:4420 live", "192.0.2.12:4420 live", "198.51.100.11:4420 live"];

describe("matrix: SIGKILL of the provider process mid-create (real provider host over gRPC)", function () {
  this.timeout(120_000);
  let w: World;
  let args: Record<string, unknown>;
  let foreign: string[];
  let second: ProviderHost | undefined;
  beforeEach(async () => {
    w = await startWorld();
    // The NVMe host object exists already: these cases are about the host side.
    w.emulator.state.addHost({ nqn: DEFAULT_SIM_HOSTNQN, name: "this-host" });
    args = { protectionDomain: "pd1", hostAccess: w.hostAccess };
    foreign = addForeign(w.sim, NQN, "192.0.2.11");
  });
  afterEach(async () => {
    await second?.stop();
    second = undefined;
    await w.close();
  });

  /** Start `up` of `name`, wait for `moment`, SIGKILL the provider host; the call fails as the engine would see it. */
  async function killDuring(name: string, moment: () => boolean, what: string): Promise<void> {
    const up = w.stack.up({ ...Object.fromEntries([...w.stack.resources.values()].map((r) => [r.urn.split("::").pop()!, r.inputs])), [name]: args });
    const failed = up.then(() => assert.fail("up finished before the kill"), (err: Error) => err);
    await until(what, moment);
    process.kill(w.host.pid, "SIGKILL");
    assert.match(String(await failed), /UNAVAILABLE|CANCELLED|ECONNRESET|closed/i);
  }

  /** A new provider host for the next `pulumi` command, on the same project, config, host, ledger and stack state. */
  async function nextCommand(): Promise<Stack> {
    const next = await nextCommandOf(w.projectDir, w.config, w.stack);
    second = next.host;
    return next.stack;
  }

  const pendings = () => Object.values(ledgerOf(w.sim)).filter((r) => r.pending !== undefined);

  it("between intent and connect: destroy, refresh and up drop the intent; nothing was connected", async () => {
    // b comes from an earlier `pulumi up` (another provider process): this one has not run nvme yet.
    const earlier = await nextCommand();
    await earlier.up({ b: { ...args, sdts: ["sdt-2"] } });
    await second!.stop();
    second = undefined;
    const b = [...w.stack.resources.values()][0].id;
    const connectsOfB = w.sim.calls().filter((c) => c[0] === "connect").length;
    // `nvme version` (run before the first connect) hangs: the intents are written, no connect has run.
    w.sim.updateKnobs((k) => ({ ...k, hangCommands: ["version"], hangMs: 10_000 }));
    await killDuring("a", () => pendings().length === 2, "the intents of a's two new paths");
    const ghost = pendings()[0].pending!;
    assert.deepEqual(ledgerOf(w.sim), {
      "192.0.2.11:4420": { owners: [], createdBy: ghost, pending: ghost },
      "192.0.2.12:4420": { owners: [b], createdBy: b },
      "198.51.100.11:4420": { owners: [], createdBy: ghost, pending: ghost },
    });
    assert.deepEqual(ours(w.sim), ["192.0.2.12:4420 live"]);
    assert.equal(w.sim.calls().filter((c) => c[0] === "connect").length, connectsOfB, "the killed process ran no connect");
    w.sim.updateKnobs((k) => ({ ...k, hangCommands: [] }));

    const stack = await nextCommand();
    assert.deepEqual(await stack.refresh(), [{ name: "b", op: "refresh" }]);
    assert.deepEqual(await stack.destroy(), [{ name: "b", op: "delete" }]);
    assert.deepEqual(ledgerOf(w.sim), {}, "destroy's locked scan dropped the intents whose connect never ran");
    assert.deepEqual(ours(w.sim), []);
    const connectsBefore = w.sim.calls().filter((c) => c[0] === "connect").length;
    await stack.up({ a: args });
    assert.equal(w.sim.calls().filter((c) => c[0] === "connect").length - connectsBefore, 3, "one connect per path, no duplicate");
    assert.deepEqual(ours(w.sim), ALL);
    const a = [...stack.resources.values()][0];
    assert.deepEqual(Object.values(ledgerOf(w.sim)), [0, 1, 2].map(() => ({ owners: [a.id], createdBy: a.id })));
    await stack.destroy();
    assert.deepEqual([ours(w.sim), ledgerOf(w.sim)], [[], {}]);
    assertForeignUntouched(w.sim, foreign);
  });

  it("after registering the host object: the next up uses it and the last destroy removes it", async () => {
    for (const h of [...w.emulator.state.hosts.values()]) if (h.nqn === DEFAULT_SIM_HOSTNQN) w.emulator.state.removeHost(h.id);
    w.sim.updateKnobs((k) => ({ ...k, hangCommands: ["version"], hangMs: 10_000 }));
    const registering = { ...args, host: { register: true } };
    args = registering;
    await killDuring("a", () => pendings().length === 3, "the intents of a's paths");
    const registered = [...w.emulator.state.hosts.values()].filter((h) => h.nqn === DEFAULT_SIM_HOSTNQN).map((h) => h.id);
    assert.equal(registered.length, 1, "the killed create had registered the host object");
    assert.deepEqual(registeredHostsOf(w.sim), registered, "and noted it in the ledger before connecting");
    w.sim.updateKnobs((k) => ({ ...k, hangCommands: [] }));
    const stack = await nextCommand();
    await stack.up({ a: registering });
    assert.equal([...stack.resources.values()][0].outputs.hostObjectId, registered[0], "found by NQN, not registered twice");
    await stack.destroy();
    assert.deepEqual([ours(w.sim), ledgerOf(w.sim)], [[], {}]);
    assert.ok(!w.emulator.state.hosts.has(registered[0]), "removed: the ledger remembered that an attachment here registered it");
    assert.deepEqual(registeredHostsOf(w.sim), []);
    assertForeignUntouched(w.sim, foreign);
  });

  it("between connect and ledger commit: the controllers become orphans we made; the next up adopts them and destroy removes them", async () => {
    await w.stack.up({ b: { ...args, sdts: ["sdt-2"] } });
    const b = [...w.stack.resources.values()][0].id;
    // The second connect is slow: kill once the first one is in sysfs and the slow one is in the kernel
    // (connects go one at a time); the slow one is finished by "the kernel" after.
    w.sim.setPathKnobs("198.51.100.11", { latencyMs: 2_000 });
    const slowStarted = () => w.sim.calls().some((c) => c[0] === "connect" && c.includes("198.51.100.11"));
    await killDuring("a", () => ours(w.sim).includes("192.0.2.11:4420 live") && pendings().length === 2 && slowStarted(), "the first new controller and the slow connect");
    await until("the slow connect to finish", () => ours(w.sim).length === 3);
    const ghost = pendings()[0].pending!;
    w.sim.setPathKnobs("198.51.100.11", undefined);

    const stack = await nextCommand();
    assert.deepEqual(await stack.refresh(), [{ name: "b", op: "refresh" }]);
    assert.deepEqual((stack.resources.values().next().value!.outputs.paths as any[]).map((p) => p.state), ["live"]);
    const connectsBefore = w.sim.calls().filter((c) => c[0] === "connect").length;
    assert.deepEqual(await stack.up({ b: { ...args, sdts: ["sdt-2"] }, a: args }), [{ name: "b", op: "same" }, { name: "a", op: "create" }]);
    assert.equal(w.sim.calls().filter((c) => c[0] === "connect").length, connectsBefore, "no second connect of a path the killed process connected");
    const a = [...stack.resources.values()].find((r) => r.urn.endsWith("::a"))!;
    assert.deepEqual((a.outputs.paths as any[]).map((p) => [p.traddr, p.origin, p.state]), [
      ["192.0.2.11", "adopted", "live"],
      ["198.51.100.11", "adopted", "live"],
      ["192.0.2.12", "adopted", "live"],
    ]);
    assert.deepEqual(ledgerOf(w.sim), {
      "192.0.2.11:4420": { owners: [a.id], createdBy: ghost },
      "192.0.2.12:4420": { owners: [a.id, b].sort(), createdBy: b },
      "198.51.100.11:4420": { owners: [a.id], createdBy: ghost },
    });
    assert.deepEqual(ours(w.sim), ALL);
    await stack.destroy();
    assert.deepEqual([ours(w.sim), ledgerOf(w.sim)], [[], {}], "the orphans' last owner disconnected them");
    assertForeignUntouched(w.sim, foreign);
  });
});
