import * as path from "node:path";
import type { HostAccess, HostSettings } from "../access/access";
import { parseSysfsAddress } from "./address";
import { mapLimit } from "../concurrency";
import { connectOptionEntries } from "./connect-table";
import type { ControllerScope, ControllerState, FabricsController, NamespaceUse } from "./controller";
import { isPath, type PathIdentity } from "./identity";
import { mergeMountTables, mountTables, parseMounts, parseSwaps, type MountEntry } from "./mounts";

const CONTROLLER = /^nvme(\d+)$/;
/** Hidden per-path namespace node `nvme<subsys>c<ctrl>n<k>`: its name tells the subsystem instance. */
const PATH_NODE = /^nvme(\d+)c(\d+)n(\d+)$/;
/** Namespace block device `nvme<x>n<k>` (a multipath head, or the device itself without multipath). */
const NS_DEVICE = /^nvme\d+n\d+$/;
/** Attributes that show connect options (ctrl_loss_tmo, reconnect_delay, fast_io_fail_tmo, kato). */
const OPTION_ATTRIBUTES = connectOptionEntries().flatMap(([, o]) => ("sysfs" in o && o.sysfs ? [o.sysfs] : []));
const STATES: readonly ControllerState[] = ["new", "live", "resetting", "connecting", "deleting", "deleting (no IO)", "dead"];

/**
 * `subsysnqn` and `hostnqns` are cheap pre-filters, each one attribute read before anything else:
 * controllers they reject are not read further. This is what keeps a lookup fast among a thousand
 * foreign controllers (and among the hundred other attachments' controllers of one subsystem).
 */
export interface ReadControllersOptions extends ControllerScope {
  /** Attribute reads in flight at once. Default 64. */
  readonly concurrency?: number;
  /** Read only these controller names (those gone are left out): a second look at what a scan found. */
  readonly devices?: readonly string[];
  /** Read namespaces, mounts and holders (default true). */
  readonly namespaces?: boolean;
}

function clean(text: string | undefined): string | undefined {
  return text === undefined ? undefined : text.replace(/\n$/, "").trim();
}

function toState(raw: string | undefined): ControllerState {
  return (STATES as readonly string[]).includes(raw ?? "") ? (raw as ControllerState) : "unknown";
}

/** NGUID as 32 lower-case hex digits; undefined when absent or all zero (the kernel's "none"). */
function toNguid(raw: string | undefined): string | undefined {
  const hex = (raw ?? "").trim().toLowerCase().replace(/-/g, "");
  return /^[0-9a-f]{32}$/.test(hex) && !/^0+$/.test(hex) ? hex : undefined;
}

/**
 * The identity of a controller, when it can be one of ours: a TCP I/O controller with an address, a port
 * in plain decimal and a host NQN. Every field keeps the kernel's text (it compares them as strings, see
 * {@link isPath}): an address is never rewritten to canonical form here.
 */
function identityOf(c: {
  transport: string;
  cntrltype: string;
  addressFields: Readonly<Record<string, string>>;
  subsysnqn: string;
  hostnqn: string;
  hostid: string;
}): PathIdentity | undefined {
  if (c.transport !== "tcp" || c.cntrltype !== "io") return undefined;
  const { traddr, trsvcid: port, host_traddr: hostTraddr, host_iface: hostIface } = c.addressFields;
  // `04420` is another port text than the `4420` we connect with: no identity of ours can have it.
  if (!traddr || port === undefined || !/^[1-9]\d{0,4}$/.test(port)) return undefined;
  if (c.subsysnqn === "" || c.hostnqn === "") return undefined;
  return {
    transport: "tcp",
    traddr,
    trsvcid: Number(port),
    subsysnqn: c.subsysnqn,
    hostnqn: c.hostnqn,
    hostid: c.hostid,
    ...(hostTraddr !== undefined ? { hostTraddr } : {}),
    ...(hostIface !== undefined ? { hostIface } : {}),
  };
}

/** Lazily built per call: which subsystem directory links to which controller. */
class SubsystemIndex {
  private index?: Promise<Map<string, string>>;
  constructor(private readonly host: HostAccess, private readonly root: string, private readonly concurrency: number) {}

  /** Subsystem directory of `device`, or undefined. */
  async of(device: string): Promise<string | undefined> {
    this.index ??= this.build();
    return (await this.index).get(device);
  }

  private async build(): Promise<Map<string, string>> {
    const map = new Map<string, string>();
    const subsystems = (await this.host.readDir(this.root)) ?? [];
    await mapLimit(subsystems, this.concurrency, async (name) => {
      const dir = path.posix.join(this.root, name);
      for (const entry of (await this.host.readDir(dir)) ?? []) if (CONTROLLER.test(entry)) map.set(entry, dir);
    });
    return map;
  }
}

/** Everything one readControllers call shares. */
interface ScanContext {
  readonly host: HostAccess;
  readonly settings: HostSettings;
  readonly concurrency: number;
  readonly subsystems: SubsystemIndex;
  mounts?: Promise<MountEntry[]>;
  swaps?: Promise<Set<string>>;
  /** One exclusive-open probe per device and scan: two at once would see each other as the exclusive user. */
  readonly probes: Map<string, Promise<"free" | "busy" | "unknown">>;
}

