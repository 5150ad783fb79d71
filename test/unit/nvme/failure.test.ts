import { strict as assert } from "node:assert";
import { classifyNvmeFailure, type NvmeFailureClass } from "../../../provider/host/nvme";
import { debianRuns, harnessRuns, kernelVmRuns, type RecordedRun } from "./reference";

/**
 * Expected class per harness scenario and version. Where 2.11 prints only libnvme's generic
 * "failed to write to nvme-fabrics device", the errno is lost: it is classed rejected-by-target (the
 * usual cause on a reachable target) and the reason says the evidence is ambiguous.
 */
const GENERIC_2_11: NvmeFailureClass = "rejected-by-target";
const expected: Record<string, NvmeFailureClass | Partial<Record<string, NvmeFailureClass>> & { all?: NvmeFailureClass }> = {
  "connect-already-in-sysfs": "already-connected",
  "connect-kernel-EALREADY": "already-connected",
  "connect-kernel-EALREADY-vv": "already-connected",
  "connect-kernel-ECONNREFUSED": "refused",
  "connect-kernel-ETIMEDOUT": { all: "timeout", "2.11": GENERIC_2_11 },
  "connect-kernel-EHOSTUNREACH": { all: "unreachable", "2.11": GENERIC_2_11 },
  "connect-kernel-ENETUNREACH": { all: "unreachable", "2.11": GENERIC_2_11 },
  "connect-kernel-ECONNRESET": { all: "unreachable", "2.11": GENERIC_2_11 },
  "connect-kernel-EIO": "rejected-by-target",
  "connect-kernel-EKEYREJECTED": "rejected-by-target",
  "connect-kernel-EINVAL": "invalid-argument",
  "connect-kernel-ENODEV": "invalid-argument",
  "connect-kernel-EADDRINUSE": "invalid-argument",
  "connect-kernel-EADDRNOTAVAIL": "invalid-argument",
  "connect-kernel-EOPNOTSUPP": "invalid-argument",
  "connect-kernel-ENOMEM": { all: "other", "2.11": GENERIC_2_11 },
  "connect-no-dev-nvme-fabrics": "no-nvme-fabrics-module",
  "connect-no-sysfs": "no-nvme-fabrics-module",
  "connect-bad-int": "invalid-argument",
  "connect-missing-nqn": "invalid-argument",
  "connect-missing-traddr": "invalid-argument",
  "connect-unknown-option": "invalid-argument",
  // 1.16 exits 234 silently (usage error); 2.3 exits 1 silently: nothing to go on.
  "connect-bad-format": { all: "invalid-argument", "2.3": "other" },
  // 1.16 dies of SIGSEGV without -t.
  "connect-missing-transport": { all: "invalid-argument", "1.16": "other" },
  "connect-already-in-sysfs-D": { all: "already-connected" },
  "discover-kernel-ECONNREFUSED": "refused",
  "discover-no-dev-nvme-fabrics": "no-nvme-fabrics-module",
};

function want(run: RecordedRun, scenario: string): NvmeFailureClass {
  const e = expected[scenario];
  if (typeof e === "string") return e;
  const w = e[run.version] ?? e.all;
  if (!w) throw new Error(`no expectation for ${run.label}`);
  return w;
}

