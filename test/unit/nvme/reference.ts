import { existsSync, readdirSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { fixturesDir } from "../../support/paths";

/** test/fixtures/nvme-cli: recorded nvme-cli runs (see test/fixtures/README.md). */
export const referenceDir = fixturesDir("nvme-cli");

/** One recorded run of a real nvme binary. */
export interface RecordedRun {
  /** `harness/<scenario>/<version>`, `kernel-vm-2.3/<file>` or `debian12-host/<name>`. */
  readonly label: string;
  readonly version: string;
  readonly command: string;
  readonly stdout: string;
  readonly stderr: string;
  readonly rc: number;
}

export const harnessVersions = ["1.16", "2.3", "2.8", "2.11"] as const;

/** Every harness run whose scenario name passes `filter`, for the four versions we support. */
export function harnessRuns(filter: (scenario: string) => boolean): RecordedRun[] {
  const base = path.join(referenceDir, "harness");
  const out: RecordedRun[] = [];
  for (const scenario of readdirSync(base).filter((s) => s !== "INDEX.md" && filter(s)).sort()) {
    for (const version of harnessVersions) {
      const file = (ext: string) => path.join(base, scenario, `${version}.${ext}`);
      if (!existsSync(file("rc"))) continue;
      out.push({
        label: `harness/${scenario}/${version}`,
        version,
        command: readFileSync(file("cmd"), "utf8").split("\n")[0],
        stdout: readFileSync(file("stdout"), "utf8"),
        stderr: readFileSync(file("stderr"), "utf8"),
        rc: Number(readFileSync(file("rc"), "utf8").trim()),
      });
    }
  }
  return out;
}

/** One harness run (throws when absent). */
export function harnessRun(scenario: string, version: string): RecordedRun {
  const run = harnessRuns((s) => s === scenario).find((r) => r.version === version);
  if (!run) throw new Error(`no harness run ${scenario}/${version}`);
  return run;
}

/**
 * The kernel-vm-2.3 transcripts: `$ <cmd>`, `--- stdout ---`, …, `--- stderr ---`, …,
 * `--- exit code: N   (t s)`.
 */
export function kernelVmRuns(filter: (command: string) => boolean): RecordedRun[] {
  const base = path.join(referenceDir, "kernel-vm-2.3");
  const out: RecordedRun[] = [];
  for (const name of readdirSync(base).filter((f) => /^tcg_\d+_.*\.txt$/.test(f)).sort()) {
    const text = readFileSync(path.join(base, name), "utf8");
    const m = /^\$ (.*)\n--- stdout ---\n([\s\S]*?)--- stderr ---\n([\s\S]*?)--- exit code: (-?\d+)/.exec(text);
    if (!m || !filter(m[1])) continue;
    out.push({ label: `kernel-vm-2.3/${name}`, version: "2.3", command: m[1], stdout: m[2], stderr: m[3], rc: Number(m[4]) });
  }
  return out;
}

/** The debian12-host runs (2.3 without NVMe modules). */
export function debianRuns(filter: (name: string) => boolean): RecordedRun[] {
  const base = path.join(referenceDir, "debian12-host");
  const commands = new Map<string, string>();
  for (const line of readFileSync(path.join(base, "COMMANDS.txt"), "utf8").split("\n")) {
    const m = /^(\S+)\s{2,}(nvme .*?)(\s{2,}.*)?$/.exec(line);
    if (m) commands.set(m[1], m[2]);
  }
  return readdirSync(base)
    .filter((f) => f.endsWith(".rc") && filter(f.slice(0, -3)))
    .sort()
    .map((f) => {
      const name = f.slice(0, -3);
      return {
        label: `debian12-host/${name}`,
        version: "2.3",
        command: commands.get(name) ?? name,
        stdout: readFileSync(path.join(base, `${name}.stdout`), "utf8"),
        stderr: readFileSync(path.join(base, `${name}.stderr`), "utf8"),
        rc: Number(readFileSync(path.join(base, f), "utf8").trim()),
      };
    });
}
