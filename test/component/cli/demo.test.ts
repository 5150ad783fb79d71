import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { repoRoot } from "../../support/paths";
import { alive } from "../../support/processes";

/**
 * Issue 15, finding 10: `powerflex-nvme demo` killed mid-run left its dynamic-provider child listening
 * and its /tmp/pfnvme-world-* and /tmp/pfnvme-project-* directories. The real bin in a child process, with
 * TMPDIR pointed at a directory of this test, so only what the demo made is looked at.
 */

const bin = path.join(repoRoot(), "bin", "powerflex-nvme.js");

/** Pids whose parent is `pid` (from /proc). */
function childrenOf(pid: number): number[] {
  return fs
    .readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        const stat = fs.readFileSync(`/proc/${d}/stat`, "utf8");
        return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid;
      } catch {
        return false; // gone meanwhile
      }
    })
    .map(Number);
}


describe("CLI: powerflex-nvme demo stopped by a signal", function () {
  this.timeout(90_000);
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(tmpdir(), "demo-signal-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const [signal, code] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
    it(`${signal} mid-story: the provider child ends, no temporary directory is left, exit ${code}`, async () => {
      const demo = spawn(process.execPath, [bin, "demo"], { env: { ...process.env, TMPDIR: dir }, stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      demo.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) => demo.on("exit", (c) => resolve(c)));
      // Mid-story: the first step has begun (the provider child is serving it).
      await new Promise<void>((resolve, reject) => {
        demo.stdout.on("data", (d: Buffer) => {
          stdout += d.toString();
          if (/^== 1\. /m.test(stdout)) resolve();
        });
        void exited.then((c) => reject(new Error(`demo ended before the story began (${c}): ${stderr}`)));
      });
      const providers = childrenOf(demo.pid!);
      assert.ok(providers.length > 0, "the dynamic-provider child is running");
      assert.ok(fs.readdirSync(dir).some((n) => n.startsWith("pfnvme-world-")) && fs.readdirSync(dir).some((n) => n.startsWith("pfnvme-project-")));

      demo.kill(signal);
      try {
        assert.equal(await exited, code, stderr);
        assert.match(stderr, new RegExp(`stopped by ${signal}; cleaned up`));
        // The simulated kernel's helper (a detached child too) leaves within its 500 ms sweep once the
        // host's directory is gone; allow it a few seconds, then every child must be gone.
        for (let waited = 0; providers.some(alive) && waited < 5_000; waited += 100) await new Promise((r) => setTimeout(r, 100));
        for (const pid of providers) assert.ok(!alive(pid), `child ${pid} of the demo still runs`);
        assert.deepEqual(fs.readdirSync(dir).filter((n) => n.startsWith("pfnvme-")), [], "no pfnvme-world-* or pfnvme-project-* left");
      } finally {
        for (const pid of providers.filter(alive)) process.kill(pid); // a failing run leaves nothing running either
      }
    });
  }
});
