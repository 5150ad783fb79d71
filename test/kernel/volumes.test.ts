/**
 * Issue 6 on the real kernel: volumes of a PowerFlexNvmeAttachment through the real dynamic-provider host
 * over gRPC. Mapping a volume in the gateway emulator adds an nvmet namespace with the volume's NGUID to
 * the subsystem (array.ts); the kernel's initiator finds it, the provider reports its device by NGUID.
 * `/dev/disk/by-id` comes from udev.ts, the stand-in for udev the VM lacks. Data goes through the by-id
 * path with O_DIRECT over NVMe/TCP to the target's memory-backed device. Foreign controllers stay live.
 */
import { strict as assert } from "node:assert";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { ProviderCallError } from "../../provider/tools/demo/provider-host";
import { volumeNguid } from "../../provider/powerflex/volumes";
import { startKernelArray, SUBSYS_NQN, SYSTEM_ID, VOL1, VOL2, type KernelArray } from "./array";
import { resetKernel } from "./hooks";
import { assertSurvived, connectOk, controller, controllerKey, controllers, machineHostIdentity, runOk, type HostIdentity, type KernelController } from "./host";
import { addNamespace, addPort, createSubsystem, linkSubsystem, NVMET, NVME_TCP_PORT, SDT2 } from "./targets";
import { settleByIdLinks } from "./udev";

const PURE_NQN = "nqn.2010-06.com.purestorage:flasharray.5ee7c0ffee0d15c0";
const PURE_ADDR = "127.0.0.10";
const OTHER_HOST: HostIdentity = {
  hostnqn: "nqn.2014-08.org.nvmexpress:uuid:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
  hostid: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
};
const MNT = "/tmp/kt-vol-mnt";
const NGUID1 = volumeNguid(VOL1, SYSTEM_ID);
const NGUID2 = volumeNguid(VOL2, SYSTEM_ID);
const DATA = "/tmp/kt-vol-data";
const DATA_BYTES = 1024 * 1024;

