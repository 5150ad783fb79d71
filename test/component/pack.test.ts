import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { repoRoot } from "../support/paths";

/**
 * What `npm pack` / `npm publish` would ship: the compiled provider with its typings, the command, and
 * the user documents; no tests, benchmarks, examples, build caches or the kernel VM cache. Run on the
 * build in dist/ (npm test builds first); --ignore-scripts: no second build while the suite runs.
 */
describe("npm package contents (npm pack --dry-run)", function () {
  this.timeout(60_000);
  const root = repoRoot();
  let files: string[];
  before(() => {
    const out = execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    files = (JSON.parse(out) as { files: { path: string }[] }[])[0].files.map((f) => f.path).sort();
  });
  const pkg = () => JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as Record<string, any>;

  it("holds every entry point package.json names: main, types, each export, the bin", () => {
    const p = pkg();
    const targets = [p.main, p.types, ...Object.values(p.bin as Record<string, string>)];
    for (const e of Object.values(p.exports as Record<string, string | Record<string, string>>)) targets.push(...(typeof e === "string" ? [e] : Object.values(e)));
    for (const t of targets) assert.ok(files.includes(path.posix.normalize(t)), `${t} is not in the package`);
  });

  it("holds the user documents that exist: README.md, LICENSE, CHANGELOG.md, docs/", () => {
    assert.ok(files.includes("README.md"));
    for (const f of ["LICENSE", "CHANGELOG.md"]) if (fs.existsSync(path.join(root, f))) assert.ok(files.includes(f), `${f} is not in the package`);
    const docs = fs.existsSync(path.join(root, "docs")) ? fs.readdirSync(path.join(root, "docs"), { recursive: true, encoding: "utf8" }) : [];
    for (const d of docs.filter((d) => fs.statSync(path.join(root, "docs", d)).isFile())) assert.ok(files.includes(`docs/${d}`), `docs/${d} is not in the package`);
  });

  it("holds nothing else: no tests, benchmarks, examples, sources, build caches, VM cache or sourcemaps of tests", () => {
    const allowed = /^(package\.json|README\.md|LICENSE|CHANGELOG\.md|bin\/[^/]+\.js|docs\/.+|dist\/provider\/.+\.(js|d\.ts|js\.map))$/;
    assert.deepEqual(files.filter((f) => !allowed.test(f)), []);
    assert.deepEqual(files.filter((f) => /tsbuildinfo|\.vm-cache|(^|\/)test\/|(^|\/)bench\/|(^|\/)examples\/|node_modules/.test(f)), []);
  });

  it("ships no compiled file whose source is gone (a stale dist/ from an earlier layout)", () => {
    const stale = files
      .filter((f) => f.startsWith("dist/provider/") && f.endsWith(".js"))
      .filter((f) => !fs.existsSync(path.join(root, f.slice("dist/".length).replace(/\.js$/, ".ts"))));
    assert.deepEqual(stale, [], "rebuild from clean (rm -rf dist && npm run build) before packing");
  });
});
