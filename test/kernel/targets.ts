/**
 * Kernel NVMe/TCP targets (nvmet) for the real-kernel tests, set up through configfs. Runs only
 * inside the test VM (see test/kernel/vm/), where every target is ours and is thrown away with the VM.
 *
 * The addresses 127.0.0.1, 127.0.0.2 and 127.0.0.3 (all of 127/8 is on lo) stand for the Storage
 * Data Targets of a PowerFlex protection domain; 127.0.0.1:8009 for a discovery endpoint.
 *
 * Backing devices are null_blk devices made through null_blk's own configfs (`/sys/kernel/config/nullb`):
 * `memoryBacked: true` keeps what is written (a filesystem can live on it), `false` discards writes
 * and reads zeros (cheap, enough for connect/disconnect tests).
 */
import * as fs from "node:fs";
import * as path from "node:path";

export const NVMET = "/sys/kernel/config/nvmet";
export const NULLB = "/sys/kernel/config/nullb";

/** Prefix of the null_blk devices this module creates (so teardown removes only those). */
const NULLB_PREFIX = "kt-";

/** Addresses standing for SDTs, and the usual ports. */
export const SDT1 = "127.0.0.1";
export const SDT2 = "127.0.0.2";
export const SDT3 = "127.0.0.3";
export const NVME_TCP_PORT = 4420;
export const DISCOVERY_PORT = 8009;

export interface SubsystemOptions {
  /** Any host NQN may connect (`attr_allow_any_host`). Mutually exclusive with `allowedHosts`. */
  readonly allowAnyHost?: boolean;
  /** Only these host NQNs may connect (`allowed_hosts/` links to `hosts/<nqn>`). */
  readonly allowedHosts?: readonly string[];
  /** `attr_serial` (the kernel makes one up when absent). */
  readonly serial?: string;
  /** `attr_model` (kernel default `Linux`). */
  readonly model?: string;
}

export interface NamespaceOptions {
  /** Size of the backing null_blk device in MiB. */
  readonly sizeMiB: number;
  /** Keep written data (null_blk `memory_backed=1`). Without it, writes are discarded. */
  readonly memoryBacked: boolean;
  /** `device_nguid`: 32 hex digits, dashes or colons allowed (shown by the host in /sys/block/…/nguid). */
  readonly nguid?: string;
  /** `device_uuid` (the kernel generates one when absent). */
  readonly uuid?: string;
}

export interface NamespaceInfo {
  readonly nqn: string;
  readonly nsid: number;
  /** Target-side backing device (a null_blk disk, e.g. `/dev/kt-123-0`). Not the host's view of the namespace. */
  readonly backingDevice: string;
}

function write(file: string, value: string | number): void {
  try {
    fs.writeFileSync(file, `${value}\n`);
  } catch (err) {
    throw new Error(`writing ${JSON.stringify(String(value))} to ${file} failed: ${(err as Error).message}`);
  }
}

function read(file: string): string {
  return fs.readFileSync(file, "utf8").trim();
}

function list(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
}

function assertNvmet(): void {
  if (!fs.existsSync(NVMET)) {
    throw new Error(`${NVMET} is missing: nvmet is not loaded or configfs not mounted (run inside the test VM: npm run test:kernel)`);
  }
}

const subsys = (nqn: string) => path.join(NVMET, "subsystems", nqn);
const port = (id: number) => path.join(NVMET, "ports", String(id));

/** Creates subsystem `nqn`. Throws if it exists. */
export function createSubsystem(nqn: string, opts: SubsystemOptions = { allowAnyHost: true }): void {
  assertNvmet();
  if (opts.allowAnyHost && opts.allowedHosts?.length) {
    throw new Error(`subsystem ${nqn}: allowAnyHost and allowedHosts are mutually exclusive`);
  }
  const dir = subsys(nqn);
  fs.mkdirSync(dir);
  if (opts.serial !== undefined) write(path.join(dir, "attr_serial"), opts.serial);
  if (opts.model !== undefined) write(path.join(dir, "attr_model"), opts.model);
  write(path.join(dir, "attr_allow_any_host"), opts.allowAnyHost ? 1 : 0);
  for (const host of opts.allowedHosts ?? []) allowHost(nqn, host);
}

