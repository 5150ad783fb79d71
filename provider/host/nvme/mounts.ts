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
 * Mount tables to read. For the default, our own (/proc/self/mounts: paths as we see them) and the
 * host's (/proc/1/mounts, the init process's mount namespace: what our own misses when the provider runs
 * in a container or chroot; readable as root). An explicit mountsFile is read alone.
 */
export function mountTables(mountsFile: string): string[] {
  return mountsFile === "/proc/self/mounts" || mountsFile === "/proc/1/mounts" ? ["/proc/self/mounts", "/proc/1/mounts"] : [mountsFile];
}

/** One mount table from several: a device's mounts from the first table that shows it (our own paths first). */
export function mergeMountTables(tables: readonly MountEntry[][]): MountEntry[] {
  const out: MountEntry[] = [];
  const seen = new Set<string>();
  for (const table of tables) {
    const fresh = table.filter((m) => !seen.has(m.source));
    for (const m of fresh) out.push(m);
    for (const m of fresh) seen.add(m.source);
  }
  return out;
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
