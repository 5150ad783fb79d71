/**
 * The simulated kernel's mutexes: lock files taken with O_EXCL across the processes that share a
 * simulated host; a dead holder's file is taken over. Two of them, as in the kernel: one for controller
 * instance allocation and teardown, and the fabrics mutex (`nvmf_dev_mutex`) every connect holds from the
 * write to /dev/nvme-fabrics until the kernel answers it.
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

async function withLockFile<T>(file: string, fn: () => T | Promise<T>): Promise<T> {
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
      else await sleep(tries < 50 ? 1 : tries < 200 ? 5 : 20); // a connect may hold it for seconds
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(file, { force: true });
  }
}

/** Controller instance allocation and teardown. */
export function withSimLock<T>(root: string, fn: () => T): Promise<T> {
  return withLockFile(path.join(root, ".sim-alloc.lock"), fn);
}

/** `nvmf_dev_mutex`: one connect at a time on the host, held for the connect's whole time in the kernel. */
export function withFabricsMutex<T>(root: string, fn: () => Promise<T>): Promise<T> {
  return withLockFile(path.join(root, ".sim-fabrics.lock"), fn);
}

export { alive };
