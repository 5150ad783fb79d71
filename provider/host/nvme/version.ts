/** An nvme-cli version as `nvme version` reports it. */
export interface NvmeVersion {
  readonly major: number;
  readonly minor: number;
  /** Third number when printed (`2.9.1`), else undefined. */
  readonly patch?: number;
  /** The version text as printed after `nvme version ` (e.g. `2.11`), without the `(git …)` part. */
  readonly text: string;
  /** libnvme version text (2.x only), e.g. `1.11.1`. */
  readonly libnvme?: string;
}

/**
 * Parse `nvme version` / `nvme --version`: 1.x prints `nvme version 1.16`; 2.x prints
 * `nvme version 2.3 (git 2.3)` then `libnvme version 1.3 (git 1.3)`. Distros may append text.
 * Throws when there is no version line (not nvme-cli, or an unexpected build).
 */
export function parseNvmeVersion(stdout: string): NvmeVersion {
  const m = /^nvme version (\d+)\.(\d+)(?:\.(\d+))?/m.exec(stdout);
  if (!m) {
    throw new Error(`"nvme version" printed no version line (got ${JSON.stringify(stdout.slice(0, 200))}); is this nvme-cli?`);
  }
  const lib = /^libnvme version (\d+\.\d+(?:\.\d+)?)/m.exec(stdout);
  return {
    major: Number(m[1]),
    minor: Number(m[2]),
    patch: m[3] === undefined ? undefined : Number(m[3]),
    text: m[3] === undefined ? `${m[1]}.${m[2]}` : `${m[1]}.${m[2]}.${m[3]}`,
    libnvme: lib?.[1],
  };
}

/** True when `v` is at least `major.minor`. */
export function versionAtLeast(v: NvmeVersion, major: number, minor: number): boolean {
  return v.major > major || (v.major === major && v.minor >= minor);
}
