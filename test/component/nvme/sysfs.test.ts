import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { hostSettings } from "../../../provider/host/access/access";
import { LocalHost } from "../../../provider/host/access/local";
import { findControllers, isPath, readControllers, type PathIdentity } from "../../../provider/host/nvme";
import { createSimHost } from "../../../provider/tools/simhost";
import { referenceDir } from "../../unit/nvme/reference";

const host = new LocalHost();

/** `host`, recording every file it reads (to prove a scan reads no further than it must). */
function countingReads(): { reads: string[]; counting: typeof host } {
  const reads: string[] = [];
  const counting = Object.create(host, { readFile: { value: (p: string) => (reads.push(p), host.readFile(p)) } }) as typeof host;
  return { reads, counting };
}
const HOSTNQN = "nqn.2014-08.org.nvmexpress:uuid:db6c0bed-3fda-4bda-ad73-51b8d29506ab";
const HOSTID = "d24b6553-aa97-4c7c-aa4c-b51c022d8b7b";
const NQN = "nqn.2014-08.org.example:storage1";
const id = (traddr: string, extra: Partial<PathIdentity> = {}): PathIdentity => ({
  transport: "tcp", traddr, trsvcid: 4420, subsysnqn: NQN, hostnqn: HOSTNQN, hostid: HOSTID, ...extra,
});

describe("sysfs reader on the harness's fake sysfs trees", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), "fake-sysfs-"));
    for (const t of ["multipath", "one-ipv4", "one-ipv4-oldkernel", "ipv6-iface", "states", "states2", "two-hosts", "with-discovery", "noctrl"]) {
      const into = path.join(dir, t);
      execFileSync("mkdir", ["-p", into]);
      execFileSync("tar", ["xzf", path.join(referenceDir, "harness-fake-sysfs-trees", `${t}.tar.gz`), "-C", into]);
    }
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const settings = (t: string) => hostSettings({ sysfsRoot: path.join(dir, t, "sys"), mountsFile: path.join(dir, "no-mounts") });

  it("multipath: two live paths sharing one namespace head", async () => {
    const cs = await readControllers(host, settings("multipath"));
    assert.deepEqual(cs.map((c) => c.device), ["nvme0", "nvme1"]);
    const [a, b] = cs;
    assert.equal(a.state, "live");
    assert.equal(a.cntlid, 1);
    assert.equal(a.addressFields.src_addr, "192.168.122.1");
    assert.deepEqual(a.identity, id("192.168.122.10"));
    assert.deepEqual(b.identity, id("192.168.123.10"));
    assert.equal(a.namespaces.length, 1);
    assert.deepEqual(a.namespaces[0], { blockDevice: "nvme0n1", nsid: 1, nguid: "5eed0001000040008000000000000000", mountpoints: [], holders: [], swaps: [], exclusive: "unknown" });
    assert.deepEqual(b.namespaces, a.namespaces);
    assert.ok(isPath(b, id("192.168.123.10")));
    assert.ok(!isPath(b, id("192.168.122.10")));
  });

  it("ipv6 with host address and interface", async () => {
    const [c] = await readControllers(host, settings("ipv6-iface"));
    assert.deepEqual(c.identity, id("fd00:1::10", { hostTraddr: "fd00:1::1", hostIface: "eth0" }));
    assert.equal((await findControllers(host, settings("ipv6-iface"), id("fd00:1::10", { hostTraddr: "fd00:1::1", hostIface: "eth0" }))).length, 1);
    assert.equal((await findControllers(host, settings("ipv6-iface"), id("fd00:1::10"))).length, 0, "interface is part of the identity");
  });

  it("old kernel without src_addr, states, other host NQN, discovery controller", async () => {
    const [old] = await readControllers(host, settings("one-ipv4-oldkernel"));
    assert.deepEqual(old.identity, id("192.168.122.10"));
    assert.deepEqual((await readControllers(host, settings("states"))).map((c) => c.state), ["live", "connecting", "resetting", "deleting"]);
    assert.deepEqual((await readControllers(host, settings("states2"))).map((c) => c.state), ["deleting (no IO)", "new", "dead"]);
    const two = await readControllers(host, settings("two-hosts"));
    assert.equal(two[1].hostnqn, "nqn.2014-08.org.nvmexpress:uuid:0d4e8a7c-2f61-4b5e-9d3a-7c1e5b2a9f00");
    assert.equal((await findControllers(host, settings("two-hosts"), id("192.168.122.10"))).length, 1);
    const disc = await readControllers(host, settings("with-discovery"));
    assert.equal(disc[0].cntrltype, "discovery");
    assert.equal(disc[0].identity, undefined, "discovery controllers are never ours");
    assert.ok(disc[1].identity);
    assert.deepEqual(await readControllers(host, settings("noctrl")), []);
    assert.deepEqual(await readControllers(host, hostSettings({ sysfsRoot: path.join(dir, "nowhere") })), []);
  });
});