type Out = Record<string, any>;
const hex = (s: string) => s.replace(/[-:]/g, "").toLowerCase();
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe("kernel: volumes through the real dynamic-provider host (issue 6)", function () {
  this.timeout(180_000);
  const me = machineHostIdentity();
  let array: KernelArray;
  let foreign: Map<string, KernelController>;
  let args: Record<string, unknown>;
  let pathKeys: string[];

  const outputs = (): Out => [...array.world.stack.resources.values()][0].outputs as Out;
  const devices = (): Out[] => outputs().devices as Out[];
  const mappedTo = (volumeId: string) => (array.world.emulator.state.volumes.get(volumeId)!["mappedSdcInfo"] as Out[]).map((m) => m.nqn as string);
  /** nvmet namespaces of the subsystem as `nsid nguid`, read from configfs. */
  const targetNamespaces = () => {
    const dir = path.join(NVMET, "subsystems", SUBSYS_NQN, "namespaces");
    return fs.readdirSync(dir).map((n) => `${n} ${hex(fs.readFileSync(path.join(dir, n, "device_nguid"), "utf8").trim())}`).sort();
  };
  /** NGUIDs of the namespace heads the kernel has, from /sys/block (a head without one has no `nguid` file). */
  const hostNguids = () =>
    fs.readdirSync("/sys/block").filter((n) => /^nvme\d+n\d+$/.test(n) && fs.existsSync(`/sys/block/${n}/nguid`))
      .map((n) => hex(fs.readFileSync(`/sys/block/${n}/nguid`, "utf8").trim())).sort();
  const ourPathKeys = () => controllers().filter((c) => c.subsysnqn === SUBSYS_NQN && c.hostnqn === me.hostnqn).map(controllerKey).sort();
  const mounted = () => fs.readFileSync("/proc/mounts", "utf8").split("\n").some((l) => l.split(" ")[1] === MNT);

  /** The device a by-id path resolves to, checked against the kernel: its head's NGUID and wwid are the volume's. */
  function assertDevice(d: Out, nguid: string): string {
    assert.equal(d.devicePath, `/dev/disk/by-id/nvme-eui.${nguid}`);
    assert.ok(fs.existsSync(d.devicePath), `${d.devicePath} does not exist`);
    const head = path.basename(fs.realpathSync(d.devicePath));
    assert.equal(head, d.kernelName, "the by-id link and the provider name the same namespace head");
    assert.equal(hex(fs.readFileSync(`/sys/block/${head}/nguid`, "utf8").trim()), nguid);
    assert.equal(fs.readFileSync(`/sys/block/${head}/wwid`, "utf8").trim(), `eui.${nguid}`);
    assert.equal(Number(fs.readFileSync(`/sys/block/${head}/nsid`, "utf8").trim()), d.nsid);
    return head;
  }

  function readBack(devicePath: string): Buffer {
    runOk(["dd", `if=${devicePath}`, `of=${DATA}.back`, "bs=64k", `count=${DATA_BYTES / 65536}`, "iflag=direct", "status=none"]);
    return fs.readFileSync(`${DATA}.back`);
  }

  before(async function () {
    createSubsystem(PURE_NQN, { allowedHosts: [me.hostnqn], model: "FlashArray" });
    addNamespace(PURE_NQN, 1, { sizeMiB: 16, memoryBacked: false });
    addPort(10, PURE_ADDR, NVME_TCP_PORT);
    linkSubsystem(10, PURE_NQN);
    array = await startKernelArray([me.hostnqn, OTHER_HOST.hostnqn]);
    addPort(11, SDT2, 4421);
    linkSubsystem(11, SUBSYS_NQN);
    const pure = connectOk({ traddr: PURE_ADDR, trsvcid: NVME_TCP_PORT, nqn: PURE_NQN, host: me });
    const otherTool = connectOk({ traddr: SDT2, trsvcid: 4421, nqn: SUBSYS_NQN, host: OTHER_HOST });
    foreign = new Map([pure, otherTool].map((d) => [controllerKey(controller(d)!), controller(d)!]));
    args = { protectionDomain: "pd1", host: { register: true }, hostAccess: array.world.hostAccess, volumes: [{ volume: "vol1" }, { volume: "vol2" }] };
  });

  after(async function () {
    if (mounted()) runOk(["umount", "-l", MNT]);
    await array?.close();
    await resetKernel();
    fs.rmSync("/dev/disk", { recursive: true, force: true });
  });

  it("maps two volumes: each devicePath is the by-id link of the namespace with that volume's NGUID", async () => {
    assert.deepEqual(await array.world.stack.up({ a: args }), [{ name: "a", op: "create" }]);
    assert.deepEqual(mappedTo(VOL1), [me.hostnqn]);
    assert.deepEqual(mappedTo(VOL2), [me.hostnqn]);
    assert.deepEqual(targetNamespaces(), [`1 ${NGUID1}`, `2 ${NGUID2}`]);
    assert.deepEqual(devices().map((d) => [d.volumeName, d.volumeId, d.nsid, d.origin]), [["vol1", VOL1, 1, "created"], ["vol2", VOL2, 2, "created"]]);
    settleByIdLinks();
    const heads = [assertDevice(devices()[0], NGUID1), assertDevice(devices()[1], NGUID2)];
    assert.notEqual(heads[0], heads[1]);
    pathKeys = ourPathKeys();
    assert.equal(pathKeys.length, 2);
    assert.deepEqual(await array.world.stack.preview({ a: args }), [{ name: "a", op: "same" }]);
    assertSurvived(foreign);
  });

  it("data written through one by-id path with O_DIRECT reads back, and landed on the target's device", () => {
    const d = devices()[0];
    fs.writeFileSync(DATA, randomBytes(DATA_BYTES));
    runOk(["dd", `if=${DATA}`, `of=${d.devicePath}`, "bs=64k", "oflag=direct", "conv=fsync", "status=none"]);
    const want = sha(fs.readFileSync(DATA));
    assert.equal(sha(readBack(d.devicePath)), want);
    // The target side (nvmet's null_blk) holds the same bytes: the write crossed NVMe/TCP.
    assert.equal(sha(readBack(array.namespaces.get(d.nsid)!.backingDevice)), want);
  });

  it("unmapping one volume (update) removes its namespace and link; the other keeps its data; no path is cut", async () => {
    const keep = devices()[0];
    assert.deepEqual(await array.world.stack.up({ a: { ...args, volumes: [{ volume: "vol1" }] } }), [{ name: "a", op: "update" }]);
    assert.deepEqual(mappedTo(VOL2), []);
    assert.deepEqual(targetNamespaces(), [`1 ${NGUID1}`]);
    assert.ok(!hostNguids().includes(NGUID2), "vol2's namespace left the host");
    assert.deepEqual(devices().map((d) => d.volumeName), ["vol1"]);
    settleByIdLinks();
    assert.ok(!fs.existsSync(`/dev/disk/by-id/nvme-eui.${NGUID2}`));
    assertDevice(devices()[0], NGUID1);
    assert.equal(sha(readBack(keep.devicePath)), sha(fs.readFileSync(DATA)), "vol1's data is intact");
    assert.deepEqual(ourPathKeys(), pathKeys, "the paths were not touched");
    assertSurvived(foreign);
  });

  it("a mounted volume is not unmapped without force (nothing changes); with force it is", async () => {
    const stack = array.world.stack;
    await stack.up({ a: args }); // vol2 mapped again
    settleByIdLinks();
    const vol2 = devices().find((d) => d.volumeName === "vol2")!;
    assertDevice(vol2, NGUID2);
    runOk(["mkfs.ext4", "-q", "-F", vol2.devicePath]);
    fs.mkdirSync(MNT, { recursive: true });
    runOk(["mount", vol2.devicePath, MNT]);
    fs.writeFileSync(path.join(MNT, "in-use"), "busy");
    await assert.rejects(stack.up({ a: { ...args, volumes: [{ volume: "vol1" }] } }), (err: unknown) => {
      assert.ok(err instanceof ProviderCallError, String(err));
      assert.match(err.details, new RegExp(`refusing to unmap: volume vol2 \\(/dev/${vol2.kernelName}\\) is mounted on ${MNT}.*Nothing was changed`, "s"));
      return true;
    });
    assert.deepEqual(mappedTo(VOL2), [me.hostnqn], "still mapped");
    assert.ok(hostNguids().includes(NGUID2), "still on the host");
    assert.equal(fs.readFileSync(path.join(MNT, "in-use"), "utf8"), "busy");

    assert.deepEqual(await stack.up({ a: { ...args, volumes: [{ volume: "vol1" }], force: true } }), [{ name: "a", op: "update" }]);
    assert.deepEqual(mappedTo(VOL2), []);
    assert.deepEqual(targetNamespaces(), [`1 ${NGUID1}`]);
    assert.ok(!hostNguids().includes(NGUID2), "vol2's namespace was pulled from under the mount, as asked");
    runOk(["umount", "-l", MNT]);
    assert.deepEqual(ourPathKeys(), pathKeys, "the paths were not touched");
    assertSurvived(foreign);
  });

  it("destroy leaves no mapping, no namespace, no controller of ours; every foreign controller is live", async () => {
    assert.deepEqual(await array.world.stack.destroy(), [{ name: "a", op: "delete" }]);
    for (const v of array.world.emulator.state.volumes.values()) assert.deepEqual(v["mappedSdcInfo"], [], `volume ${v.id} still mapped`);
    assert.equal(array.world.emulator.state.hosts.size, 0, "the host object we registered is removed");
    assert.deepEqual(targetNamespaces(), []);
    assert.deepEqual(hostNguids().filter((n) => n === NGUID1 || n === NGUID2), []);
    assert.deepEqual(ourPathKeys(), []);
    assert.deepEqual(controllers().map(controllerKey).sort(), [...foreign.keys()].sort(), "exactly the foreign controllers remain");
    for (const c of controllers()) assert.equal(c.state, "live", `${c.device} ${c.address}`);
    settleByIdLinks();
    assert.deepEqual(fs.readdirSync("/dev/disk/by-id").filter((n) => n.includes(NGUID1) || n.includes(NGUID2)), []);
    assertSurvived(foreign);
  });
});
