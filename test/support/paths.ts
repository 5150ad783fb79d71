import * as path from "node:path";

/** The repository root: where our package.json is. */
export { packageRoot as repoRoot } from "../../provider/package-root";
import { packageRoot as repoRoot } from "../../provider/package-root";

/** `test/fixtures/<sub>` in this repository: recorded outputs and payloads (see test/fixtures/README.md). */
export function fixturesDir(sub: string): string {
  return path.resolve(repoRoot(), "test", "fixtures", sub);
}
