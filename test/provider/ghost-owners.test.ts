import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { Stack } from "../../provider/tools/demo/stack";
import { PROVIDER_SOURCE } from "../../provider/pulumi/resource";
import { startWorld, type World } from "../../provider/tools/demo/world";

/**
 * Issue 15, finding 4: when refresh dropped a missing path or a whole resource, the ledger kept that
 * owner, so a later attachment's own controller on the path survived its destroy, and `status` showed it
 * held by a deleted resource. Through the real dynamic-provider host.
 */

describe("provider over gRPC: refresh leaves no ghost owner", function () {
  this.timeout(60_000);
  let w: World;
  beforeEach(async () => (w = await startWorld()));
  afterEach(async () => w.close());

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
});
