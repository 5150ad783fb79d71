import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { repoRoot } from "../../support/paths";
import { tsFiles } from "../../support/sources";

/**
 * The promise of this package: teardown deletes the one kernel object we made through its own
 * `delete_controller` (nvme/delete.ts), checked and pinned. No source file may be able to run nvme-cli's
 * `disconnect` at all: not `disconnect-all` or `disconnect -n/--nqn` (both hit every host NQN's controllers
 * of a subsystem, or everything), and not `disconnect -d` either (it acts on whatever has the name by then). The one exception is provider/tools/simhost/, the nvme-cli simulator: it must
 * *implement* those commands so that tests can prove we never send them (its calls.log records every argv).
 */
describe("no code path can run a broad disconnect", () => {
  const root = path.join(repoRoot(), "provider");
  const files = tsFiles(root).filter((f) => !f.startsWith(path.join(root, "tools", "simhost") + path.sep));
  it("scans the provider sources", () => assert.ok(files.length > 5));
  for (const file of files) {
    it(path.relative(repoRoot(), file), () => {
      const text = readFileSync(file, "utf8");
      assert.ok(!text.includes("disconnect-all"), "mentions disconnect-all");
      assert.doesNotMatch(text, /["'`]disconnect["'`]\s*,\s*["'`](-n|--nqn)/, "builds disconnect -n");
      assert.doesNotMatch(text, /["'`]--nqn(=|["'`])/, "passes --nqn as an argument");
      assert.doesNotMatch(text, /["'`]disconnect\s+(-n|--nqn)\b/, "builds a disconnect -n command string");
      assert.doesNotMatch(text, /["'`]disconnect["'`]\s*,\s*["'`]-/, "builds an nvme disconnect argv");
    });
  }
});
