/**
 * Issue 4 on the real kernel: the PowerFlexNvmeAttachment lifecycle driven through the real
 * dynamic-provider host of @pulumi/pulumi over gRPC (as `pulumi preview|up|refresh|destroy` drive it), with
 * the provider on the machine itself (real nvme-cli 2.3, /sys, /etc/nvme) and the gateway emulator whose
 * SDTs are nvmet-tcp ports in the VM. Every controller is asserted from sysfs with host.ts (not the
 * provider's reader). Foreign controllers are connected first and must be alive at the end of each step.
 */
import { strict as assert } from "node:assert";
import { ProviderCallError, UNKNOWN } from "../../provider/tools/demo/provider-host";
import { startKernelArray, SUBSYS_NQN, type KernelArray } from "./array";
import { resetKernel } from "./hooks";
import {
  assertSurvived, connectOk, controller, controllerKey, controllers, disconnectOk, machineHostIdentity, type HostIdentity, type KernelController,
} from "./host";
import { addNamespace, addPort, createSubsystem, linkSubsystem, NVME_TCP_PORT, SDT2, SDT3 } from "./targets";

/** Another vendor's array the host is also attached to. */
const PURE_NQN = "nqn.2010-06.com.purestorage:flasharray.5ee7c0ffee0d15c0";
const PURE_ADDR = "127.0.0.10";
/** Another tool on this machine attached to the same PowerFlex subsystem under its own host NQN. */
const OTHER_HOST: HostIdentity = {
  hostnqn: "nqn.2014-08.org.nvmexpress:uuid:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
  hostid: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
};
/** The identity the attachment moves to in the replace step. */
const NEXT_HOST: HostIdentity = {
  hostnqn: "nqn.2014-08.org.nvmexpress:uuid:5e3c1b2a-0f9d-4c8b-a7e6-d5c4b3a29180",
  hostid: "5e3c1b2a-0f9d-4c8b-a7e6-d5c4b3a29180",
};
const OTHER_TOOL_PORT = 4421;
const SDT4 = "127.0.0.4";

type Out = Record<string, any>;

