import * as path from "node:path";

/** The repository root: where our package.json is. */
export { packageRoot as repoRoot } from "../../provider/package-root";
import { packageRoot as repoRoot } from "../../provider/package-root";

/** `../shared/reference/<sub>` beside the checkout (CI puts shared/ there). */
export function referenceDir(sub: string): string {
  return path.resolve(repoRoot(), "..", "shared", "reference", sub);
}