/** The host's root: the directory that holds its sysfs (`/` for `/sys`; a simulated host's own directory). */
function hostRoot(settings: HostSettings): string {
  return path.posix.dirname(settings.sysfsRoot);
}

/** The mount tables we may read, merged (see mountTables). */
async function readMountTable(host: HostAccess, mountsFile: string): Promise<MountEntry[]> {
  const tables = await Promise.all(
    mountTables(mountsFile).map((file) =>
      host.readFile(file).then(
        (text) => parseMounts(text ?? ""),
        () => [], // /proc/1/mounts is not readable without root
      ),
    ),
  );
  return mergeMountTables(tables);
}

async function mountsOf(ctx: ScanContext, devices: readonly string[]): Promise<string[]> {
  ctx.mounts ??= readMountTable(ctx.host, ctx.settings.mountsFile);
  const wanted = new Set(devices.map((d) => `/dev/${d}`));
  return (await ctx.mounts).filter((m) => wanted.has(m.source)).map((m) => m.mountpoint);
}

async function swapsOf(ctx: ScanContext, devices: readonly string[]): Promise<string[]> {
  ctx.swaps ??= ctx.host.readFile(path.posix.join(hostRoot(ctx.settings), "proc", "swaps")).then((t) => new Set(parseSwaps(t ?? "")));
  const active = await ctx.swaps;
  return devices.filter((d) => active.has(d));
}

/** busy if any of the devices refuses an exclusive open, free if all allow it, else unknown. */
async function exclusiveOf(ctx: ScanContext, devices: readonly string[]): Promise<"free" | "busy" | "unknown"> {
  const seen = await Promise.all(
    devices.map((d) => {
      let probe = ctx.probes.get(d);
      if (!probe) {
        probe = probeTwice(ctx.host, path.posix.join(hostRoot(ctx.settings), "dev", d));
        ctx.probes.set(d, probe);
      }
      return probe;
    }),
  );
  return seen.includes("busy") ? "busy" : seen.every((s) => s === "free") ? "free" : "unknown";
}

/** A refusal is asked again once, a moment later: another scan's probe (`status`, a refresh) holds it only that long. */
async function probeTwice(host: HostAccess, device: string): Promise<"free" | "busy" | "unknown"> {
  const first = await host.probeExclusive(device);
  if (first !== "busy") return first;
  await new Promise((r) => setTimeout(r, 100));
  return host.probeExclusive(device);
}

async function namespaceUse(ctx: ScanContext, blockDevice: string, headDir: string): Promise<NamespaceUse> {
  const { host, settings } = ctx;
  const blockDir = path.posix.join(settings.sysfsRoot, "block", blockDevice);
  const [nsidText, nguidText, entries] = await Promise.all([
    host.readFile(path.posix.join(headDir, "nsid")),
    host.readFile(path.posix.join(headDir, "nguid")),
    host.readDir(blockDir),
  ]);
  // Partitions appear as `<dev>p<N>` children of the disk; they carry their own holders and mounts.
  const partitions = (entries ?? []).filter((e) => e.startsWith(`${blockDevice}p`));
  const holders = new Set<string>();
  for (const dev of [blockDevice, ...partitions]) {
    const dir = dev === blockDevice ? path.posix.join(blockDir, "holders") : path.posix.join(blockDir, dev, "holders");
    for (const h of (await host.readDir(dir)) ?? []) holders.add(h);
  }
  const devices = [blockDevice, ...partitions];
  const [mountpoints, swaps, exclusive] = await Promise.all([mountsOf(ctx, devices), swapsOf(ctx, devices), exclusiveOf(ctx, devices)]);
  return {
    blockDevice,
    nsid: Number(clean(nsidText) ?? "0"),
    nguid: toNguid(nguidText),
    mountpoints,
    holders: [...holders].sort(),
    swaps,
    exclusive,
  };
}

async function namespacesOf(ctx: ScanContext, device: string, ctrlDir: string, entries: readonly string[]): Promise<NamespaceUse[]> {
  const { host, settings } = ctx;
  // Without native multipath the namespace devices hang directly under the controller.
  const direct = entries.filter((e) => NS_DEVICE.test(e));
  if (direct.length > 0) return Promise.all(direct.map((d) => namespaceUse(ctx, d, path.posix.join(ctrlDir, d))));
  let subsysDir: string | undefined;
  const pathNode = entries.map((e) => PATH_NODE.exec(e)).find((m) => m !== null);
  if (pathNode) {
    subsysDir = path.posix.join(settings.sysfsRoot, "class", "nvme-subsystem", `nvme-subsys${pathNode[1]}`);
  } else {
    subsysDir = await ctx.subsystems.of(device);
  }
  if (!subsysDir) return [];
  const heads = ((await host.readDir(subsysDir)) ?? []).filter((e) => NS_DEVICE.test(e)).sort();
  return Promise.all(heads.map((h) => namespaceUse(ctx, h, path.posix.join(subsysDir, h))));
}

