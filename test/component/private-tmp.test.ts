import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { repoRoot } from "../support/paths";

/**
 * The guard `npm test` loads (test/support/private-tmp.ts): a mocha run whose test leaves something in
 * os.tmpdir() fails, naming what was left, and nothing stays behind; a clean run passes.
 */
describe("the run's private temporary directory (mocha root hooks)", function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "guard-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** mocha with the guard on one spec file; TMPDIR is a folder of this test's, to see what stays. */
  function runSpec(body: string): { status: number | null; output: string; left: string[] } {
    const spec = path.join(dir, "case.test.js");
    fs.writeFileSync(spec, `const fs = require("node:fs"), os = require("node:os"), path = require("node:path");\n${body}\n`);
    const tmp = fs.mkdtempSync(path.join(dir, "tmp-"));
    const r = spawnSync(process.execPath, [require.resolve("mocha/bin/mocha.js"), "--no-config", "--require", path.join(repoRoot(), "dist", "test", "support", "private-tmp.js"), spec], {
      env: { ...process.env, TMPDIR: tmp, OUTER_TMPDIR: tmp },
      encoding: "utf8",
      timeout: 50_000,
    });
    return { status: r.status, output: `${r.stdout}${r.stderr}`, left: fs.readdirSync(tmp) };
  }

  it("fails the run naming each file and folder a test left, and removes them", () => {
    const r = runSpec(`it("leaks", () => {
  fs.mkdirSync(path.join(fs.mkdtempSync(path.join(os.tmpdir(), "pfssh-")), "inner"));
  fs.writeFileSync(path.join(os.tmpdir(), "key"), "x");
});`);
    assert.notEqual(r.status, 0, r.output);
    assert.match(r.output, /tests left 2 entries in the run's temporary directory/);
    assert.match(r.output, /^ {2}key$/m);
    assert.match(r.output, /^ {2}pfssh-\w{6}\/ \(1 inside\)$/m);
    assert.deepEqual(r.left, [], "the run's directory is removed");
  });

  it("passes a run whose tests remove what they make; each test sees the run's directory as os.tmpdir()", () => {
    const r = runSpec(`it("cleans up", () => {
  if (path.dirname(os.tmpdir()) !== process.env.OUTER_TMPDIR) throw new Error("os.tmpdir() is " + os.tmpdir());
  fs.rmSync(fs.mkdtempSync(path.join(os.tmpdir(), "st-")), { recursive: true });
});`);
    assert.equal(r.status, 0, r.output);
    assert.deepEqual(r.left, []);
  });
});
