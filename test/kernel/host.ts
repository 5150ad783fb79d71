/**
 * The initiator side for the real-kernel tests: run the machine's real nvme-cli, read fabrics
 * controllers straight from sysfs, and guard that tests never touch controllers they did not make.
 *
 * Deliberately independent of provider/host/nvme (the code under test): a test must not check the
 * engine with the engine's own sysfs reader.
 */
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { repoRoot } from "../support/paths";

export const NVME = "/usr/sbin/nvme";
export const FABRICS_CTL = "/sys/class/nvme-fabrics/ctl";

export interface RunResult {
  readonly argv: readonly string[];
  /** Exit code; -1 when killed by a signal (see `signal`). */
  readonly rc: number;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs argv (no shell) and returns rc/stdout/stderr; never throws on a non-zero exit. */
export function run(argv: readonly string[], opts: { timeoutMs?: number; input?: string } = {}): RunResult {
  const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8", timeout: opts.timeoutMs ?? 60_000, input: opts.input });
  if (r.error) throw new Error(`${argv.join(" ")}: ${r.error.message}`);
  return { argv, rc: r.status ?? -1, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** Like run, but throws with the full output when the exit code is not 0. */
export function runOk(argv: readonly string[], opts: { timeoutMs?: number; input?: string } = {}): RunResult {
  const r = run(argv, opts);
  if (r.rc !== 0) throw new Error(`${argv.join(" ")} exited ${r.rc}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

/** Runs the machine's nvme-cli with `args`. */
export function nvme(...args: string[]): RunResult {
  return run([NVME, ...args]);
}

export interface HostIdentity {
  readonly hostnqn: string;
  readonly hostid: string;
}

/** The machine's identity from /etc/nvme (what nvme-cli uses when -q/-I are not given). */
export function machineHostIdentity(): HostIdentity {
  return {
    hostnqn: fs.readFileSync("/etc/nvme/hostnqn", "utf8").trim(),
    hostid: fs.readFileSync("/etc/nvme/hostid", "utf8").trim(),
  };
}

export interface ConnectSpec {
  readonly traddr: string;
  readonly trsvcid: number;
  readonly nqn: string;
  readonly host: HostIdentity;
  /** Extra nvme-cli arguments, e.g. ["-l", "5"] for a short ctrl_loss_tmo. */
  readonly extra?: readonly string[];
}

/** `nvme connect -t tcp … -q … -I … -o json` with everything explicit. */
export function nvmeConnect(s: ConnectSpec): RunResult {
  return nvme(
    "connect", "-t", "tcp", "-a", s.traddr, "-s", String(s.trsvcid), "-n", s.nqn,
    "-q", s.host.hostnqn, "-I", s.host.hostid, "-o", "json", ...(s.extra ?? []),
  );
}

/** Connects and returns the controller name from `{"device":"nvmeN"}`; throws on failure. */
export function connectOk(s: ConnectSpec): string {
  const r = nvmeConnect(s);
  if (r.rc !== 0) throw new Error(`nvme connect ${s.traddr}:${s.trsvcid} ${s.nqn} as ${s.host.hostnqn} failed rc=${r.rc}: ${r.stderr.trim()}`);
  const device = (JSON.parse(r.stdout) as { device?: unknown }).device;
  if (typeof device !== "string" || !/^nvme\d+$/.test(device)) throw new Error(`unexpected connect output: ${r.stdout}`);
  return device;
}

/** The real `powerflex-nvme status` (bin) on the ledger in `stateDir`; never throws on its exit code. */
export function statusCli(stateDir: string, ...args: string[]): RunResult {
  return run([process.execPath, path.join(repoRoot(), "bin", "powerflex-nvme.js"), "status", "--state-dir", stateDir, ...args]);
}

/** `powerflex-nvme status --json`'s controllers, by device. */
export function statusJson(stateDir: string): Map<string, { owners: string[]; createdBy: string | null; traddr: string | null }> {
  const r = statusCli(stateDir, "--json");
  if (r.rc !== 0) throw new Error(`powerflex-nvme status --json exited ${r.rc}: ${r.stderr}`);
  const lines = r.stdout.trimEnd().split("\n");
  const shown = (JSON.parse(lines[lines.length - 1]) as { controllers: { device: string; owners: string[]; createdBy: string | null; traddr: string | null }[] }).controllers;
  return new Map(shown.map((c) => [c.device, c]));
}

/** The row of `device` in `powerflex-nvme status`'s table (its text after the device name). */
export function statusRow(table: string, device: string): string {
  const row = table.split("\n").find((l) => l.startsWith(`${device} `));
  if (row === undefined) throw new Error(`no row for ${device} in:\n${table}`);
  return row;
}

/** A fabrics controller as sysfs shows it. */
export interface KernelController {
  readonly device: string;
  readonly transport: string;
  /** Raw `address`, e.g. `traddr=127.0.0.1,trsvcid=4420,src_addr=127.0.0.1`. */
  readonly address: string;
  readonly traddr: string;
  readonly trsvcid: string;
  readonly subsysnqn: string;
  readonly hostnqn: string;
  readonly hostid: string;
  readonly state: string;
}

/** One sysfs attribute of fabrics controller `device` (trimmed); "" when it (or the controller) is gone. */
export function attr(device: string, name: string): string {
  try {
    return fs.readFileSync(path.join(FABRICS_CTL, device, name), "utf8").trim();
  } catch {
    return "";
  }
}

/** All fabrics controllers (the directory also holds `power`, `uevent`…: only /^nvme\d+$/ count). */
export function controllers(): KernelController[] {
  let names: string[];
  try {
    names = fs.readdirSync(FABRICS_CTL);
  } catch {
    return [];
  }
  return names
    .filter((n) => /^nvme\d+$/.test(n))
    .sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)))
    .map((device) => {
      const address = attr(device, "address");
      const fields = Object.fromEntries(address.split(",").map((kv) => kv.split("=", 2) as [string, string]));
      return {
        device,
        transport: attr(device, "transport"),
        address,
        traddr: fields.traddr ?? "",
        trsvcid: fields.trsvcid ?? "",
        subsysnqn: attr(device, "subsysnqn"),
        hostnqn: attr(device, "hostnqn"),
        hostid: attr(device, "hostid"),
        state: attr(device, "state"),
      };
    })
    .filter((c) => c.subsysnqn !== ""); // vanished between readdir and read
}

export function controller(device: string): KernelController | undefined {
  return controllers().find((c) => c.device === device);
}

/** Identity of a controller for before/after comparisons (src_addr left out: present only while live). */
export function controllerKey(c: KernelController): string {
  return `${c.device} ${c.transport} ${c.traddr}:${c.trsvcid} ${c.subsysnqn} host=${c.hostnqn} id=${c.hostid}`;
}

/** Snapshot of the live controllers, by key. */
export function snapshot(): Map<string, KernelController> {
  return new Map(controllers().map((c) => [controllerKey(c), c]));
}

/**
 * Asserts every controller of `before` is still there, with the same identity and still live,
 * except those named in `removed` (the ones the test itself disconnected on purpose).
 */
export function assertSurvived(before: Map<string, KernelController>, removed: readonly string[] = []): void {
  const now = snapshot();
  const lost = [...before.entries()]
    .filter(([, c]) => !removed.includes(c.device))
    .filter(([key, c]) => !now.has(key) || (c.state === "live" && now.get(key)?.state !== "live"))
    .map(([key]) => key);
  assert.deepEqual(lost, [], `controllers the test did not own were disconnected or lost their path:\n  ${lost.join("\n  ")}\nnow:\n  ${[...now.keys()].join("\n  ")}`);
}

/**
 * Runs `body` and asserts afterwards that every controller present before it (the foreign ones
 * in particular) survived. `body` returns the devices it disconnected on purpose, if any.
 */
export async function keepsOthers(body: () => Promise<readonly string[] | void> | readonly string[] | void): Promise<void> {
  const before = snapshot();
  const removed = (await body()) ?? [];
  assertSurvived(before, removed);
}

/**
 * The controller name the kernel keeps for subsystem `nqn` while the subsystem lives (`nvme-subsys<N>` holds
 * instance N, its first controller's): that name is not handed out again even after its controller went.
 */
export function subsystemInstance(nqn: string): string | undefined {
  const dir = "/sys/class/nvme-subsystem";
  const found = fs.readdirSync(dir).find((s) => {
    try {
      return fs.readFileSync(path.join(dir, s, "subsysnqn"), "utf8").trim() === nqn;
    } catch {
      return false;
    }
  });
  return found?.replace(/^nvme-subsys/, "nvme");
}

/**
 * Connects `s` until the kernel hands the new controller the name `device`, which it reuses (lowest free)
 * only once the old controller's last reference is dropped, a moment after it left sysfs. A connect that got
 * another name is disconnected again. Throws when the name is not reused within `timeoutMs`.
 */
export async function connectTakingName(device: string, s: ConnectSpec, timeoutMs = 30_000): Promise<string> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const got = connectOk(s);
    if (got === device) return got;
    await disconnectOk(got);
    if (Date.now() > until) throw new Error(`the kernel did not hand out the freed name ${device} within ${timeoutMs} ms (got ${got})`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Polls `probe` until it returns a non-undefined value. */
export async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Block devices (namespace heads, e.g. `nvme0n1`) reachable through controller `device`. With native
 * multipath (Debian's default) the controller's sysfs directory holds its hidden path disks
 * `nvme<S>c<C>n<N>` and the head is `nvme<S>n<N>`, named after the subsystem instance S; without
 * multipath it holds `nvme<C>n<N>` itself. (Kernel 6.1 has no `multipath/` directory on the head.)
 */
export function blockDevicesOf(device: string): string[] {
  const out = new Set<string>();
  let entries: string[];
  try {
    entries = fs.readdirSync(path.join("/sys/class/nvme", device));
  } catch {
    return [];
  }
  for (const e of entries) {
    const mp = /^nvme(\d+)c\d+n(\d+)$/.exec(e);
    if (mp) out.add(`nvme${mp[1]}n${mp[2]}`);
    else if (/^nvme\d+n\d+$/.test(e)) out.add(e);
  }
  return [...out].sort();
}

/** The head block device of namespace `nsid` through `device`, once the kernel's async scan made it. */
export async function waitForNamespace(device: string, nsid: number, timeoutMs = 15_000): Promise<string> {
  return waitFor(`namespace ${nsid} behind ${device}`, () =>
    blockDevicesOf(device).find((b) => b.endsWith(`n${nsid}`) && fs.existsSync(`/dev/${b}`)), timeoutMs);
}

/** `nvme disconnect -d <device>`, then waits until sysfs no longer has it. */
export async function disconnectOk(device: string): Promise<void> {
  runOk([NVME, "disconnect", "-d", device]);
  await waitFor(`${device} to leave sysfs`, () => (controller(device) ? undefined : true));
}

/**
 * Test-VM cleanup only: deletes every fabrics controller through the kernel (`delete_controller`).
 * Never what the product does; here every controller in the VM was made by the tests.
 */
export async function disconnectAllForCleanup(): Promise<void> {
  for (const c of controllers()) {
    try {
      fs.writeFileSync(path.join(FABRICS_CTL, c.device, "delete_controller"), "1");
    } catch {
      /* already going */
    }
  }
  await waitFor("all fabrics controllers to go", () => (controllers().length === 0 ? true : undefined), 30_000);
}