async function readOne(ctx: ScanContext, device: string, options: ReadControllersOptions): Promise<FabricsController | undefined> {
  const { host, settings } = ctx;
  const dir = path.posix.join(settings.sysfsRoot, "class", "nvme-fabrics", "ctl", device);
  const read = (attr: string) => host.readFile(path.posix.join(dir, attr)).then(clean);
  let hostnqn: string | undefined;
  if (options.hostnqns !== undefined) {
    hostnqn = await read("hostnqn");
    if (hostnqn === undefined || !options.hostnqns.includes(hostnqn)) return undefined;
  }
  let subsysnqn: string | undefined;
  if (options.subsysnqn !== undefined) {
    subsysnqn = await read("subsysnqn");
    if (subsysnqn !== options.subsysnqn) return undefined;
  }
  const [[transport, address, nqn, hnqn, hostid, state, cntrltype, cntlid, inode], shown] = await Promise.all([Promise.all([
    read("transport"),
    read("address"),
    subsysnqn === undefined ? read("subsysnqn") : Promise.resolve(subsysnqn),
    hostnqn === undefined ? read("hostnqn") : Promise.resolve(hostnqn),
    read("hostid"),
    read("state"),
    read("cntrltype"),
    read("cntlid"),
    host.inode(path.posix.join(dir, "delete_controller")),
  ]), Promise.all(OPTION_ATTRIBUTES.map(async (a) => [a, await read(a)] as const))]);
  if (transport === undefined) return undefined; // deleted while we looked
  const addressFields = parseSysfsAddress(address ?? "");
  const base = {
    device,
    transport,
    address: address ?? "",
    addressFields,
    subsysnqn: nqn ?? "",
    hostnqn: hnqn ?? "",
    hostid: (hostid ?? "").toLowerCase(),
    state: toState(state),
    cntrltype: cntrltype ?? "io",
    cntlid: cntlid !== undefined && /^\d+$/.test(cntlid) ? Number(cntlid) : undefined,
    options: Object.fromEntries(shown.filter(([, v]) => v !== undefined)) as Record<string, string>,
    ...(inode !== undefined ? { inode } : {}),
  };
  const identity = identityOf(base);
  let namespaces: NamespaceUse[] = [];
  if (options.namespaces !== false) {
    namespaces = await namespacesOf(ctx, device, dir, (await host.readDir(dir)) ?? []);
  }
  return { ...base, ...(identity ? { identity } : {}), namespaces };
}

/**
 * Every fabrics controller in `<sysfsRoot>/class/nvme-fabrics/ctl/`, in instance order. sysfs is the truth;
 * a controller that disappears while we read it is left out.
 */
export async function readControllers(
  host: HostAccess,
  settings: HostSettings,
  options: ReadControllersOptions = {},
): Promise<FabricsController[]> {
  const concurrency = options.concurrency ?? 64;
  const ctlDir = path.posix.join(settings.sysfsRoot, "class", "nvme-fabrics", "ctl");
  const names = (options.devices ?? (await host.readDir(ctlDir)) ?? [])
    .filter((n) => CONTROLLER.test(n))
    .sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)));
  const ctx = scanContext(host, settings, concurrency);
  const all = await mapLimit(names, concurrency, (name) => readOne(ctx, name, options));
  return all.filter((c): c is FabricsController => c !== undefined);
}

/**
 * The name of every NVMe controller on the host now, whatever its subsystem or transport (PCIe and fabrics
 * controllers share one numbering): the names an intent written now must never claim.
 */
export async function controllerNames(host: HostAccess, settings: HostSettings): Promise<string[]> {
  const names = (await host.readDir(path.posix.join(settings.sysfsRoot, "class", "nvme"))) ?? [];
  return names.filter((n) => CONTROLLER.test(n)).sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)));
}

/** One controller by name; undefined when none has it now. A name is a hint: check what it is ({@link isPath}). */
export async function readController(
  host: HostAccess,
  settings: HostSettings,
  device: string,
  options: Omit<ReadControllersOptions, "subsysnqn" | "hostnqns"> = {},
): Promise<FabricsController | undefined> {
  return readOne(scanContext(host, settings, options.concurrency ?? 64), device, options);
}

function scanContext(host: HostAccess, settings: HostSettings, concurrency: number): ScanContext {
  const subsystems = new SubsystemIndex(host, path.posix.join(settings.sysfsRoot, "class", "nvme-subsystem"), concurrency);
  return { host, settings, concurrency, subsystems, probes: new Map() };
}

/**
 * All controllers that are the path `id` ({@link isPath}). Usually zero or one; two when someone connected
 * the same path with `duplicate_connect`.
 */
export async function findControllers(
  host: HostAccess,
  settings: HostSettings,
  id: PathIdentity,
  options: Omit<ReadControllersOptions, "subsysnqn" | "hostnqns"> = {},
): Promise<FabricsController[]> {
  const found = await readControllers(host, settings, { ...options, subsysnqn: id.subsysnqn, hostnqns: [id.hostnqn] });
  return found.filter((c) => isPath(c, id));
}
