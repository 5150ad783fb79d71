import * as fs from "node:fs";
import * as path from "node:path";

/** This package's root (where its package.json is), found from the compiled file's location. */
export function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    const pkg = path.join(dir, "package.json");
    if (fs.existsSync(pkg) && JSON.parse(fs.readFileSync(pkg, "utf8")).name === "pulumi-powerflex-nvme") return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no pulumi-powerflex-nvme package.json above ${__dirname}`);
    dir = up;
  }
}
