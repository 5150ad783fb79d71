import { strict as assert } from "node:assert";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { createSimHost, type SimHost, type SimVersion } from "../../../provider/tools/simhost";
import { runSim } from "../../../provider/tools/simhost/sim";
import { harnessRun, kernelVmRuns, referenceDir, type RecordedRun } from "../../unit/nvme/reference";

/**
 * Replays recorded runs of the real nvme binaries against the simulator and compares stdout, stderr and
 * exit code byte for byte. The simulator runs in-process here (same code as bin/nvme; the executable
 * itself is exercised in simhost.test.ts) so that ~150 replays stay fast.
 *
 * Deliberate differences, not replayed:
 * - 1.16's `--help`/usage output and 2.x's help screens (ANSI bold): the provider never asks for help.
 * - `connect -o xml`, `-l abc`, unknown options: argument errors the adapter cannot produce (it validates).
 * - `disconnect -d nvme0,nvme1` on 2.11 dies of SIGSEGV; the simulator sends itself SIGSEGV (checked in
 *   simhost.test.ts), which in-process replay cannot show.
 * - `discover` prints a genctr of 1 and records from knobs, not the harness's binary log page.
 * - Path order inside one subsystem for 2.3/2.8: it follows sysfs directory order, which is not stable
 *   (research/nvme-cli.md §4.2). The harness's fake tree gave nvme1 before nvme0, the real kernel VM
 *   (kernel-vm-2.3/tcg_13) nvme0 before nvme1; the simulator follows the real kernel, so the harness
 *   multipath replay for those versions compares with paths sorted by name (everything else byte-exact).
 */

interface TreeSpecEntry {
  instance: number;
  argstr: string;
  src_addr?: string;
  no_src_addr?: string;
  state?: string;
}

/** Build the controllers of a harness-fake-sysfs-trees spec in the simulator. */
function loadTree(sim: SimHost, tree: string): void {
  const spec = JSON.parse(readFileSync(path.join(referenceDir, "harness-fake-sysfs-trees", `${tree}.spec.json`), "utf8")) as TreeSpecEntry[];
  for (const e of spec) {
    const kv = Object.fromEntries(e.argstr.split(",").map((p) => p.split("=") as [string, string]));
    const device = sim.addForeignController({
      traddr: kv.traddr,
      trsvcid: kv.trsvcid,
      subsysnqn: kv.nqn,
      hostnqn: kv.hostnqn,
      hostid: kv.hostid,
      hostTraddr: kv.host_traddr,
      hostIface: kv.host_iface,
      state: e.state ?? "live",
      cntrltype: kv.nqn === "nqn.2014-08.org.nvmexpress.discovery" ? "discovery" : "io",
      srcAddr: e.no_src_addr ? "" : e.src_addr,
    });
    assert.equal(device, `nvme${e.instance}`);
  }
}

/** argv of a recorded command line (`nvme a b c`): our commands never need shell quoting. */
function argvOf(run: RecordedRun): string[] {
  const words = run.command.split(/\s+/);
  assert.equal(words[0], "nvme");
  return words.slice(1);
}

/** Sort the Paths of each subsystem by name in a 2.x list-subsys JSON text. */
function sortPaths(text: string): unknown {
  const hosts = JSON.parse(text) as { Subsystems: { Paths: { Name: string }[] }[] }[];
  for (const h of hosts) for (const s of h.Subsystems) s.Paths.sort((a, b) => a.Name.localeCompare(b.Name));
  return hosts;
}

async function replay(sim: SimHost, run: RecordedRun): Promise<void> {
  const out = await runSim(sim.dir, argvOf(run));
  if (/list-subsys-json__multipath\/2\.(3|8)$/.test(run.label)) {
    assert.equal(out.code, run.rc);
    assert.deepEqual(sortPaths(out.stdout), sortPaths(run.stdout), run.label);
    return;
  }
  assert.deepEqual({ stdout: out.stdout, stderr: out.stderr, rc: out.code }, { stdout: run.stdout, stderr: run.stderr, rc: run.rc }, run.label);
}

const versions: SimVersion[] = ["1.16", "2.3", "2.8", "2.11"];
const errnoScenarios = ["EALREADY", "ECONNREFUSED", "ECONNRESET", "EHOSTUNREACH", "EINVAL", "EIO", "EKEYREJECTED", "ENETUNREACH", "ENODEV", "ENOMEM", "EOPNOTSUPP", "ETIMEDOUT", "EADDRINUSE", "EADDRNOTAVAIL"];