describe("kernel: resource lifecycle through the real dynamic-provider host (issue 4)", function () {
  this.timeout(180_000);
  const me = machineHostIdentity();
  let array: KernelArray;
  let foreign: Map<string, KernelController>;
  let args: Record<string, unknown>;

  /** Our controllers of the PowerFlex subsystem (NVMe/TCP port 4420) under `who`, as "traddr state", from sysfs. */
  const ours = (who: HostIdentity = me) =>
    controllers()
      .filter((c) => c.subsysnqn === SUBSYS_NQN && c.hostnqn === who.hostnqn && c.hostid === who.hostid && c.trsvcid === String(NVME_TCP_PORT))
      .map((c) => `${c.traddr} ${c.state}`)
      .sort();
  const outputs = (): Out => [...array.world.stack.resources.values()][0].outputs as Out;
  const outPaths = () => (outputs().paths as Out[]).map((p) => `${p.traddr} ${p.hostnqn === me.hostnqn ? "me" : p.hostnqn} ${p.origin} ${p.state}`).sort();
  const hostObjects = () => [...array.world.emulator.state.hosts.values()].map((h) => String(h["nqn"])).sort();
  const foreignAlive = () => assertSurvived(foreign);

  before(async function () {
    createSubsystem(PURE_NQN, { allowedHosts: [me.hostnqn], model: "FlashArray" });
    addNamespace(PURE_NQN, 1, { sizeMiB: 16, memoryBacked: false });
    addPort(10, PURE_ADDR, NVME_TCP_PORT);
    linkSubsystem(10, PURE_NQN);
    array = await startKernelArray([me.hostnqn, NEXT_HOST.hostnqn, OTHER_HOST.hostnqn]);
    addPort(11, SDT2, OTHER_TOOL_PORT);
    linkSubsystem(11, SUBSYS_NQN);
    // Foreign controllers, made before the provider runs: they must outlive every step.
    const pure = connectOk({ traddr: PURE_ADDR, trsvcid: NVME_TCP_PORT, nqn: PURE_NQN, host: me });
    const otherTool = connectOk({ traddr: SDT2, trsvcid: OTHER_TOOL_PORT, nqn: SUBSYS_NQN, host: OTHER_HOST });
    foreign = new Map([pure, otherTool].map((d) => [controllerKey(controller(d)!), controller(d)!]));
    args = { protectionDomain: "pd1", host: { register: true }, hostAccess: array.world.hostAccess };
  });

  after(async function () {
    const leaked = array && [...array.world.host.stdout, ...array.world.host.stderr].join("").includes(array.world.emulator.password);
    await array?.close();
    await resetKernel();
    assert.ok(!leaked, "the gateway password appeared in the provider's output");
  });

  it("preview with unknown inputs plans a create and touches nothing", async () => {
    const stack = array.world.stack;
    assert.deepEqual(await stack.preview({ a: { ...args, sdts: UNKNOWN, host: { register: true, nqn: UNKNOWN } } }), [{ name: "a", op: "create" }]);
    assert.deepEqual(await stack.preview({ a: args }), [{ name: "a", op: "create" }]);
    assert.deepEqual(ours(), [], "preview connected nothing");
    assert.deepEqual(hostObjects(), [], "preview registered no host object");
    foreignAlive();
  });

  it("up creates: two live paths, one per SDT, under the machine's host NQN; a second preview shows no change", async () => {
    const stack = array.world.stack;
    assert.deepEqual(await stack.up({ a: args }), [{ name: "a", op: "create" }]);
    assert.deepEqual(ours(), [`${SDT2} live`, `${SDT3} live`]);
    assert.deepEqual(outPaths(), [`${SDT2} me created live`, `${SDT3} me created live`]);
    assert.equal(outputs().subsystemNqn, SUBSYS_NQN);
    assert.deepEqual(hostObjects(), [me.hostnqn], "the NVMe host object was registered");
    // The devices the outputs name are the kernel's controllers of those paths.
    for (const p of outputs().paths as Out[]) assert.equal(controller(p.device)?.traddr, p.traddr);
    assert.deepEqual(await stack.preview({ a: args }), [{ name: "a", op: "same" }]);
    foreignAlive();
  });

  it("an SDT added in the array shows as a change in preview; up connects exactly one more path and cuts none", async () => {
    const stack = array.world.stack;
    const before = controllers().filter((c) => c.subsysnqn === SUBSYS_NQN && c.hostnqn === me.hostnqn).map(controllerKey).sort();
    array.addSdt("sdt-3", SDT4);
    assert.deepEqual(await stack.preview({ a: args }), [{ name: "a", op: "update" }]);
    assert.deepEqual(ours(), [`${SDT2} live`, `${SDT3} live`], "preview connected nothing");
    assert.deepEqual(await stack.up({ a: args }), [{ name: "a", op: "update" }]);
    assert.deepEqual(ours(), [`${SDT2} live`, `${SDT3} live`, `${SDT4} live`]);
    const now = new Set(controllers().map(controllerKey));
    for (const k of before) assert.ok(now.has(k), `${k} was cut to add a path`);
    assert.deepEqual(await stack.preview({ a: args }), [{ name: "a", op: "same" }]);
    foreignAlive();
  });

  it("a path that died behind the provider's back: refresh drops it, preview shows a change, up reconnects it", async () => {
    const stack = array.world.stack;
    const victim = controllers().find((c) => c.subsysnqn === SUBSYS_NQN && c.hostnqn === me.hostnqn && c.traddr === SDT3)!;
    await disconnectOk(victim.device); // someone ran `nvme disconnect -d`
    assert.deepEqual(ours(), [`${SDT2} live`, `${SDT4} live`]);
    const logged = array.world.host.stdout.length;
    assert.deepEqual(await stack.refresh(), [{ name: "a", op: "refresh" }]);
    assert.deepEqual(outPaths(), [`${SDT2} me created live`, `${SDT4} me created live`]);
    assert.match(array.world.host.stdout.slice(logged).join(""), new RegExp(`${SDT3.replace(/\./g, "\\.")}.*is gone from this host`));
    assert.deepEqual(await stack.preview({ a: args }), [{ name: "a", op: "update" }]);
    assert.deepEqual(await stack.up({ a: args }), [{ name: "a", op: "update" }]);
    assert.deepEqual(ours(), [`${SDT2} live`, `${SDT3} live`, `${SDT4} live`]);
    assert.deepEqual(outPaths(), [`${SDT2} me created live`, `${SDT3} me created live`, `${SDT4} me created live`]);
    foreignAlive();
  });

  it("a new host NQN is a replace; create-before-delete is refused by nvme-cli 2.3 and leaves everything as it was", async () => {
    const stack = array.world.stack;
    const next = { ...args, host: { register: true, nqn: NEXT_HOST.hostnqn, id: NEXT_HOST.hostid } };
    assert.deepEqual(await stack.preview({ a: next }), [{ name: "a", op: "replace", replaces: ["host"] }]);
    const keys = controllers().map(controllerKey).sort();
    // The new identity's paths are the old one's addresses: nvme-cli < 2.6 ignores the host NQN in its
    // "already connected" check, so while the old attachment holds them the new one cannot connect.
    await assert.rejects(stack.up({ a: next }), (err: unknown) => {
      assert.ok(err instanceof ProviderCallError, String(err));
      assert.match(err.details, /nvme-cli before 2\.6 ignores the host NQN/);
      assert.match(err.details, /give the resource the option deleteBeforeReplace: true/);
      return true;
    });
    assert.deepEqual(controllers().map(controllerKey).sort(), keys, "no controller made or cut");
    assert.deepEqual(ours(NEXT_HOST), []);
    assert.deepEqual(hostObjects(), [me.hostnqn], "the host object the failed create registered is gone again");
    assert.deepEqual(outPaths(), [`${SDT2} me created live`, `${SDT3} me created live`, `${SDT4} me created live`], "the old attachment is intact");
    foreignAlive();
  });

  it("with deleteBeforeReplace the replace goes through: the old identity's paths go, the new one's are live", async () => {
    const stack = array.world.stack;
    const next = { ...args, host: { register: true, nqn: NEXT_HOST.hostnqn, id: NEXT_HOST.hostid } };
    const oldId = [...stack.resources.values()][0].id;
    assert.deepEqual(await stack.up({ a: next }, { deleteBeforeReplace: ["a"] }), [{ name: "a", op: "replace", replaces: ["host"] }]);
    assert.notEqual([...stack.resources.values()][0].id, oldId);
    assert.deepEqual(ours(), [], "the old identity's controllers are gone");
    assert.deepEqual(ours(NEXT_HOST), [`${SDT2} live`, `${SDT3} live`, `${SDT4} live`]);
    assert.deepEqual(hostObjects(), [NEXT_HOST.hostnqn], "the old host object we registered is removed, the new one registered");
    assert.deepEqual(await stack.preview({ a: next }), [{ name: "a", op: "same" }]);
    foreignAlive();
    args = next;
  });

  it("destroy disconnects exactly our controllers and removes our host object; the foreign ones stay live", async () => {
    const stack = array.world.stack;
    assert.deepEqual(await stack.destroy(), [{ name: "a", op: "delete" }]);
    assert.deepEqual(ours(), []);
    assert.deepEqual(ours(NEXT_HOST), []);
    assert.deepEqual(hostObjects(), []);
    assert.deepEqual(controllers().map(controllerKey).sort(), [...foreign.keys()].sort(), "exactly the foreign controllers remain");
    for (const c of controllers()) assert.equal(c.state, "live", `${c.device} ${c.address}`);
    foreignAlive();
  });
});