describe("sysfs reader on a simulated host", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), "sim-sysfs-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("reports mounts and holders of namespaces and partitions", async () => {
    const sim = createSimHost(dir, { version: "2.11" });
    sim.addNamespace(NQN, { nsid: 7, nguid: "00112233445566778899aabbccddeeff" });
    sim.addForeignController({ traddr: "10.0.0.1", subsysnqn: NQN });
    sim.addForeignController({ traddr: "10.0.0.2", subsysnqn: NQN });
    sim.mount("nvme0n1", "/mnt/data dir");
    sim.addHolder("nvme0n1", "dm-3");
    const cs = await readControllers(host, sim.settings);
    assert.equal(cs.length, 2);
    for (const c of cs) {
      assert.deepEqual(c.namespaces, [{ blockDevice: "nvme0n1", nsid: 7, nguid: "00112233445566778899aabbccddeeff", mountpoints: ["/mnt/data dir"], holders: ["dm-3"], swaps: [], exclusive: "unknown" }]);
    }
  });

  it("keeps the kernel's address and port text: another text form is another path", async () => {
    const sim = createSimHost(dir, { version: "2.11" });
    sim.addForeignController({ traddr: "2001:0db8:0:0::1", subsysnqn: NQN });
    sim.addForeignController({ traddr: "FD00:0:0::3", subsysnqn: NQN, hostTraddr: "FD00::1" });
    sim.addForeignController({ traddr: "10.0.0.1", trsvcid: "04420", subsysnqn: NQN });
    const [a, b, c] = await readControllers(host, sim.settings);
    assert.deepEqual(a.identity, id("2001:0db8:0:0::1"));
    assert.equal(isPath(a, id("2001:db8::1")), false);
    assert.deepEqual(b.identity, id("FD00:0:0::3", { hostTraddr: "FD00::1" }));
    assert.equal(isPath(b, id("fd00::3", { hostTraddr: "fd00::1" })), false);
    assert.equal(c.identity, undefined, "port text 04420 is never one we connect with");
    assert.deepEqual(await findControllers(host, sim.settings, id("fd00::3", { hostTraddr: "fd00::1" })), []);
  });

  it("finds both controllers of a duplicate connect", async () => {
    const sim = createSimHost(dir, { version: "2.11" });
    sim.addForeignController({ traddr: "10.0.0.1", subsysnqn: NQN });
    sim.addForeignController({ traddr: "10.0.0.1", subsysnqn: NQN });
    assert.deepEqual((await findControllers(host, sim.settings, id("10.0.0.1"))).map((c) => c.device), ["nvme0", "nvme1"]);
  });

  it("finds one path among 1,000 foreign controllers, reading only the matching subsystem's controller", async function () {
    this.timeout(120_000);
    const sim = createSimHost(dir, { version: "2.11" });
    for (let i = 0; i < 1000; i++) {
      sim.addForeignController({ traddr: `10.1.${i >> 8}.${i & 255}`, subsysnqn: `nqn.2014-08.org.example:foreign${i % 50}` });
    }
    sim.addForeignController({ traddr: "10.9.9.9", subsysnqn: NQN });
    // How fast is measured in bench/ (sysfs scan); here: the right one, and the pre-filter really filters.
    const { reads, counting } = countingReads();
    const found = await findControllers(counting, sim.settings, id("10.9.9.9"));
    assert.deepEqual(found.map((c) => c.device), ["nvme1000"]);
    const addressReads = reads.filter((p) => p.endsWith("/address"));
    assert.equal(addressReads.length, 1, `address read of foreign controllers: ${addressReads.length}`);
  });

  it("reads no further than the host NQN of the subsystem's controllers connected as other host NQNs", async () => {
    const sim = createSimHost(dir, { version: "2.11" });
    // A hundred other attachments (each its own host NQN) on the same subsystem, and ours.
    for (let i = 0; i < 100; i++) {
      sim.addForeignController({ traddr: "10.9.9.9", subsysnqn: NQN, hostnqn: `nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-${String(i).padStart(12, "0")}` });
    }
    sim.addForeignController({ traddr: "10.9.9.9", subsysnqn: NQN });
    const { reads, counting } = countingReads();
    const found = await findControllers(counting, sim.settings, id("10.9.9.9"));
    assert.deepEqual(found.map((c) => c.device), ["nvme100"]);
    assert.equal(reads.filter((p) => !p.endsWith("/hostnqn")).length, reads.filter((p) => p.includes("/nvme100/")).length - 1, "only nvme100 is read beyond its hostnqn");
    assert.equal(reads.filter((p) => p.endsWith("/address")).length, 1);
  });
});
