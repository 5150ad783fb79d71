/** One line of a /proc/self/mounts style table. */
export interface MountEntry {
  readonly source: string;
  readonly mountpoint: string;
  readonly fstype: string;
}

/** Undo the octal escapes the kernel uses for space, tab, newline and backslash in mount paths. */
function unescapeMount(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/**
 * Mount tables to read, first readable wins. For the default, the host's (/proc/1/mounts: the init
 * process's mount namespace) before our own (/proc/self/mounts, which misses the host's mounts when the
 * provider runs in a container); /proc/1 needs root, so without it our own is read.
 */
export function mountTables(mountsFile: string): string[] {
  return mountsFile === "/proc/self/mounts" || mountsFile === "/proc/1/mounts" ? ["/proc/1/mounts", "/proc/self/mounts"] : [mountsFile];
}

/** Block devices with an active swap area in a /proc/swaps table (kernel names, e.g. `nvme0n1p2`). */
export function parseSwaps(text: string): string[] {
  return text
    .split("\n")
    .slice(1)
    .map((line) => unescapeMount(line.trim().split(/\s+/)[0] ?? ""))
    .filter((f) => f.startsWith("/dev/"))
    .map((f) => f.slice("/dev/".length));
}

/** Parse /proc/self/mounts (fields: source, mount point, type, options, dump, pass). */
export function parseMounts(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 3 || f[0] === "") continue;
    out.push({ source: unescapeMount(f[0]), mountpoint: unescapeMount(f[1]), fstype: f[2] });
  }
  return out;
}
