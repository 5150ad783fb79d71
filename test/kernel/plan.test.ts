/**
 * Issue 16 section 1 on the real kernel: paths where PowerFlex's load balancer puts them. The gateway
 * emulator plans up to the host's `maxNumSysPorts` (2) of 4 SDT ports; nvmet's discovery answers that plan
 * (array.ts: a discovery controller on each SDT address at 8009 whose nvmet referrals point at the planned
 * I/O ports, where nvmet's log lists the subsystem; the I/O ports serve every address, as PowerFlex accepts
 * connections off its plan). The provider runs in the real dynamic-provider host over gRPC and reads the
 * plan with nvme-cli's `nvme discover`; every controller is asserted from sysfs. Foreign controllers (another
 * array, another tool under its own host NQN on the same subsystem) must be alive after each step.
 */
import { strict as assert } from "node:assert";
import { startKernelArray, SUBSYS_NQN, type KernelArray } from "./array";
import { resetKernel } from "./hooks";
import { assertSurvived, connectOk, controller, controllerKey, controllers, machineHostIdentity, nvme, type HostIdentity, type KernelController } from "./host";
import { addNamespace, addPort, createSubsystem, DISCOVERY_PORT, linkSubsystem, NVME_TCP_PORT, SDT2, SDT3 } from "./targets";

const SDT4 = "127.0.0.4";
const SDT5 = "127.0.0.5";
/** The SDT added mid-story; its id sorts first, so the recalculated plan takes it and keeps sdt-1. */
const SDT6 = "127.0.0.6";
const NEW_SDT_ID = "a1b2c3d400000000";
/** The NVMe host object an admin made for this machine, with a budget of 2 ports per protection domain. */
const HOST_ID = "c0ffee00000000a1";
const PURE_NQN = "nqn.2010-06.com.purestorage:flasharray.5ee7c0ffee0d15c0";
const PURE_ADDR = "127.0.0.10";
const OTHER_HOST: HostIdentity = {
  hostnqn: "nqn.2014-08.org.nvmexpress:uuid:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
  hostid: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
};
const OTHER_TOOL_PORT = 4421;

type Out = Record<string, any>;

