import { strict as assert } from "node:assert";
import * as path from "node:path";
import { startWorld, type World } from "../../provider/tools/demo/world";
import { repoRoot } from "../support/paths";
import { runProgram as run, type ProgramRun } from "../support/program";

/**
 * examples/attach-host, the program the root Pulumi.yaml runs, under pulumi.runtime.setMocks: its
 * registrations go to the real dynamic-provider host (as the engine would route them), with the
 * engine's step logic from provider/tools/demo/stack.ts. Covers the program side (closure of the resource
 * class, token, inputs, options, outputs) that the gRPC tests cannot see.
 */

const program = path.join(repoRoot(), "dist", "examples", "attach-host", "index.js");

function runProgram(w: World, config: Record<string, string>, mode: "up" | "preview"): Promise<ProgramRun> {
  return run(w.stack, { program, project: "attach-host", config, secretKeys: ["powerflex:password"] }, mode);
}

describe("program examples/attach-host under setMocks, provider in the real host", function () {
  this.timeout(60_000);
  let w: World;
  let config: Record<string, string>;
  beforeEach(async () => {
    w = await startWorld();
    config = {
      ...w.config,
      "attach-host:protectionDomain": "pd1",
      "attach-host:registerHost": "true",
      "attach-host:hostAccess": JSON.stringify(w.hostAccess),
      "attach-host:volumes": JSON.stringify([{ volume: "vol1" }]),
    };
  });
  afterEach(() => w.close());

  it("up, change, preview, destroy", async () => {
    const foreign = w.sim.addForeignController({ traddr: "10.9.9.9", subsysnqn: "nqn.2010-06.com.purestorage:flasharray.1" });

    const up = await runProgram(w, config, "up");
    const [reg] = up.registrations;
    assert.equal(reg.type, "pulumi-nodejs:dynamic/powerflex:NvmeAttachment");
    assert.equal(reg.name, "this-host");
    assert.deepEqual(reg.secretOutputs, ["gateway", "hostAccess"]);
    assert.ok(Buffer.byteLength(String(reg.inputs.__provider)) < 1024);
    assert.ok(!JSON.stringify(reg.inputs).includes(w.emulator.password), "the program never sees the password");
    assert.equal(up.exports.subsystemNqn, "nqn.1988-11.com.dell:powerflex:00:5fd1a0c900000001");
    assert.deepEqual(up.exports.paths, [
      "sdt-1 192.0.2.11:4420 created live",
      "sdt-1 198.51.100.11:4420 created live",
      "sdt-2 192.0.2.12:4420 created live",
    ]);
    assert.equal(w.sim.controllers().length, 4);
    assert.deepEqual(up.exports.devices, ["vol1 /dev/disk/by-id/nvme-eui.3bd1f7880000000164b94ec900000001"]);

    // A change of connect options: an update that cycles our paths one at a time.
    const changed = { ...config, "attach-host:ctrlLossTmo": "-1" };
    const preview = await runProgram(w, changed, "preview");
    assert.equal(preview.registrations.length, 1);
    assert.equal(w.sim.deletes().length, 0, "preview changes nothing");
    await runProgram(w, changed, "up");
    const connects = w.sim.calls().filter((c) => c[0] === "connect");
    assert.equal(connects.length, 6, "three first connects, three reconnects with the new option");
    assert.deepEqual(connects.slice(3).map((c) => c[c.indexOf("-l") + 1]), ["-1", "-1", "-1"]);

    const again = await runProgram(w, changed, "preview");
    assert.equal(again.registrations.length, 1);
    assert.deepEqual(await w.stack.preview({ "this-host": (w.stack.resources.values().next().value!.inputs) }), [{ name: "this-host", op: "same" }]);

    await w.stack.destroy();
    assert.deepEqual(w.sim.controllers().map((c) => c.device), [foreign]);
  });
});