/** scenario -> tree it ran on (from harness/INDEX.md) and knobs to set. */
const scenarios: { name: string; tree: string; setup?: (sim: SimHost) => void }[] = [
  { name: "version", tree: "noctrl" },
  { name: "dash-dash-version", tree: "noctrl" },
  { name: "connect-ok-json", tree: "noctrl" },
  { name: "connect-ok-normal", tree: "noctrl" },
  { name: "connect-ok-default", tree: "noctrl" },
  { name: "connect-ok-no-trsvcid", tree: "noctrl" },
  { name: "connect-already-in-sysfs", tree: "one-ipv4" },
  { name: "connect-missing-nqn", tree: "noctrl" },
  { name: "connect-missing-traddr", tree: "noctrl" },
  { name: "connect-no-dev-nvme-fabrics", tree: "noctrl", setup: (s) => s.setPathKnobs("192.168.122.10", { fail: "no-nvme-fabrics-module" }) },
  ...errnoScenarios.map((e) => ({
    name: `connect-kernel-${e}`,
    tree: "noctrl",
    setup: (s: SimHost) => s.setPathKnobs("192.168.122.10:4420", { fail: e as never }),
  })),
  { name: "disconnect-dev-ok", tree: "one-ipv4" },
  { name: "disconnect-dev-devpath", tree: "one-ipv4" },
  { name: "disconnect-dev-missing", tree: "one-ipv4" },
  { name: "disconnect-dev-missing-noctrl", tree: "noctrl" },
  { name: "disconnect-noargs", tree: "one-ipv4" },
  { name: "disconnect-nqn-1", tree: "one-ipv4" },
  { name: "disconnect-nqn-2paths", tree: "multipath" },
  { name: "disconnect-nqn-nomatch", tree: "one-ipv4" },
  { name: "disconnect-nqn-noctrl", tree: "noctrl" },
  { name: "disconnect-all", tree: "multipath" },
  ...["noctrl", "one-ipv4", "one-ipv4-oldkernel", "multipath", "two-hosts", "ipv6-iface", "states", "states2", "with-discovery"].map((t) => ({
    name: `list-subsys-json__${t}`,
    tree: t,
  })),
];

describe("simulator replays the real binaries' bytes (harness/)", function () {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), "sim-replay-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  for (const s of scenarios) {
    for (const v of versions) {
      it(`${s.name} ${v}`, async () => {
        const sim = createSimHost(dir, { version: v });
        loadTree(sim, s.tree);
        s.setup?.(sim);
        await replay(sim, harnessRun(s.name, v));
      });
    }
  }

  it("disconnect -d removes the controller; disconnect -n and disconnect-all remove every match", async () => {
    const sim = createSimHost(dir, { version: "2.11" });
    loadTree(sim, "multipath");
    await runSim(sim.dir, ["disconnect", "-d", "nvme1"]);
    assert.deepEqual(sim.controllers().map((c) => c.device), ["nvme0"]);
    sim.addForeignController({ traddr: "10.0.0.9", subsysnqn: "nqn.2014-08.org.example:storage1", hostnqn: "nqn.2014-08.org.example:other-host", hostid: "0d4e8a7c-2f61-4b5e-9d3a-7c1e5b2a9f00" });
    const r = await runSim(sim.dir, ["disconnect", "-n", "nqn.2014-08.org.example:storage1"]);
    assert.equal(r.stdout, "NQN:nqn.2014-08.org.example:storage1 disconnected 2 controller(s)\n", "-n hits other host NQNs too");
    sim.addForeignController({ traddr: "10.0.0.9", subsysnqn: "nqn.2014-08.org.nvmexpress.discovery", trsvcid: 8009, cntrltype: "discovery" });
    await runSim(sim.dir, ["disconnect-all"]);
    assert.deepEqual(sim.controllers(), []);
  });
});

describe("simulator replays the real kernel session (kernel-vm-2.3/)", () => {
  let dir: string;
  before(() => (dir = mkdtempSync(path.join(tmpdir(), "sim-vm-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("connect, duplicate connect, second path, list-subsys, errors, disconnect, disconnect again", async () => {
    const sim = createSimHost(dir, { version: "2.3" });
    sim.updateKnobs((k) => ({
      ...k,
      srcAddr: "127.0.0.1",
      paths: { "127.0.0.3": { fail: "refused" }, "127.0.0.2": {} },
    }));
    const vm = (file: string) => {
      const run = kernelVmRuns(() => true).find((r) => r.label.includes(file));
      assert.ok(run, file);
      return run;
    };
    await replay(sim, vm("tcg_05_connect1"));
    await replay(sim, vm("tcg_08_dup_connect"));
    await replay(sim, vm("tcg_09_dup_connect_plain"));
    await replay(sim, vm("tcg_12_connect2"));
    await replay(sim, vm("tcg_13_list_subsys_2"));
    // The unknown NQN: the real target rejects the NVMe Connect with EIO.
    sim.setPathKnobs("127.0.0.2", { fail: "rejected-by-target" });
    await replay(sim, vm("tcg_26_connect_bad_nqn"));
    await replay(sim, vm("tcg_27_connect_no_listener"));
    await replay(sim, vm("tcg_21_disconnect1"));
    await replay(sim, vm("tcg_32_disconnect_nqn"));
    await replay(sim, vm("tcg_33_disconnect_again"));
  });
});
