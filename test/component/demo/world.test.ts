import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { startWorld } from "../../../provider/tools/demo/world";

/**
 * The demo world (emulator, simulated host, consumer project, provider process) makes its folders under
 * os.tmpdir(): closing it, or failing to start it, leaves nothing there. The test points TMPDIR at a
 * folder of its own for the call, so it looks only at what the world made.
 */
describe("demo world: its temporary folders", function () {
  this.timeout(60_000);
  let own: string;
  let saved: string | undefined;
  beforeEach(() => {
    own = fs.mkdtempSync(path.join(os.tmpdir(), "world-"));
    saved = process.env.TMPDIR;
    process.env.TMPDIR = own;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
    fs.rmSync(own, { recursive: true, force: true });
  });

  it("close() removes everything the world made", async () => {
    const w = await startWorld();
    assert.ok(fs.readdirSync(own).length >= 2, `the world's folders are not under TMPDIR: ${fs.readdirSync(own).join(", ")}`);
    await w.close();
    assert.deepEqual(fs.readdirSync(own), []);
  });

  it("a provider process that does not start: the error, and nothing left behind", async () => {
    await assert.rejects(startWorld({ env: { NODE_OPTIONS: "--require=/nonexistent/pfnvme-preload.js" } }), /dynamic-provider exited early/);
    assert.deepEqual(fs.readdirSync(own), []);
  });
});
