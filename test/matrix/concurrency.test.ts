import { strict as assert } from "node:assert";
import type { ProviderHost } from "../../provider/tools/demo/provider-host";
import { urnOf } from "../../provider/tools/demo/provider-host";
import type { Stack } from "../../provider/tools/demo/stack";
import { startWorld, type World } from "../../provider/tools/demo/world";
import { PROVIDER_SOURCE } from "../../provider/pulumi/resource";
import { addForeign, assertForeignUntouched, ledgerOf, nextCommand, ours, registeredHostsOf } from "./support";

/**
 * Many attachments over overlapping paths at once: in one provider process (the engine serves every
 * resource of a stack in parallel) and in two provider processes on one host (two stacks). No
 * duplicate-connect error may reach the user, the ledger must list exactly the holders of each path, and
 * the host must end exactly as it began.
 */

const NQN = "nqn.1988-11.com.dell:powerflex:00:5fd1a0c900000001";
const ALL = ["192.0.2.11:4420 live", "192.0.2.12:4420 live", "198.51.100.11:4420 live"];
const SETS: readonly (readonly string[] | undefined)[] = [["sdt-1"], ["sdt-2"], ["sdt-1", "sdt-2"], undefined];
const PATHS_OF = (sdts: readonly string[] | undefined) =>
  [...(!sdts || sdts.includes("sdt-1") ? ["192.0.2.11:4420", "198.51.100.11:4420"] : []), ...(!sdts || sdts.includes("sdt-2") ? ["192.0.2.12:4420"] : [])];

describe("matrix: concurrency (real provider hosts over gRPC)", function () {
  this.timeout(180_000);
  let w: World;
  let foreign: string[];
  let other: ProviderHost | undefined;
  beforeEach(async () => {
    w = await startWorld();
    foreign = addForeign(w.sim, NQN, "192.0.2.11");
    // Connects take a while, so that parallel attempts overlap.
    for (const ip of ["192.0.2.11", "192.0.2.12", "198.51.100.11"]) w.sim.setPathKnobs(ip, { latencyMs: 150 });
  });
  afterEach(async () => {
    await other?.stop();
    other = undefined;
    await w.close();
  });

  const argsOf = (i: number) => {
    const sdts = SETS[i % SETS.length];
    return { protectionDomain: "pd1", host: { register: true }, hostAccess: w.hostAccess, ...(sdts ? { sdts: [...sdts] } : {}) };
  };

  /** Create `names` at once on `stack` (the engine registers a stack's resources in parallel). */
  async function createAll(stack: Stack, names: readonly string[], offset: number): Promise<Map<string, { id: string; paths: string[] }>> {
    const made = await Promise.all(
      names.map(async (name, i) => {
        const urn = urnOf(name);
        const { inputs, failures } = await stack.host.check(urn, {}, { ...argsOf(offset + i), __provider: PROVIDER_SOURCE });
        assert.deepEqual(failures, []);
        const { id, outputs } = await stack.host.create(urn, inputs);
        stack.resources.set(urn, { urn, id, inputs, outputs });
        return [name, { id, paths: (outputs.paths as any[]).map((p) => `${p.traddr}:${p.trsvcid}`).sort() }] as const;
      }),
    );
    return new Map(made);
  }

  /** Delete every resource of `stack` at once. */
  const deleteAll = (stack: Stack) =>
    Promise.all([...stack.resources.values()].map(async (r) => {
      await stack.host.delete(r.urn, r.id, r.outputs, r.inputs);
      stack.resources.delete(r.urn);
    }));

  const nvmeHosts = () => [...w.emulator.state.hosts.values()].filter((h) => h.hostType === "NVMeHost").map((h) => h.id);

  /** Every path's owners are exactly the attachments that hold it, and one of them made it. */
  function assertLedgerExact(made: ReadonlyMap<string, { id: string; paths: string[] }>): void {
    const want: Record<string, string[]> = {};
    for (const m of made.values()) for (const p of m.paths) (want[p] ??= []).push(m.id);
    const ledger = ledgerOf(w.sim);
    assert.deepEqual(Object.keys(ledger).sort(), Object.keys(want).sort());
    for (const [p, owners] of Object.entries(want)) {
      assert.deepEqual(ledger[p].owners, owners.sort(), `owners of ${p}`);
      assert.ok(owners.includes(ledger[p].createdBy), `${p} was made by one of its holders, not recorded as foreign`);
      assert.equal(ledger[p].pending, undefined);
    }
  }

  function assertOneConnectPerPath(): void {
    const connects = w.sim.calls().filter((c) => c[0] === "connect").map((c) => c[c.indexOf("-a") + 1]);
    assert.deepEqual(connects.sort(), ["192.0.2.11", "192.0.2.12", "198.51.100.11"], "each path connected once, never twice");
  }

  it("20 attachments over overlapping paths in one provider process: created and destroyed in parallel", async () => {
    const names = Array.from({ length: 20 }, (_, i) => `att${i}`);
    const made = await createAll(w.stack, names, 0);
    names.forEach((n, i) => assert.deepEqual(made.get(n)!.paths, PATHS_OF(SETS[i % SETS.length]).sort(), n));
    assert.deepEqual(ours(w.sim), ALL, "one controller per path");
    assertLedgerExact(made);
    assertOneConnectPerPath();
    assert.equal(nvmeHosts().length, 1, "one NVMe host object for the one host NQN");
    await deleteAll(w.stack);
    assert.deepEqual([ours(w.sim), ledgerOf(w.sim)], [[], {}]);
    assert.deepEqual([nvmeHosts(), registeredHostsOf(w.sim)], [[], []], "whichever attachment went last removed the host object one of them registered");
    assertForeignUntouched(w.sim, foreign);
  });

  it("two provider processes at once on one host (two stacks): the host lock orders them", async () => {
    const next = await nextCommand(w.projectDir, w.config, w.stack);
    other = next.host;
    // A second stack: its own state.
    const second = Object.defineProperty(next.stack, "resources", { value: new Map() }) as Stack;
    const [one, two] = await Promise.all([
      createAll(w.stack, ["p0", "p1", "p2", "p3", "p4"], 0),
      createAll(second, ["q0", "q1", "q2", "q3", "q4"], 1),
    ]);
    assert.deepEqual(ours(w.sim), ALL);
    assertLedgerExact(new Map([...one, ...two]));
    assertOneConnectPerPath();
    await Promise.all([deleteAll(w.stack), deleteAll(second)]);
    assert.deepEqual([ours(w.sim), ledgerOf(w.sim)], [[], {}]);
    assert.deepEqual([nvmeHosts(), registeredHostsOf(w.sim)], [[], []], "the host object registered by one stack went with the last attachment");
    assertForeignUntouched(w.sim, foreign);
  });
});
