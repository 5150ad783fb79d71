import { strict as assert } from "node:assert";
import { startWorld, type World } from "../../provider/tools/demo/world";
import { HOST, sixPorts } from "../support/six-ports";

/**
 * Refresh through the real dynamic-provider host says what PowerFlex thinks of the attachment's paths
 * (`Host::{id}/relationships/NvmeController`, the host's maxNumSysPorts), on the emulator's own balancer.
 */

type Out = Record<string, any>;
const outputs = (w: World): Out => [...w.stack.resources.values()][0].outputs as Out;
const held = (w: World) => (outputs(w).paths as { traddr: string }[]).map((p) => p.traddr).sort();
const said = (w: World, from = 0) => w.host.stdout.slice(from).join("");
const unassigned = (text: string) => [...text.matchAll(/warning: PowerFlex did not assign (\S+):4420 .*?to this host \(isAssigned false/g)].map((m) => m[1]).sort();

describe("refresh: PowerFlex's view of the paths (provider over gRPC)", function () {
  this.timeout(120_000);
  let w: World;
  beforeEach(async () => {
    w = await startWorld({ emulator: { topology: sixPorts() } });
  });
  afterEach(() => w.close());

  const args = (more: Record<string, unknown> = {}) => ({ protectionDomain: "pd1", host: { register: true }, hostAccess: w.hostAccess, volumes: [{ volume: "vol1" }], ...more });

  it('pathSource "all-sdts": the 4 paths PowerFlex did not assign, and 6 ports beyond maxNumSysPorts 2', async () => {
    await w.stack.up({ a: args({ pathSource: "all-sdts" }) });
    assert.equal(held(w).length, 6);
    const planned = w.emulator.state.plannedPorts(HOST).map((p) => p.traddr);
    const from = w.host.stdout.length;
    await w.stack.refresh();
    const text = said(w, from);
    assert.deepEqual(unassigned(text), held(w).filter((a) => !planned.includes(a)));
    assert.match(text, /warning: this host is connected to 6 system ports of the protection domain, more than its maxNumSysPorts \(2\) in PowerFlex: the load balancer plans at most that many/);
    assert.doesNotMatch(text, /PowerFlex assigned the system port/);
    assert.equal(held(w).length, 6, "refresh changes no path");
    await w.stack.destroy();
  });

  it("following the plan: nothing to say; a smaller budget makes a held path unassigned and over budget", async () => {
    await w.stack.up({ a: args() });
    let from = w.host.stdout.length;
    await w.stack.refresh();
    assert.doesNotMatch(said(w, from), /isAssigned|maxNumSysPorts|could not read PowerFlex's view/);

    w.emulator.state.updateHost(HOST, { maxNumSysPorts: 1 });
    const kept = w.emulator.state.plannedPorts(HOST).map((p) => p.traddr);
    assert.equal(kept.length, 1);
    from = w.host.stdout.length;
    await w.stack.refresh();
    const text = said(w, from);
    assert.deepEqual(unassigned(text), held(w).filter((a) => !kept.includes(a)));
    assert.match(text, /warning: this host is connected to 2 system ports of the protection domain, more than its maxNumSysPorts \(1\)/);
    await w.stack.up({ a: args() });
    assert.deepEqual(held(w), kept);
    from = w.host.stdout.length;
    await w.stack.refresh();
    assert.doesNotMatch(said(w, from), /isAssigned|maxNumSysPorts/);
    await w.stack.destroy();
  });

  it("a failed read of PowerFlex's view is a warning: refresh goes on", async () => {
    await w.stack.up({ a: args() });
    w.emulator.injectFault({ path: "/relationships/NvmeController", status: 503, times: 100 });
    const from = w.host.stdout.length;
    assert.deepEqual(await w.stack.refresh(), [{ name: "a", op: "refresh" }]);
    assert.match(said(w, from), /warning: could not read PowerFlex's view of this host's connections \(NvmeController\): .*503.*; refresh goes on without it/s);
    assert.equal(held(w).length, 2);
    w.emulator.clearFaults();
    await w.stack.destroy();
  });
});
