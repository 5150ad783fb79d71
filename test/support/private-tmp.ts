import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/**
 * Mocha root hooks (loaded with `--require` by `npm test`): the run gets one private temporary
 * directory, and every test, and every process a test starts, makes its temporary files in it
 * (os.tmpdir() reads TMPDIR; child processes inherit it). After the last test the run fails, naming
 * each file or directory a test left behind, and the directory is removed. It looks only inside what
 * this run made, so another run's leftovers in /tmp can neither fail nor hide ours.
 */

// Set when this file is loaded, before mocha loads any test file: a module may read os.tmpdir() at load.
// Short name: the SSH tests put control sockets in here, and a socket path must fit in 108 bytes.
const runDir = fs.mkdtempSync(path.join(os.tmpdir(), "pft-"));
process.env.TMPDIR = runDir;

/** What is left in `dir`: each entry, a directory with the count of what it holds. */
function leftovers(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).map((e) => {
    if (!e.isDirectory()) return e.name;
    const inside = fs.readdirSync(path.join(dir, e.name), { recursive: true }).length;
    return `${e.name}/ (${inside} inside)`;
  }).sort();
}

export const mochaHooks = {
  afterAll(): void {
    let left: string[];
    try {
      left = leftovers(runDir);
    } finally {
      fs.rmSync(runDir, { recursive: true, force: true });
    }
    if (left.length === 0) return;
    throw new Error(
      `tests left ${left.length} entr${left.length === 1 ? "y" : "ies"} in the run's temporary directory ${runDir} (now removed); ` +
        `each test must remove what it makes, in after/afterEach or finally:\n${left.map((p) => `  ${p}`).join("\n")}`,
    );
  },
};
