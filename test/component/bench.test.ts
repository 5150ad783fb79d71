import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { repoRoot } from "../support/paths";

function node(args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, args, { cwd: repoRoot(), maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) =>
      resolve({ exitCode: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

// The benchmark runs end to end and prints its figures; how fast is for `npm run bench` to say, not a test.
describe("npm run bench (smoke, tiny sizes)", function () {
  this.timeout(300_000);

  it("prints a table and, last, one JSON object with every p1-p5 figure as a number", async () => {
    const r = await node(["dist/bench/main.js", "--json", "--p4-sizes", "2", "--p5-sizes", "3", "--creates", "2", "--repeat", "1", "--latency-ms", "50"]);
    assert.equal(r.exitCode, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    assert.match(r.stdout, /^P1 create with 8 paths/m);
    const figures = JSON.parse(lines[lines.length - 1]) as Record<string, unknown>;
    for (const key of [
      "p1_serial_ratio",
      "p2_rest_calls_per_create",
      "p2_logins_for_50",
      "p3_provider_bytes",
      "p4_overhead_ms_per_resource",
      "p4_rss_mb",
      "p5_delete_ms_1000_foreign",
      "p5_foreign_touched",
    ]) {
      assert.equal(typeof figures[key], "number", `${key} in ${lines[lines.length - 1]}`);
      assert.ok(Number.isFinite(figures[key]), key);
    }
    assert.equal(figures["p2_logins_for_50"], 1);
    assert.equal(figures["p5_foreign_touched"], 0);
    assert.ok((figures["p3_provider_bytes"] as number) > 0);
  });

  it("rejects a bad size with the option's name", async () => {
    const r = await node(["dist/bench/main.js", "--p5-sizes", "10,-1"]);
    assert.equal(r.exitCode, 2);
    assert.match(r.stderr, /--p5-sizes: expected whole numbers/);
  });
});
