import { strict as assert } from "node:assert";
import { hostIdForNqn } from "../../provider/host/nvme/hostid";
import { startWorld, type World } from "../../provider/tools/demo/world";
import { DEFAULT_SIM_HOSTID, DEFAULT_SIM_HOSTNQN } from "../../provider/tools/simhost";

/**
 * Issue 14, finding 8 through the real dynamic-provider host: a host NQN given without a host ID gets its
 * own host ID (the kernel refuses a second NQN under /etc/nvme/hostid), and a state that recorded another
 * host ID keeps it.
 */

const NEW_NQN = "nqn.2014-08.com.example:new-host";
const ours = (w: World) => w.sim.controllers().filter((c) => c.subsysnqn.includes("powerflex"));

describe("host ID of a host NQN given without one (provider over gRPC)", function () {
  this.timeout(60_000);
  let w: World;
  let args: Record<string, unknown>;
  beforeEach(async () => {
    w = await startWorld();
    args = { protectionDomain: "pd1", host: { register: true }, hostAccess: w.hostAccess };
  });
  afterEach(async () => w.close());

  it("replace onto a new host NQN without host.id: the new paths connect before the old ones go", async () => {
    await w.stack.up({ a: args });
    assert.deepEqual([...new Set(ours(w).map((c) => `${c.hostnqn} ${c.hostid}`))], [`${DEFAULT_SIM_HOSTNQN} ${DEFAULT_SIM_HOSTID}`]);
    const next = { ...args, host: { register: true, nqn: NEW_NQN } };
    assert.deepEqual(await w.stack.up({ a: next }), [{ name: "a", op: "replace", replaces: ["host"] }]);
    assert.deepEqual([...new Set(ours(w).map((c) => `${c.hostnqn} ${c.hostid}`))], [`${NEW_NQN} ${hostIdForNqn(NEW_NQN)}`]);
    assert.deepEqual(w.sim.kernelLog(), [], "the kernel refused nothing");
    const out = [...w.stack.resources.values()][0].outputs as Record<string, unknown>;
    assert.deepEqual([out.hostNqn, out.hostId], [NEW_NQN, hostIdForNqn(NEW_NQN)]);
    assert.deepEqual(await w.stack.preview({ a: next }), [{ name: "a", op: "same" }]);
    await w.stack.destroy();
    assert.deepEqual(ours(w), []);
  });

  it("a state that paired its NQN with /etc/nvme/hostid (made before host IDs were derived) keeps it: no replace", async () => {
    // What an older version recorded for `host: { nqn }`: the NQN with the host's /etc/nvme/hostid.
    await w.stack.up({ a: { ...args, host: { register: true, nqn: NEW_NQN, id: DEFAULT_SIM_HOSTID } } });
    const [r] = [...w.stack.resources.values()];
    const older = (p: Record<string, unknown>) => ({ ...p, host: { register: true, nqn: NEW_NQN } });
    w.stack.resources.set(r.urn, { ...r, inputs: older(r.inputs), outputs: older(r.outputs) });

    const same = { ...args, host: { register: true, nqn: NEW_NQN } };
    assert.deepEqual(await w.stack.preview({ a: same }), [{ name: "a", op: "same" }]);
    assert.deepEqual(await w.stack.up({ a: same }), [{ name: "a", op: "same" }]);
    assert.deepEqual([...new Set(ours(w).map((c) => c.hostid))], [DEFAULT_SIM_HOSTID]);
    await w.stack.destroy();
    assert.deepEqual(ours(w), []);
  });
});
