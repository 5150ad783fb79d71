/**
 * The simulated kernel side: a sysfs tree laid out like Linux 6.x (controllers under
 * devices/virtual/nvme-fabrics/ctl, class links, subsystems with controller links and namespace heads,
 * hidden per-path nodes, /sys/block links). Synchronous and free of third-party imports: the simulated
 * `nvme` binary loads this on every invocation and must start fast.
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** What the simulator knows about one controller (all of it read back from the tree). */
export interface SimController {
  readonly device: string;
  readonly instance: number;
  readonly transport: string;
  readonly traddr: string;
  readonly trsvcid: string;
  readonly hostTraddr?: string;
  readonly hostIface?: string;
  readonly subsysnqn: string;
  readonly hostnqn: string;
  readonly hostid: string;
  readonly state: string;
  readonly cntrltype: string;
  readonly address: string;
  /** `nvme-subsysN` it belongs to, when linked. */
  readonly subsystem?: string;
  readonly cntlid?: number;
  /** This kernel object (never reused): the name of its `delete_controller` request file. */
  readonly object?: string;
}

/** Input for {@link createController}. */
export interface NewController {
  readonly transport?: string;
  readonly traddr: string;
  readonly trsvcid: string;
  readonly hostTraddr?: string;
  readonly hostIface?: string;
  readonly subsysnqn: string;
  readonly hostnqn: string;
  readonly hostid: string;
  /** Default `live`. */
  readonly state?: string;
  /** Default `io`. */
  readonly cntrltype?: string;
  /** Source address shown while live (kernel >= 6.1). */
  readonly srcAddr?: string;
  readonly cntlid?: number;
  /** Options of the connect by the kernel's names (`ctrl_loss_tmo`, …; as nvme-cli writes them), for sysfs. */
  readonly kernelOptions?: Readonly<Record<string, string | undefined>>;
  /** Show `hostnqn` and `hostid` in sysfs (Linux 5.7+). Default true. */
  readonly hostAttributes?: boolean;
}

/**
 * What the kernel shows per controller for the timing options it was given: nvmf_parse_options' defaults
 * (reconnect_delay 10, ctrl_loss_tmo 600, fast I/O fail off, keep-alive 5 s for I/O controllers and none
 * for discovery ones), printed as sysfs.c does: ctrl_loss_tmo as max_reconnects x reconnect_delay with
 * max_reconnects = ceil(ctrl_loss_tmo / reconnect_delay), `off` for a negative one.
 */
function timerAttributes(given: Readonly<Record<string, string | undefined>>, cntrltype: string): Record<string, string> {
  const int = (k: string, dflt: number) => (given[k] === undefined ? dflt : Number.parseInt(given[k]!, 10));
  const delay = int("reconnect_delay", 10);
  const loss = int("ctrl_loss_tmo", 600);
  const fail = int("fast_io_fail_tmo", -1);
  return {
    ctrl_loss_tmo: loss < 0 ? "off" : String(Math.ceil(loss / delay) * delay),
    reconnect_delay: String(delay),
    fast_io_fail_tmo: fail < 0 ? "off" : String(fail),
    kato: String(int("keep_alive_tmo", cntrltype === "discovery" ? 0 : 5)),
  };
}

/** A namespace the target exposes in a subsystem. */
export interface SimNamespace {
  readonly nsid: number;
  /** 32 hex digits (dashes allowed). */
  readonly nguid?: string;
}

export const DELETING_STATES = ["deleting", "deleting (no IO)", "dead"];

export class SimTree {
  readonly sys: string;
  constructor(readonly root: string) {
    this.sys = path.join(root, "sys");
  }

  get ctlDir(): string {
    return path.join(this.sys, "devices", "virtual", "nvme-fabrics", "ctl");
  }
  get subsysRoot(): string {
    return path.join(this.sys, "devices", "virtual", "nvme-subsystem");
  }

  /** Create the empty skeleton (idempotent): what a host with nvme-tcp loaded and no controllers shows. */
  ensureSkeleton(): void {
    fs.mkdirSync(this.ctlDir, { recursive: true });
    fs.mkdirSync(this.subsysRoot, { recursive: true });
    for (const d of ["class/nvme", "class/nvme-subsystem", "class/nvme-fabrics", "block"]) fs.mkdirSync(path.join(this.sys, d), { recursive: true });
    link(path.join(this.sys, "class", "nvme-fabrics", "ctl"), "../../devices/virtual/nvme-fabrics/ctl");
  }

