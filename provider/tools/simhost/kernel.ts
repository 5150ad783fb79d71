/**
 * The simulated kernel's side of `delete_controller`. Each controller's `delete_controller` is a link to
 * a request file of its own (`<dir>/kernel/delete/<nvmeN>.<object>`), made with the controller and removed
 * with it; a background process (one per simulated host, started by createSimHost) sees a `1` written to
 * a request file and deletes that controller, shaped by the path's `disconnect` knob. A descriptor opened
 * on a controller that went since writes into a file nobody reads: the write changes nothing, as ENODEV
 * would on the kernel, and the controller now under that name is never touched.
 * Only node built-ins here: the simulated `nvme` loads it on every call.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { pathKnobs, readKnobs, type SimKnobs } from "./knobs";
import { alive, withSimLock } from "./lock";
import { SimTree, type SimController } from "./tree";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Where request files live, and the pid file of the process that serves them. */
export const requestDir = (root: string) => new SimTree(root).requestDir;
const pidFile = (root: string) => path.join(root, "kernel", "pid");

/**
 * nvme_delete_ctrl as the path's `disconnect` knob shapes it: `remove` (synchronous), `keep` (stays in
 * `deleting`), `{ afterMs }` (removed later by a reaper). Every deletion is logged to `<dir>/deletes.log`.
 */
export async function deleteAsKernel(root: string, knobs: SimKnobs, c: SimController, by: string): Promise<boolean> {
  fs.appendFileSync(path.join(root, "deletes.log"), `${JSON.stringify({ at: Date.now(), device: c.device, cntlid: c.cntlid, traddr: c.traddr, trsvcid: c.trsvcid, subsysnqn: c.subsysnqn, hostnqn: c.hostnqn, by })}\n`);
  const tree = new SimTree(root);
  const mode = pathKnobs(knobs, c.traddr, c.trsvcid).disconnect ?? "remove";
  if (mode === "remove") return withSimLock(root, () => tree.removeController(c.device));
  tree.setState(c.device, "deleting");
  if (typeof mode === "object") {
    const reaper = spawn(process.execPath, [__filename, "--reap", root, c.device, String(mode.afterMs)], { detached: true, stdio: "ignore" });
    reaper.unref();
  }
  return true;
}

/** Answer one request file: `1` written to a controller that still is that object deletes it. */
async function serveRequest(root: string, name: string): Promise<void> {
  const file = path.join(requestDir(root), name);
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return; // its controller went meanwhile
  }
  if (text.trim() !== "1") return;
  const requested = fs.statSync(file).mtimeMs; // when the write came: the kernel would have answered it then
  fs.writeFileSync(file, "");
  const device = name.slice(0, name.indexOf("."));
  const tree = new SimTree(root);
  const c = tree.read(device);
  if (!c || c.object !== name) return;
  // Simulated time, like an nvme invocation's (times.log): a benchmark subtracts it (the kernel is
  // synchronous). Written before the controller goes: once it is gone, its deleter may remove the host's
  // directory, and nothing may be created in it after that.
  fs.appendFileSync(path.join(root, "times.log"), `${JSON.stringify([requested, Date.now(), "delete_controller"])}\n`);
  await deleteAsKernel(root, readKnobs(root), c, "delete_controller");
}

/** The background process: watch the request directory until the host's directory or its creator is gone. */
async function serve(root: string, creator: number): Promise<void> {
  const dir = requestDir(root);
  let queue = Promise.resolve();
  const enqueue = (name: string) => {
    queue = queue.then(() => serveRequest(root, name)).catch(() => undefined);
  };
  const watcher = fs.watch(dir, (_event, name) => {
    if (name) enqueue(name.toString());
  });
  watcher.on("error", () => process.exit(0));
  // A sweep catches what the watch may have dropped, and notices when it is time to go.
  for (;;) {
    await sleep(500);
    if (!fs.existsSync(dir) || !alive(creator)) process.exit(0);
    for (const name of fs.readdirSync(dir)) {
      try {
        if (fs.statSync(path.join(dir, name)).size > 0) enqueue(name);
      } catch {
        // gone meanwhile
      }
    }
  }
}

/** Start the background process for `root` unless one runs; it serves as long as this process lives. */
export function startKernel(root: string): void {
  fs.mkdirSync(requestDir(root), { recursive: true });
  try {
    const pid = Number(fs.readFileSync(pidFile(root), "utf8"));
    if (pid > 0 && alive(pid)) return;
  } catch {
    // none yet
  }
  const child = spawn(process.execPath, [__filename, "--serve", root, String(process.pid)], { detached: true, stdio: "ignore" });
  child.unref();
  fs.writeFileSync(pidFile(root), String(child.pid));
}

/** Background reaper for `disconnect: { afterMs }`: removes the controller later, like a slow kernel. */
async function reap(root: string, device: string, afterMs: number): Promise<void> {
  await sleep(afterMs);
  const tree = new SimTree(root);
  if (tree.read(device)?.state === "deleting") await withSimLock(root, () => tree.removeController(device));
}

if (require.main === module && process.argv[2] === "--reap") void reap(process.argv[3], process.argv[4], Number(process.argv[5]));
if (require.main === module && process.argv[2] === "--serve") void serve(process.argv[3], Number(process.argv[4]));