describe("classifyNvmeFailure against the exact reference bytes", () => {
  const runs = harnessRuns((s) => s in expected).filter((r) => r.rc !== 0);
  it("covers every scenario in the table", () => {
    const seen = new Set(runs.map((r) => r.label.split("/")[1]));
    for (const s of Object.keys(expected)) if (s !== "connect-already-in-sysfs-D") assert.ok(seen.has(s), `no failing run for ${s}`);
  });
  for (const run of runs) {
    const scenario = run.label.split("/")[1];
    it(`${run.label} (rc ${run.rc}) -> ${want(run, scenario)}`, () => {
      const c = classifyNvmeFailure({ version: run.version, exitCode: run.rc, stderr: run.stderr });
      assert.equal(c.class, want(run, scenario), `stderr: ${JSON.stringify(run.stderr)}`);
      assert.equal(c.stderr, run.stderr, "raw stderr is kept");
      assert.equal(c.exitCode, run.rc);
      assert.ok(c.reason.length > 10);
    });
  }

  const realKernel: [string, NvmeFailureClass][] = [
    ["tcg_08_dup_connect", "already-connected"],
    ["tcg_09_dup_connect_plain", "already-connected"],
    ["tcg_10_dup_connect_verbose", "already-connected"],
    ["tcg_28_dup_connect_forced", "already-connected"],
    ["tcg_26_connect_bad_nqn", "rejected-by-target"],
    ["tcg_27_connect_no_listener", "refused"],
  ];
  for (const [file, cls] of realKernel) {
    it(`kernel-vm-2.3/${file} -> ${cls}`, () => {
      const run = kernelVmRuns(() => true).find((r) => r.label.includes(file));
      assert.ok(run, `missing ${file}`);
      assert.notEqual(run.rc, 0);
      assert.equal(classifyNvmeFailure({ version: "2.3", exitCode: run.rc, stderr: run.stderr }).class, cls);
    });
  }

  for (const run of debianRuns((n) => n.startsWith("connect-nomod") || n.startsWith("discover-nomod"))) {
    it(`${run.label} -> no-nvme-fabrics-module`, () => {
      assert.equal(classifyNvmeFailure({ version: "2.3", exitCode: run.rc, stderr: run.stderr }).class, "no-nvme-fabrics-module");
    });
  }

  it("1.x silent EALREADY is classified by its exit code only for 1.x", () => {
    assert.equal(classifyNvmeFailure({ version: "1.16", exitCode: 114, stderr: "" }).class, "already-connected");
    assert.equal(classifyNvmeFailure({ version: "1.16", exitCode: 70, stderr: "" }).class, "already-connected");
    assert.equal(classifyNvmeFailure({ version: "2.11", exitCode: 1, stderr: "" }).class, "other");
    assert.equal(classifyNvmeFailure({ exitCode: 114, stderr: "" }).class, "already-connected", "unknown version: errno-like codes count");
  });

  it("accepts libnvme 1.1-1.2's 'already connnected' typo", () => {
    assert.equal(classifyNvmeFailure({ version: "2.1", exitCode: 1, stderr: "already connnected\n" }).class, "already-connected");
  });

  it("no-nvme-cli when the executable is missing, timeout when we killed it", () => {
    assert.equal(classifyNvmeFailure({ exitCode: -1, stderr: "", notFound: true }).class, "no-nvme-cli");
    assert.equal(classifyNvmeFailure({ exitCode: 127, stderr: "sh: 1: nvme: not found\n" }).class, "no-nvme-cli");
    assert.equal(classifyNvmeFailure({ exitCode: -1, stderr: "", timedOut: true }).class, "timeout");
  });

  it("killed only when nvme-cli did not live to tell the kernel's answer; the kernel's ETIMEDOUT is an answer", () => {
    const killed = (input: Parameters<typeof classifyNvmeFailure>[0]) => classifyNvmeFailure(input).killed;
    assert.equal(killed({ exitCode: -1, stderr: "", timedOut: true }), true);
    assert.equal(killed({ exitCode: -1, stderr: "" }), true, "a signal");
    const etimedout = { version: "2.3", exitCode: 1, stderr: "Failed to write to /dev/nvme-fabrics: Connection timed out\n" };
    assert.deepEqual([classifyNvmeFailure(etimedout).class, killed(etimedout)], ["timeout", false]);
    assert.equal(killed({ version: "1.16", exitCode: 110, stderr: "" }), false);
    assert.equal(killed({ exitCode: -1, stderr: "", notFound: true }), false);
  });
});