describe("kernel: paths where PowerFlex's load balancer puts them, read from nvmet's discovery (issue 16)", function () {
  this.timeout(240_000);
  const me = machineHostIdentity();
  let array: KernelArray;
  let foreign: Map<string, KernelController>;
  let args: Record<string, unknown>;
  let started = 0;

  /** Our controllers of the PowerFlex subsystem's I/O ports, as "traddr state", from sysfs. */
  const ours = () =>
    controllers()
      .filter((c) => c.subsysnqn === SUBSYS_NQN && c.hostnqn === me.hostnqn && c.hostid === me.hostid && c.trsvcid === String(NVME_TCP_PORT))
      .map((c) => `${c.traddr} ${c.state}`)
      .sort();
  const outputs = (): Out => [...array.world.stack.resources.values()][0].outputs as Out;
  const held = () => (outputs().paths as Out[]).map((p) => p.traddr).sort();
  const planned = () => array.world.emulator.state.plannedPorts(HOST_ID).map((p) => p.traddr).sort();
  const said = (from: number) => array.world.host.stdout.slice(from).join("");
  const live = (...addrs: string[]) => addrs.map((a) => `${a} live`).sort();
  /** What nvme-cli's discovery at an SDT's discovery port lists: our subsystem's entries and the referrals. */
  const discover = (traddr: string, port: string | number = DISCOVERY_PORT) => {
    const r = nvme("discover", "-t", "tcp", "-a", traddr, "-s", String(port), "-q", me.hostnqn, "-I", me.hostid, "-o", "json");
    assert.equal(r.rc, 0, `nvme discover at ${traddr}:${port}: ${r.stderr}`);
    const records = (JSON.parse(r.stdout || '{"records":[]}') as { records: { subnqn: string; traddr: string; trsvcid: string; subtype: string }[] }).records;
    return {
      subsystems: records.filter((x) => x.subnqn !== "nqn.2014-08.org.nvmexpress.discovery" && !/discovery/.test(x.subtype)).map((x) => `${x.traddr}:${x.trsvcid} ${x.subnqn}`),
      referrals: records.filter((x) => /referral/.test(x.subtype)).map((x) => `${x.traddr}:${x.trsvcid}`).sort(),
    };
  };
  const foreignAlive = () => assertSurvived(foreign);

  before(async function () {
    started = Date.now();
    createSubsystem(PURE_NQN, { allowedHosts: [me.hostnqn], model: "FlashArray" });
    addNamespace(PURE_NQN, 1, { sizeMiB: 16, memoryBacked: false });
    addPort(10, PURE_ADDR, NVME_TCP_PORT);
    linkSubsystem(10, PURE_NQN);
    array = await startKernelArray([me.hostnqn, OTHER_HOST.hostnqn], {
      sdts: [SDT2, SDT3, SDT4, SDT5],
      hosts: [{ id: HOST_ID, nqn: me.hostnqn, maxNumSysPorts: 2 }],
    });
    addPort(11, SDT2, OTHER_TOOL_PORT);
    linkSubsystem(11, SUBSYS_NQN);
    const pure = connectOk({ traddr: PURE_ADDR, trsvcid: NVME_TCP_PORT, nqn: PURE_NQN, host: me });
    const otherTool = connectOk({ traddr: SDT2, trsvcid: OTHER_TOOL_PORT, nqn: SUBSYS_NQN, host: OTHER_HOST });
    foreign = new Map([pure, otherTool].map((d) => [controllerKey(controller(d)!), controller(d)!]));
    args = { protectionDomain: "pd1", hostAccess: array.world.hostAccess, volumes: [{ volume: "vol1" }] };
  });

  after(async function () {
    const leaked = array && [...array.world.host.stdout, ...array.world.host.stderr].join("").includes(array.world.emulator.password);
    await array?.close();
    await resetKernel();
    console.log(`      (plan story on the kernel: ${((Date.now() - started) / 1000).toFixed(1)} s including setup and reset)`);
    assert.ok(!leaked, "the gateway password appeared in the provider's output");
  });

  it("before any mapping every SDT's discovery controller answers, with no plan (no referral, not our subsystem)", () => {
    for (const addr of [SDT2, SDT3, SDT4, SDT5]) assert.deepEqual(discover(addr), { subsystems: [], referrals: [] }, addr);
    assert.deepEqual(ours(), []);
  });

  it("up with a volume holds exactly the 2 planned ports, read from the discovery log; a second preview shows no change", async () => {
    const stack = array.world.stack;
    const from = array.world.host.stdout.length;
    assert.deepEqual(await stack.up({ a: args }), [{ name: "a", op: "create" }]);
    assert.deepEqual(planned(), [SDT2, SDT3], "the balancer's plan: 2 ports on 2 SDTs");
    assert.deepEqual(ours(), live(SDT2, SDT3));
    assert.deepEqual(held(), [SDT2, SDT3]);
    assert.doesNotMatch(said(from), /pathSource "plan"/, "no fallback to every SDT address");
    // What the provider read: every discovery controller refers to the planned I/O ports, each lists the subsystem there.
    for (const addr of [SDT2, SDT3, SDT4, SDT5]) assert.deepEqual(discover(addr), { subsystems: [], referrals: [`${SDT2}:4420`, `${SDT3}:4420`] }, addr);
    assert.deepEqual(discover(SDT3, NVME_TCP_PORT).subsystems, [`${SDT3}:4420 ${SUBSYS_NQN}`]);
    assert.deepEqual(await stack.preview({ a: args }), [{ name: "a", op: "same" }]);
    foreignAlive();
  });

  it("an SDT added recalculates the plan: preview shows an update; up connects the new port before it drops the old one", async () => {
    const stack = array.world.stack;
    const kept = controllers().find((c) => c.subsysnqn === SUBSYS_NQN && c.hostnqn === me.hostnqn && c.traddr === SDT2)!;
    array.addSdt("sdt-5", SDT6, NEW_SDT_ID);
    assert.deepEqual(planned(), [SDT2, SDT6], "recalculated: the new SDT and sdt-1");
    assert.deepEqual(await stack.preview({ a: args }), [{ name: "a", op: "update" }]);
    assert.deepEqual(ours(), live(SDT2, SDT3), "preview connected and cut nothing");

    // Sample sysfs while up runs (the provider runs in another process): the kernel's own view of the move.
    const samples: string[][] = [];
    const sampler = setInterval(() => samples.push(ours()), 5);
    try {
      assert.deepEqual(await stack.up({ a: args }), [{ name: "a", op: "update" }]);
    } finally {
      clearInterval(sampler);
    }
    samples.push(ours());
    assert.deepEqual(ours(), live(SDT2, SDT6));
    assert.deepEqual(held(), [SDT2, SDT6]);
    assert.ok(samples.length > 1, "sysfs was sampled during up");
    for (const s of samples) {
      assert.ok(s.some((x) => x.endsWith(" live")), `a moment without a live path of ours: ${JSON.stringify(s)}`);
      assert.ok(s.includes(`${SDT3} live`) || s.includes(`${SDT6} live`), `the old port went before the new one was live: ${JSON.stringify(s)}`);
    }
    assert.ok(controllers().some((c) => controllerKey(c) === controllerKey(kept)), "the port in both plans kept its controller");
    assert.deepEqual(await stack.preview({ a: args }), [{ name: "a", op: "same" }]);
    foreignAlive();
  });

  it("without volumes there is no plan: it connects every SDT address and says why", async () => {
    const stack = array.world.stack;
    const from = array.world.host.stdout.length;
    const noVolumes = { ...args, volumes: [] };
    assert.deepEqual(await stack.up({ a: noVolumes }), [{ name: "a", op: "update" }]);
    assert.deepEqual(planned(), [], "no volume mapped: no plan");
    assert.deepEqual(array.discoveryReferrals().get(SDT4), [], "discovery refers to nothing");
    assert.deepEqual(ours(), live(SDT2, SDT3, SDT4, SDT5, SDT6));
    assert.deepEqual(held(), [SDT2, SDT3, SDT4, SDT5, SDT6]);
    assert.match(said(from), /pathSource "plan": no volume is mapped to this host by this attachment \(volumes\), and PowerFlex plans ports only for a host with mapped volumes; connecting every usable address of the protection domain's SDTs instead/);
    args = noVolumes;
    foreignAlive();
  });

  it("destroy leaves no controller of ours and touches no foreign one; the admin's host object stays", async () => {
    assert.deepEqual(await array.world.stack.destroy(), [{ name: "a", op: "delete" }]);
    assert.deepEqual(ours(), []);
    assert.deepEqual(controllers().map(controllerKey).sort(), [...foreign.keys()].sort(), "exactly the foreign controllers remain");
    for (const c of controllers()) assert.equal(c.state, "live", `${c.device} ${c.address}`);
    assert.ok(array.world.emulator.state.hosts.has(HOST_ID), "the host object we did not register stays");
    assert.deepEqual(array.world.emulator.state.volumesOfHost(HOST_ID), []);
    foreignAlive();
  });
});