/** Lets `hostnqn` connect to subsystem `nqn` (creates `hosts/<hostnqn>` when needed). */
export function allowHost(nqn: string, hostnqn: string): void {
  const hostDir = path.join(NVMET, "hosts", hostnqn);
  if (!fs.existsSync(hostDir)) fs.mkdirSync(hostDir);
  fs.symlinkSync(hostDir, path.join(subsys(nqn), "allowed_hosts", hostnqn));
}

/** Withdraws `hostnqn` from subsystem `nqn`; the kernel keeps already connected controllers. */
export function disallowHost(nqn: string, hostnqn: string): void {
  fs.unlinkSync(path.join(subsys(nqn), "allowed_hosts", hostnqn));
}

let nullbSeq = 0;

function createNullBlk(sizeMiB: number, memoryBacked: boolean): string {
  if (!fs.existsSync(NULLB)) throw new Error(`${NULLB} is missing: null_blk is not loaded`);
  const dir = path.join(NULLB, `${NULLB_PREFIX}${process.pid}-${nullbSeq++}`);
  fs.mkdirSync(dir);
  write(path.join(dir, "size"), sizeMiB); // MiB
  write(path.join(dir, "blocksize"), 512);
  write(path.join(dir, "memory_backed"), memoryBacked ? 1 : 0);
  write(path.join(dir, "power"), 1);
  const dev = nullBlkDevice(dir);
  waitForPath(dev);
  return dev;
}

/** Kernels >= 5.19 name a configfs-made null_blk disk after its configfs directory; older ones `nullb<index>`. */
function nullBlkDevice(dir: string): string {
  const named = `/dev/${path.basename(dir)}`;
  return fs.existsSync(`/sys/block/${path.basename(dir)}`) ? named : `/dev/nullb${read(path.join(dir, "index"))}`;
}

