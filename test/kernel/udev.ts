/**
 * The VM has no udev (nor has this machine: no systemd-udevd), so nothing makes `/dev/disk/by-id`. This
 * stands in for udev's 60-persistent-storage.rules for NVMe namespaces, run when a test would wait for
 * `udevadm settle`: each namespace head `nvme<S>n<N>` gets `/dev/disk/by-id/nvme-<wwid>` -> `../../<head>`,
 * with `wwid` read from the kernel (`eui.<nguid>` for a namespace with an NGUID and no UUID), and links of
 * heads that went away are removed. Hidden multipath paths (`nvme<S>c<C>n<N>`) get none, as with udev.
 */
import * as fs from "node:fs";
import * as path from "node:path";

export const BY_ID = "/dev/disk/by-id";

export function settleByIdLinks(): void {
  fs.mkdirSync(BY_ID, { recursive: true });
  const want = new Map<string, string>();
  for (const head of fs.readdirSync("/sys/block").filter((n) => /^nvme\d+n\d+$/.test(n))) {
    let wwid: string;
    try {
      wwid = fs.readFileSync(path.join("/sys/block", head, "wwid"), "utf8").trim();
    } catch {
      continue; // went away while we looked
    }
    if (wwid && fs.existsSync(`/dev/${head}`)) want.set(`nvme-${wwid}`, `../../${head}`);
  }
  const have = new Set<string>();
  for (const name of fs.readdirSync(BY_ID).filter((n) => n.startsWith("nvme-"))) {
    const link = path.join(BY_ID, name);
    if (want.get(name) === fs.readlinkSync(link)) have.add(name);
    else fs.unlinkSync(link);
  }
  for (const [name, target] of want) if (!have.has(name)) fs.symlinkSync(target, path.join(BY_ID, name));
}
