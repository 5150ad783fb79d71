import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { anchorsOf, checkLinks, markdownFiles } from "../support/markdown-links";
import { repoRoot } from "../support/paths";

/** README.md is for users: what does not fit goes to docs/ (issue 12). */
const README_MAX_BYTES = 15_360;

/** The documents a reader follows links through: README, docs/ and each provider folder's README. */
function documents(root: string): string[] {
  return [
    ...(fs.existsSync(path.join(root, "README.md")) ? ["README.md"] : []),
    ...markdownFiles(root, "docs", { recursive: false }),
    ...markdownFiles(root, "provider", { name: "README.md", recursive: true }),
  ];
}

function describeProblems(problems: ReturnType<typeof checkLinks>): string {
  return problems.map((p) => `${p.file}:${p.line}: (${p.target}) ${p.reason}`).join("\n");
}

describe("documentation", () => {
  const root = repoRoot();

  it(`README.md is at most ${README_MAX_BYTES} bytes`, () => {
    const size = fs.statSync(path.join(root, "README.md")).size;
    assert.ok(size <= README_MAX_BYTES, `README.md is ${size} bytes; move detail into docs/ and link it`);
  });

  it("every relative link in README.md, docs/*.md and provider/**/README.md resolves inside the repository", () => {
    const files = documents(root);
    assert.ok(files.includes("README.md") && files.some((f) => f.startsWith("docs")), `expected README.md and docs/*.md, found ${files.join(", ")}`);
    const problems = checkLinks(root, files);
    assert.equal(problems.length, 0, describeProblems(problems));
  });

  it("every test command .ci/run runs is one README.md tells a user to run", () => {
    const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");
    const commands = fs.readFileSync(path.join(root, ".ci", "run"), "utf8").split("\n").filter((l) => /^npm /.test(l));
    assert.ok(commands.includes("npm test"), `.ci/run runs no \`npm test\`: ${commands.join(", ")}`);
    for (const c of commands) assert.ok(readme.includes(c), `README.md does not name \`${c}\`, which .ci/run runs`);
  });

  it("every folder of provider/ says in a README.md what lives there", () => {
    const missing: string[] = [];
    const walk = (rel: string) => {
      for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
        if (!e.isDirectory()) continue;
        const child = path.join(rel, e.name);
        if (!fs.existsSync(path.join(root, child, "README.md"))) missing.push(child);
        walk(child);
      }
    };
    walk("provider");
    assert.deepEqual(missing, []);
  });

  describe("the link checker", () => {
    let dir: string;
    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), "pfnvme-docs-"));
      fs.mkdirSync(path.join(dir, "docs"));
      fs.mkdirSync(path.join(dir, "provider", "host"), { recursive: true });
      fs.writeFileSync(path.join(dir, "docs", "a.md"), "# Title\n\n## What `status` shows\n\n## Faults, and what you see\n");
      fs.writeFileSync(path.join(dir, "outside.md"), "");
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    const check = (readme: string) => {
      fs.writeFileSync(path.join(dir, "README.md"), readme);
      return checkLinks(dir, ["README.md"]);
    };

    it("accepts files, folders, anchors and external links", () => {
      const ok = [
        "[a](docs/a.md)",
        "[docs](docs/)",
        "[host](./provider/host)",
        "[status](docs/a.md#what-status-shows)",
        "[faults](docs/a.md#faults-and-what-you-see)",
        '[titled](docs/a.md "the a page")',
        "[web](https://example.com/x)",
        "[here](#readme)",
        "# Readme",
      ].join("\n");
      assert.deepEqual(check(ok), []);
    });

    it("reports a missing file, a missing anchor and a link out of the repository", () => {
      const problems = check(
        ["# R", "see [b](docs/b.md) and [x](docs/a.md#nope)", "[up](../outside.md) [abs](/etc/passwd)"].join("\n"),
      );
      assert.deepEqual(
        problems.map((p) => [p.line, p.target, p.reason]),
        [
          [2, "docs/b.md", "no such file or folder"],
          [2, "docs/a.md#nope", "no heading with anchor #nope"],
          [3, "../outside.md", "points outside the repository"],
          [3, "/etc/passwd", "points outside the repository"],
        ],
      );
    });

    it("checks links in docs/ relative to the page, and ignores code", () => {
      fs.writeFileSync(path.join(dir, "docs", "b.md"), "[a](a.md) [root](../README.md) [bad](../docs/zzz.md)\n```\n[code](nowhere.md)\n```\n`[span](nowhere.md)`\n");
      fs.writeFileSync(path.join(dir, "README.md"), "# R\n");
      assert.deepEqual(
        checkLinks(dir, documents(dir)).map((p) => `${p.file}:${p.line} ${p.target}`),
        [`${path.join("docs", "b.md")}:1 ../docs/zzz.md`],
      );
    });

    it("derives anchors as GitHub does (repeats numbered, code kept, punctuation dropped)", () => {
      assert.deepEqual([...anchorsOf("# A b\n## A b\n### `npm run demo` (first!)\n```\n# not a heading\n```\n")], ["a-b", "a-b-1", "npm-run-demo-first"]);
    });
  });
});