function waitForPath(p: string, timeoutMs = 5000): void {
  const until = Date.now() + timeoutMs;
  while (!fs.existsSync(p)) {
    if (Date.now() > until) throw new Error(`${p} did not appear within ${timeoutMs} ms`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
}

/** Adds and enables namespace `nsid` of subsystem `nqn`, backed by a new null_blk device. */
export function addNamespace(nqn: string, nsid: number, opts: NamespaceOptions): NamespaceInfo {
  const backingDevice = createNullBlk(opts.sizeMiB, opts.memoryBacked);
  const dir = path.join(subsys(nqn), "namespaces", String(nsid));
  fs.mkdirSync(dir);
  write(path.join(dir, "device_path"), backingDevice);
  if (opts.nguid !== undefined) write(path.join(dir, "device_nguid"), opts.nguid);
  if (opts.uuid !== undefined) write(path.join(dir, "device_uuid"), opts.uuid);
  write(path.join(dir, "enable"), 1);
  return { nqn, nsid, backingDevice };
}

/** The namespace's identifiers as the target holds them (`device_uuid` is made up by the kernel when not set). */
export function namespaceIds(nqn: string, nsid: number): { uuid: string; nguid: string } {
  const dir = path.join(subsys(nqn), "namespaces", String(nsid));
  return { uuid: read(path.join(dir, "device_uuid")), nguid: read(path.join(dir, "device_nguid")) };
}

/** Disables and removes a namespace, then its null_blk device. */
export function removeNamespace(nqn: string, nsid: number): void {
  const dir = path.join(subsys(nqn), "namespaces", String(nsid));
  const backing = read(path.join(dir, "device_path"));
  write(path.join(dir, "enable"), 0);
  fs.rmdirSync(dir);
  removeNullBlkByDevice(backing);
}

function removeNullBlkByDevice(dev: string): void {
  for (const name of list(NULLB).filter((n) => n.startsWith(NULLB_PREFIX))) {
    const dir = path.join(NULLB, name);
    if (nullBlkDevice(dir) === dev) {
      write(path.join(dir, "power"), 0);
      fs.rmdirSync(dir);
    }
  }
}

/** Creates an NVMe/TCP IPv4 listener `id` on traddr:trsvcid (it listens once a subsystem is linked). */
export function addPort(id: number, traddr: string, trsvcid: number | string): void {
  assertNvmet();
  const dir = port(id);
  fs.mkdirSync(dir);
  write(path.join(dir, "addr_trtype"), "tcp");
  write(path.join(dir, "addr_adrfam"), traddr.includes(":") ? "ipv6" : "ipv4");
  write(path.join(dir, "addr_traddr"), traddr);
  write(path.join(dir, "addr_trsvcid"), String(trsvcid));
}

/** Exposes subsystem `nqn` on port `portId` (nvmet starts listening on the first link). */
export function linkSubsystem(portId: number, nqn: string): void {
  fs.symlinkSync(subsys(nqn), path.join(port(portId), "subsystems", nqn));
}

/**
 * Stops exposing `nqn` on `portId`. The target drops the controllers of that subsystem on that
 * port: hosts see them go to `connecting` (they retry until ctrl_loss_tmo).
 */
export function unlinkSubsystem(portId: number, nqn: string): void {
  fs.unlinkSync(path.join(port(portId), "subsystems", nqn));
}

/** Adds a discovery referral on `portId` pointing at traddr:trsvcid. */
export function addReferral(portId: number, name: string, traddr: string, trsvcid: number | string): void {
  const dir = path.join(port(portId), "referrals", name);
  fs.mkdirSync(dir);
  write(path.join(dir, "addr_trtype"), "tcp");
  write(path.join(dir, "addr_adrfam"), traddr.includes(":") ? "ipv6" : "ipv4");
  write(path.join(dir, "addr_traddr"), traddr);
  write(path.join(dir, "addr_trsvcid"), String(trsvcid));
  write(path.join(dir, "enable"), 1);
}

/** Names of the referrals on port `portId`. */
export function referrals(portId: number): string[] {
  return list(path.join(port(portId), "referrals"));
}

/** Removes a referral (nvmet disables it on removal). */
export function removeReferral(portId: number, name: string): void {
  fs.rmdirSync(path.join(port(portId), "referrals", name));
}

/** Removes port `id` with its subsystem links and referrals (an SDT going away). */
export function removePort(id: number): void {
  const dir = port(id);
  for (const nqn of list(path.join(dir, "subsystems"))) fs.unlinkSync(path.join(dir, "subsystems", nqn));
  for (const ref of list(path.join(dir, "referrals"))) fs.rmdirSync(path.join(dir, "referrals", ref));
  fs.rmdirSync(dir);
}

/** Removes subsystem `nqn`, its namespaces (and their null_blk devices) and host links. Unlink it from ports first. */
export function removeSubsystem(nqn: string): void {
  const dir = subsys(nqn);
  for (const ns of list(path.join(dir, "namespaces"))) removeNamespace(nqn, Number(ns));
  for (const host of list(path.join(dir, "allowed_hosts"))) fs.unlinkSync(path.join(dir, "allowed_hosts", host));
  fs.rmdirSync(dir);
}

/** Port ids and subsystem NQNs currently configured (for assertions and debugging). */
export function targetState(): { ports: Record<string, { traddr: string; trsvcid: string; subsystems: string[] }>; subsystems: string[] } {
  const ports: Record<string, { traddr: string; trsvcid: string; subsystems: string[] }> = {};
  for (const id of list(path.join(NVMET, "ports"))) {
    ports[id] = {
      traddr: read(path.join(port(Number(id)), "addr_traddr")),
      trsvcid: read(path.join(port(Number(id)), "addr_trsvcid")),
      subsystems: list(path.join(port(Number(id)), "subsystems")),
    };
  }
  return { ports, subsystems: list(path.join(NVMET, "subsystems")) };
}

/**
 * Removes every nvmet port, subsystem and host entry and every null_blk device this module made.
 * Disconnect the host's controllers first (host.ts `disconnectAllForCleanup`), or they are left
 * retrying against a vanished target.
 */
export function teardownTargets(): void {
  if (!fs.existsSync(NVMET)) return;
  for (const id of list(path.join(NVMET, "ports"))) removePort(Number(id));
  for (const nqn of list(path.join(NVMET, "subsystems"))) removeSubsystem(nqn);
  for (const host of list(path.join(NVMET, "hosts"))) fs.rmdirSync(path.join(NVMET, "hosts", host));
  for (const name of list(NULLB).filter((n) => n.startsWith(NULLB_PREFIX))) {
    write(path.join(NULLB, name, "power"), 0);
    fs.rmdirSync(path.join(NULLB, name));
  }
}
