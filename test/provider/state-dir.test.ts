import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { Stack } from "../../provider/tools/demo/stack";
import { PROVIDER_SOURCE } from "../../provider/pulumi/resource";
import { startWorld, type World } from "../../provider/tools/demo/world";

/**
 * Issue 15, finding 1: one host, one ledger. Changing `hostAccess.stateDir` was a create-before-delete
 * replace: the new attachment read an empty ledger, adopted the live controllers as external, and the old
 * one's delete cut them (up succeeded; the host had 0 controllers). Through the real dynamic-provider host.
 */

const PD1_SDT_IPS = ["192.0.2.11", "192.0.2.12", "198.51.100.11"];

describe("provider over gRPC: the host's one ledger location (hostAccess.stateDir)", function () {
  this.timeout(60_000);
  let w: World;
  beforeEach(async () => (w = await startWorld()));
  afterEach(async () => w.close());

  const ours = () => w.sim.controllers().filter((c) => c.subsysnqn.includes("powerflex")).map((c) => c.traddr).sort();
  const home = () => w.sim.settings.stateDir;
  const stateDirOf = () => ([...w.stack.resources.values()][0].outputs.hostSettings as { stateDir: string }).stateDir;

  it("another stateDir is no replace; it is refused while the host's ledger holds anything, and moving the file moves it", async () => {
    const args = { protectionDomain: "pd1", host: { register: true }, hostAccess: w.hostAccess };
    await w.stack.up({ a: args });
    assert.deepEqual(ours(), PD1_SDT_IPS);
    const elsewhere = path.join(w.sim.dir, "elsewhere");
    const moved = { ...args, hostAccess: { ...w.hostAccess, stateDir: elsewhere } };

    assert.deepEqual(await w.stack.preview({ a: moved }), [{ name: "a", op: "update" }], "the same attachment: no replace");
    await assert.rejects(w.stack.up({ a: moved }), (err: Error) => {
      assert.match(err.message, new RegExp(`this host's ledger is ${home()}/ledger\\.json \\(its fixed place\\), which holds 3 paths, 1 registered host object`));
      assert.match(err.message, new RegExp(`Set hostAccess\\.stateDir to ${home()}\\. To move the ledger instead: .*move ${home()}/ledger\\.json to ${elsewhere}/ledger\\.json`));
      return true;
    });
    assert.deepEqual(ours(), PD1_SDT_IPS, "not 0 controllers: nothing was cut");
    assert.equal(stateDirOf(), home());
    assert.equal(w.sim.calls().filter((c) => c[0] === "disconnect").length, 0);

    // A second stack on the host with its own state dir: refused before it connects anything.
    const other = new Stack(w.host, PROVIDER_SOURCE);
    await assert.rejects(other.up({ b: moved }), /this host's ledger is .* which holds 3 paths/);
    assert.equal(w.sim.calls().filter((c) => c[0] === "connect").length, 3, "b connected nothing");

    // The operator moves the file: the attachment follows with an update, and the home names the new place.
    fs.mkdirSync(elsewhere, { mode: 0o700 });
    fs.renameSync(path.join(home(), "ledger.json"), path.join(elsewhere, "ledger.json"));
    assert.deepEqual(await w.stack.up({ a: moved }), [{ name: "a", op: "update" }]);
    assert.equal(stateDirOf(), elsewhere);
    assert.equal(fs.readFileSync(path.join(home(), "state-dir"), "utf8"), `${elsewhere}\n`);
    assert.deepEqual(ours(), PD1_SDT_IPS);
    // Now the fixed place is the one refused: an attachment there would be a second truth.
    await assert.rejects(other.up({ b: args }), new RegExp(`this host's ledger is ${elsewhere}/ledger\\.json \\(named by ${home()}/state-dir\\)`));

    await w.stack.destroy();
    assert.deepEqual(ours(), [], "destroy through the moved ledger removes what the attachment made");
  });
});
