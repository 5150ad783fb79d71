import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { Stack } from "../../provider/tools/demo/stack";
import { PROVIDER_SOURCE } from "../../provider/pulumi/resource";
import { ProviderCallError } from "../../provider/tools/demo/provider-host";
import { startWorld, type World } from "../../provider/tools/demo/world";

/**
 * Issue 15, finding 4: when refresh dropped a missing path or a whole resource, the ledger kept that
 * owner, so a later attachment's own controller on the path survived its destroy, and `status` showed it
 * held by a deleted resource; the same ghost came from an update and a destroy of one resource racing, and
 * refresh left a dropped resource's volume holds and host registration behind. Through the real
 * dynamic-provider host.
 */

const VOL1 = "3bd1f78800000001";
const VOL2 = "3bd1f78800000002";

describe("provider over gRPC: refresh leaves no ghost owner", function () {
  this.timeout(60_000);
  let w: World;
  beforeEach(async () => (w = await startWorld()));
  afterEach(async () => w.close());

  const ledger = () => JSON.parse(fs.readFileSync(path.join(w.sim.settings.stateDir, "ledger.json"), "utf8"));
  /** Every place the ledger names `owner` (path records, volume holds): empty when it holds nothing. */
  const heldBy = (owner: string) => {
    const l = ledger();
    return [
      ...Object.values(l.paths as Record<string, { identity: { traddr: string }; owners: string[] }>).filter((r) => r.owners.includes(owner)).map((r) => `path ${r.identity.traddr}`),
      ...Object.entries(l.volumes as Record<string, { owners: string[] }>).filter(([, h]) => h.owners.includes(owner)).map(([k]) => `volume ${k}`),
    ];
  };
  const mapped = (volumeId: string) => (w.emulator.state.volumes.get(volumeId)!["mappedSdcInfo"] as unknown[]).length > 0;
  const owners = () => {
    const ledger = JSON.parse(fs.readFileSync(path.join(w.sim.settings.stateDir, "ledger.json"), "utf8"));
    return Object.fromEntries(Object.values(ledger.paths as Record<string, { identity: { traddr: string }; owners: string[] }>).map((r) => [r.identity.traddr, r.owners]));
  };
  const device = (traddr: string) => w.sim.controllers().find((c) => c.traddr === traddr)?.device;

  for (const scope of ["a missing path", "a whole resource"] as const) {
    it(`${scope} dropped by refresh: the owner leaves the ledger, and a later attachment's own controller goes with its destroy`, async () => {
      const args = { protectionDomain: "pd1", host: { register: true }, hostAccess: w.hostAccess };
      await w.stack.up({ a: args });
      const aId = [...w.stack.resources.values()][0].id;
      const gone = scope === "a whole resource" ? ["192.0.2.11", "192.0.2.12", "198.51.100.11"] : ["192.0.2.12"];
      for (const traddr of gone) execFileSync(w.sim.settings.nvmeCli, ["disconnect", "-d", device(traddr)!]); // someone else removed it
      await w.stack.refresh();
      assert.equal(w.stack.resources.size, scope === "a whole resource" ? 0 : 1);
      for (const traddr of gone) assert.ok(!(owners()[traddr] ?? []).includes(aId), `${aId} still holds ${traddr}: ${JSON.stringify(owners())}`);

      const other = new Stack(w.host, PROVIDER_SOURCE);
      await other.up({ b: args });
      const made = device("192.0.2.12");
      assert.ok(made);
      await other.destroy();
      for (const traddr of gone) assert.equal(device(traddr), undefined, `b made ${traddr} and nobody else holds it: b's destroy removes it`);
      await w.stack.destroy();
    });
  }

  describe("an update and a destroy of one resource race (two `pulumi` processes on one stack)", () => {
    const args = () => ({ protectionDomain: "pd1", host: { register: true }, hostAccess: w.hostAccess, volumes: [{ volume: "vol1" }] });
    const more = () => ({ ...args(), volumes: [{ volume: "vol1" }, { volume: "vol2" }] });

    it("an update that runs after the destroy is refused, naming the attachment and what to do; it connects nothing", async () => {
      const plain = { protectionDomain: "pd1", host: { register: true }, hostAccess: w.hostAccess };
      await w.stack.up({ a: plain });
      const stale = [...w.stack.resources.values()][0]; // what a stale `pulumi up` read before the destroy
      await w.stack.destroy();
      assert.equal(w.sim.controllers().length, 0);
      const inputs = (await w.host.check(stale.urn, stale.inputs, { ...plain, minPaths: 2, __provider: PROVIDER_SOURCE })).inputs;
      const calls = w.sim.calls().length;
      await assert.rejects(w.host.update(stale.urn, stale.id, stale.outputs, stale.inputs, inputs), (err: unknown) => {
        assert.ok(err instanceof ProviderCallError, String(err));
        assert.match(err.message, new RegExp(`attachment ${stale.id} has ended on this host \\(destroyed, or dropped by refresh, at [0-9T:.Z-]+\\)`));
        assert.match(err.message, /pulumi destroy/);
        assert.match(err.message, /Nothing was changed/);
        return true;
      });
      assert.deepEqual(heldBy(stale.id), [], "no ghost: the ledger holds nothing for the destroyed attachment");
      assert.deepEqual(w.sim.controllers(), [], "nothing connected for it");
      assert.deepEqual(w.sim.calls().slice(calls).filter((c) => c[0] === "connect"), []);
    });

    it("a destroy working from the state read before an update lets go of what that update added too (a path and a volume)", async () => {
      await w.stack.up({ a: args() });
      const stale = [...w.stack.resources.values()][0]; // what the destroy read
      w.emulator.state.addSdt({ name: "sdt-4", ipList: [{ ip: "192.0.2.14", role: "HostOnly" }], nvmePort: 4420 });
      await w.stack.up({ a: more() }); // the other process's update: a fourth path and vol2
      assert.ok(device("192.0.2.14"));
      assert.equal(mapped(VOL2), true);
      await w.host.delete(stale.urn, stale.id, stale.outputs, stale.inputs);
      assert.deepEqual(heldBy(stale.id), [], "no ghost: the destroy let go of everything the ledger held for it");
      assert.deepEqual(w.sim.controllers(), [], "every path it held is disconnected, also the one the update added");
      assert.equal(mapped(VOL1), false);
      assert.equal(mapped(VOL2), false, "the volume the update mapped is unmapped too");
    });
  });

  it("refresh drops a whole resource that held a volume and registered its host: its holds leave the ledger, PowerFlex is not changed, and the warning names the mapping and what to do", async () => {
    const args = { protectionDomain: "pd1", host: { register: true }, hostAccess: w.hostAccess, volumes: [{ volume: "vol1" }] };
    await w.stack.up({ a: args });
    const a = [...w.stack.resources.values()][0];
    const hostObjectId = (a.outputs as { hostObjectId: string }).hostObjectId;
    for (const c of w.sim.controllers()) execFileSync(w.sim.settings.nvmeCli, ["disconnect", "-d", c.device]); // someone else removed them
    const from = w.host.stdout.length;
    await w.stack.refresh();
    assert.equal(w.stack.resources.size, 0);
    assert.deepEqual(heldBy(a.id), [], "the dropped attachment holds nothing in the ledger");
    assert.deepEqual(ledger().hosts, {}, "nor does the ledger remember its host registration");
    assert.equal(mapped(VOL1), true, "refresh does not change PowerFlex");
    assert.ok(w.emulator.state.hosts.has(hostObjectId), "nor removes the host object");
    const said = w.host.stdout.slice(from).join("");
    assert.match(said, new RegExp(`warning: volume vol1 stays mapped to the NVMe host object ${hostObjectId} in PowerFlex`));
    assert.match(said, /unmap it in PowerFlex/);
    assert.match(said, new RegExp(`warning: the NVMe host object ${hostObjectId} this attachment registered stays in PowerFlex`));

    // A later attachment finds the mapping and the host object there: it adopts both and leaves both.
    const other = new Stack(w.host, PROVIDER_SOURCE);
    await other.up({ b: args });
    const b = [...other.resources.values()][0];
    assert.deepEqual((b.outputs as { mappedVolumes: { origin: string }[] }).mappedVolumes.map((v) => v.origin), ["adopted"]);
    await other.destroy();
    assert.deepEqual(heldBy(b.id), []);
    assert.equal(mapped(VOL1), true, "not b's to unmap: it was there before b");
    assert.deepEqual(w.sim.controllers(), []);
  });
});
