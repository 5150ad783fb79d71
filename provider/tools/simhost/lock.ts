/**
 * The simulated kernel's one mutex (its controller-instance allocation and teardown): a lock file taken
 * with O_EXCL across the processes that share a simulated host; a dead holder's file is taken over.
 */
import * as fs from "node:fs";
import * as path from "node:path";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export async function withSimLock<T>(root: string, fn: () => T): Promise<T> {
  const file = path.join(root, ".sim-alloc.lock");
  for (let tries = 0; ; tries++) {
    try {
      const fd = fs.openSync(file, "wx");
      fs.writeSync(fd, String(process.pid));
      fs.closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      let holder = 0;
      try {
        holder = Number(fs.readFileSync(file, "utf8") || "0");
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
        continue; // released between our open and our read: try again at once
      }
      if (holder > 0 && !alive(holder)) fs.rmSync(file, { force: true });
      else await sleep(tries < 50 ? 1 : 5);
    }
  }
  try {
    return fn();
  } finally {
    fs.rmSync(file, { force: true });
  }
}

export { alive };
