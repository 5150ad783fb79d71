import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { repoRoot } from "../../support/paths";
import { tsFiles } from "../../support/sources";

/**
 * One rule, one place: whether a controller is a path is decided by `isPath` in nvme/identity.ts, and
 * nowhere else (three matchers with three rules once took a foreign `FD00:0:0::3` for our `fd00::3`).
 * The simulated host is left out: it plays the kernel, whose own rule it must imitate.
 */
describe("one identity matcher (nvme/identity.ts isPath)", () => {
  const root = path.join(repoRoot(), "provider");
  const identityFile = path.join(root, "host", "nvme", "identity.ts");
  const files = tsFiles(root).filter((f) => f !== identityFile && !f.startsWith(path.join(root, "tools", "simhost") + path.sep));
  const rel = (f: string) => path.relative(root, f);

  it("scans the provider sources", () => assert.ok(files.length > 5));

  // The nvme-cli adapter no longer matches controllers: deletes go through the pinned object (nvme/delete.ts).
  it("the planner, the sysfs reader and status use it", () => {
    for (const f of ["host/plan.ts", "host/nvme/sysfs.ts", "host/status.ts"]) {
      assert.match(readFileSync(path.join(root, f), "utf8"), /\bisPath\(/, `${f} does not call isPath`);
    }
  });

  for (const file of files) {
    it(`${rel(file)} has no matcher of its own`, () => {
      const text = readFileSync(file, "utf8");
      assert.doesNotMatch(text, /identityKey\([^)]*\)\s*[!=]==|[!=]==\s*identityKey\(/, "compares identity keys");
      assert.doesNotMatch(text, /\.identity\??\.(traddr|trsvcid|hostid)\s*[!=]==/, "compares a controller's identity field by field");
      assert.doesNotMatch(text, /\b(matchesIdentity|sameIdentity)\b/, "names one of the old matchers");
    });
  }
});
