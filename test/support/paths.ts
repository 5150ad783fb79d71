import * as fs from "node:fs";
import * as path from "node:path";

/** The repository root: the nearest directory above this file with our package.json. */
export function repoRoot(): string {
  let dir = __dirname;
  for (;;) {
    const pkg = path.join(dir, "package.json");
    if (fs.existsSync(pkg) && JSON.parse(fs.readFileSync(pkg, "utf8")).name === "pulumi-powerflex-nvme") return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no pulumi-powerflex-nvme package.json above ${__dirname}`);
    dir = up;
  }
}

/** `../shared/reference/<sub>` beside the checkout (CI puts shared/ there). */
export function referenceDir(sub: string): string {
  return path.resolve(repoRoot(), "..", "shared", "reference", sub);
}