  /** Controller names present, in instance order. */
  deviceNames(): string[] {
    let names: string[] = [];
    try {
      names = fs.readdirSync(this.ctlDir).filter((n) => /^nvme\d+$/.test(n));
    } catch {
      return [];
    }
    return names.sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)));
  }

  read(device: string): SimController | undefined {
    const dir = path.join(this.ctlDir, device);
    const attr = (a: string) => {
      try {
        return fs.readFileSync(path.join(dir, a), "utf8").trim();
      } catch {
        return undefined;
      }
    };
    const transport = attr("transport");
    if (transport === undefined) return undefined;
    const address = attr("address") ?? "";
    const f: Record<string, string> = {};
    for (const piece of address.split(",")) {
      const eq = piece.indexOf("=");
      if (eq > 0) f[piece.slice(0, eq)] = piece.slice(eq + 1);
    }
    return {
      device,
      instance: Number(device.slice(4)),
      transport,
      traddr: f.traddr ?? "",
      trsvcid: f.trsvcid ?? "",
      hostTraddr: f.host_traddr,
      hostIface: f.host_iface,
      subsysnqn: attr("subsysnqn") ?? "",
      hostnqn: attr("hostnqn") ?? attr(".sim-hostnqn") ?? "",
      hostid: attr("hostid") ?? attr(".sim-hostid") ?? "",
      state: attr("state") ?? "unknown state",
      cntrltype: attr("cntrltype") ?? "io",
      address,
      subsystem: attr(".sim-subsys"),
      cntlid: attr("cntlid") === undefined ? undefined : Number(attr("cntlid")),
      object: attr(".sim-object"),
    };
  }

  controllers(): SimController[] {
    return this.deviceNames()
      .map((d) => this.read(d))
      .filter((c): c is SimController => c !== undefined);
  }

  /** Lowest free controller instance: the kernel's IDA hands out the smallest number and reuses at once. */
  freeInstance(): number {
    const used = new Set(this.deviceNames().map((d) => Number(d.slice(4))));
    let i = 0;
    while (used.has(i)) i++;
    return i;
  }

  subsystemNames(): string[] {
    try {
      return fs
        .readdirSync(this.subsysRoot)
        .filter((n) => /^nvme-subsys\d+$/.test(n))
        .sort((a, b) => Number(a.slice(11)) - Number(b.slice(11)));
    } catch {
      return [];
    }
  }

  subsystemNqn(name: string): string | undefined {
    try {
      return fs.readFileSync(path.join(this.subsysRoot, name, "subsysnqn"), "utf8").trim();
    } catch {
      return undefined;
    }
  }

  /** Controllers linked from a subsystem, in instance order. */
  subsystemControllers(name: string): string[] {
    try {
      return fs
        .readdirSync(path.join(this.subsysRoot, name))
        .filter((n) => /^nvme\d+$/.test(n))
        .sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)));
    } catch {
      return [];
    }
  }

  /** Namespace heads (`nvme<S>n<K>`) of a subsystem. */
  subsystemHeads(name: string): string[] {
    try {
      return fs.readdirSync(path.join(this.subsysRoot, name)).filter((n) => /^nvme\d+n\d+$/.test(n)).sort();
    } catch {
      return [];
    }
  }

  /** Find or create the subsystem for `nqn`; new ones get `namespaces` as heads. */
  private subsystemFor(nqn: string, preferred: number, cntrltype: string, namespaces: readonly SimNamespace[]): string {
    const names = this.subsystemNames();
    for (const n of names) if (this.subsystemNqn(n) === nqn) return n;
    const used = new Set(names.map((n) => Number(n.slice(11))));
    // Recent kernels usually give a new subsystem its first controller's instance number.
    let inst = used.has(preferred) ? 0 : preferred;
    while (used.has(inst)) inst++;
    const name = `nvme-subsys${inst}`;
    const dir = path.join(this.subsysRoot, name);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "subsysnqn"), `${nqn}\n`);
    fs.writeFileSync(path.join(dir, "iopolicy"), "numa\n");
    fs.writeFileSync(path.join(dir, "subsystype"), cntrltype === "discovery" ? "discovery\n" : "nvm\n");
    link(path.join(this.sys, "class", "nvme-subsystem", name), `../../devices/virtual/nvme-subsystem/${name}`);
    if (cntrltype !== "discovery") for (const ns of namespaces) this.addHead(name, ns);
    return name;
  }

  /** Add a namespace head to a subsystem (and the hidden path node under each of its controllers). */
  addHead(subsys: string, ns: SimNamespace): string {
    const inst = Number(subsys.slice(11));
    const existing = this.subsystemHeads(subsys);
    for (const h of existing) {
      if (readTrim(path.join(this.subsysRoot, subsys, h, "nsid")) === String(ns.nsid)) return h;
    }
    let k = 1;
    while (existing.includes(`nvme${inst}n${k}`)) k++;
    const head = `nvme${inst}n${k}`;
    const dir = path.join(this.subsysRoot, subsys, head);
    fs.mkdirSync(path.join(dir, "holders"), { recursive: true });
    fs.writeFileSync(path.join(dir, "nsid"), `${ns.nsid}\n`);
    fs.writeFileSync(path.join(dir, "nguid"), `${formatNguid(ns.nguid)}\n`);
    link(path.join(this.sys, "block", head), `../devices/virtual/nvme-subsystem/${subsys}/${head}`);
    for (const c of this.subsystemControllers(subsys)) this.addPathNode(c, inst, k, ns.nsid);
    return head;
  }

  /** Remove the head with this nsid from a subsystem (and its path nodes), as the kernel does after a namespace goes. */
  removeHead(subsys: string, nsid: number): string | undefined {
    const inst = Number(subsys.slice(11));
    for (const h of this.subsystemHeads(subsys)) {
      if (readTrim(path.join(this.subsysRoot, subsys, h, "nsid")) !== String(nsid)) continue;
      const k = h.slice(h.lastIndexOf("n") + 1);
      for (const c of this.subsystemControllers(subsys)) {
        fs.rmSync(path.join(this.ctlDir, c, `nvme${inst}c${c.slice(4)}n${k}`), { recursive: true, force: true });
      }
      fs.rmSync(path.join(this.sys, "block", h), { force: true });
      fs.rmSync(path.join(this.subsysRoot, subsys, h), { recursive: true, force: true });
      return h;
    }
    return undefined;
  }

  private addPathNode(device: string, subsysInst: number, k: number, nsid: number): void {
    const node = path.join(this.ctlDir, device, `nvme${subsysInst}c${device.slice(4)}n${k}`);
    fs.mkdirSync(node, { recursive: true });
    fs.writeFileSync(path.join(node, "nsid"), `${nsid}\n`);
    fs.writeFileSync(path.join(node, "ana_state"), "optimized\n");
  }

  /** Create a controller at the lowest free instance (caller holds the allocation lock). */
  createController(c: NewController, namespaces: readonly SimNamespace[] = []): string {
    this.ensureSkeleton();
    const instance = this.freeInstance();
    const device = `nvme${instance}`;
    const dir = path.join(this.ctlDir, device);
    fs.mkdirSync(dir, { recursive: true });
    const state = c.state ?? "live";
    const cntrltype = c.cntrltype ?? "io";
    const write = (a: string, v: string) => fs.writeFileSync(path.join(dir, a), `${v}\n`);
    write("transport", c.transport ?? "tcp");
    write("address", addressText(c, state));
    write("subsysnqn", c.subsysnqn);
    // The kernel always knows them; sysfs shows them from 5.7 on.
    write(".sim-hostnqn", c.hostnqn);
    write(".sim-hostid", c.hostid);
    if (c.hostAttributes !== false) {
      write("hostnqn", c.hostnqn);
      write("hostid", c.hostid);
    }
    write("state", state);
    write("cntrltype", cntrltype);
    // Like a target that does not hand a controller ID out again at once (nvmet takes the lowest free one).
    write("cntlid", String(c.cntlid ?? this.nextCntlid()));
    // delete_controller links to a request file of this object alone (see kernel.ts).
    const object = `${device}.${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    fs.mkdirSync(this.requestDir, { recursive: true });
    fs.writeFileSync(path.join(this.requestDir, object), "");
    fs.symlinkSync(path.join(this.requestDir, object), path.join(dir, "delete_controller"));
    write(".sim-object", object);
    for (const [a, v] of Object.entries(timerAttributes(c.kernelOptions ?? {}, cntrltype))) write(a, v);
    link(path.join(this.sys, "class", "nvme", device), `../../devices/virtual/nvme-fabrics/ctl/${device}`);
    const subsys = this.subsystemFor(c.subsysnqn, instance, cntrltype, namespaces);
    write(".sim-subsys", subsys);
    link(path.join(this.subsysRoot, subsys, device), `../../nvme-fabrics/ctl/${device}`);
    const sInst = Number(subsys.slice(11));
    for (const head of this.subsystemHeads(subsys)) {
      const k = Number(head.slice(head.lastIndexOf("n") + 1));
      this.addPathNode(device, sInst, k, Number(readTrim(path.join(this.subsysRoot, subsys, head, "nsid")) ?? "0"));
    }
    return device;
  }

  setState(device: string, state: string, srcAddr?: string): void {
    const dir = path.join(this.ctlDir, device);
    const c = this.read(device);
    if (!c) throw new Error(`simulated host has no controller ${device}`);
    fs.writeFileSync(path.join(dir, "state"), `${state}\n`);
    fs.writeFileSync(path.join(dir, "address"), `${addressText({ ...c, srcAddr: srcAddr ?? c.address.match(/src_addr=([^,]+)/)?.[1] }, state)}\n`);
  }

  /** Controller IDs the simulated target hands out, counting up per host. */
  private nextCntlid(): number {
    const file = path.join(this.root, "kernel", "next-cntlid");
    const next = Number(readTrim(file) ?? "1") || 1;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, String(next + 1));
    return next;
  }

  get requestDir(): string {
    return path.join(this.root, "kernel", "delete");
  }

  /** Remove a controller and, when it was the last one, its subsystem (as the kernel does). */
  removeController(device: string): boolean {
    const c = this.read(device);
    if (!c) return false;
    // Out of sight in one step (as the kernel's sysfs entry goes), then cleared away: after that step only
    // removals, never a new file (whoever waited for it may be removing the whole host meanwhile).
    const trash = path.join(this.root, "kernel", `gone-${c.object ?? device}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
    fs.mkdirSync(path.dirname(trash), { recursive: true });
    fs.renameSync(path.join(this.ctlDir, device), trash);
    fs.rmSync(trash, { recursive: true, force: true });
    // The request file stays (empty, answered by no one): its inode is never handed to a later controller,
    // as kernfs never hands a gone object's inode out again.
    fs.rmSync(path.join(this.sys, "class", "nvme", device), { force: true });
    if (c.subsystem) {
      fs.rmSync(path.join(this.subsysRoot, c.subsystem, device), { force: true });
      if (this.subsystemControllers(c.subsystem).length === 0) {
        for (const head of this.subsystemHeads(c.subsystem)) fs.rmSync(path.join(this.sys, "block", head), { force: true });
        fs.rmSync(path.join(this.subsysRoot, c.subsystem), { recursive: true, force: true });
        fs.rmSync(path.join(this.sys, "class", "nvme-subsystem", c.subsystem), { force: true });
      }
    }
    return true;
  }
}

/** `traddr=…,trsvcid=…[,host_traddr=…][,host_iface=…]` plus `,src_addr=…` while live (kernel >= 6.1). */
export function addressText(c: { traddr: string; trsvcid: string; hostTraddr?: string; hostIface?: string; srcAddr?: string }, state: string): string {
  let s = `traddr=${c.traddr},trsvcid=${c.trsvcid}`;
  if (c.hostTraddr !== undefined) s += `,host_traddr=${c.hostTraddr}`;
  if (c.hostIface !== undefined) s += `,host_iface=${c.hostIface}`;
  if (state === "live" && c.srcAddr) s += `,src_addr=${c.srcAddr}`;
  return s;
}

/** The kernel prints NGUIDs UUID-style. */
function formatNguid(nguid: string | undefined): string {
  const hex = (nguid ?? "").replace(/-/g, "").toLowerCase().padEnd(32, "0").slice(0, 32);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function readTrim(file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8").trim();
  } catch {
    return undefined;
  }
}

function link(at: string, target: string): void {
  try {
    fs.symlinkSync(target, at);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
}
