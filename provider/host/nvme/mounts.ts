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
