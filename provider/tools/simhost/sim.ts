/**
 * The simulated `nvme` binary. `<dir>/bin/nvme` requires this module and calls {@link main} with its
 * root; it then behaves like nvme-cli of the version in knobs.json against the sysfs tree under
 * `<dir>/sys`, including the commands this project never uses (so tests can prove that, via calls.log).
 * Only node built-ins here: it starts on every call.
 */
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as path from "node:path";
import { connectOptionEntries } from "../../host/nvme/connect-table";
import { pathKnobs, readKnobs, SYN_TIMEOUT_MS, type PathKnobs, type SimDiscoveryRecord, type SimKnobs, type SimVersion } from "./knobs";
import {
  alreadyConnectedPrecheck,
  connectOk,
  disconnectMissing,
  disconnectNoArgs,
  discoverRefused,
  injectedFailure,
  kernelConnectFailure,
  missingArgument,
  printJson,
  versionText,
  type Output,
} from "./texts";
import { deleteAsKernel } from "./kernel";
import { withFabricsMutex, withSimLock } from "./lock";
import { DELETING_STATES, SimTree, type SimController } from "./tree";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Options per subcommand: short and long spellings -> key; `true` marks a flag without value. */
const CONNECT_OPTS: Record<string, [string, boolean]> = {
  "-t": ["transport", false], "--transport": ["transport", false],
  "-a": ["traddr", false], "--traddr": ["traddr", false],
  "-s": ["trsvcid", false], "--trsvcid": ["trsvcid", false],
  "-n": ["nqn", false], "--nqn": ["nqn", false],
  "-q": ["hostnqn", false], "--hostnqn": ["hostnqn", false],
  "-I": ["hostid", false], "--hostid": ["hostid", false],
  "-o": ["format", false], "--output-format": ["format", false],
  "-D": ["duplicate", true], "--duplicate-connect": ["duplicate", true],
  "-p": ["persistent", true], "--persistent": ["persistent", true],
  "-v": ["verbose", true], "--verbose": ["verbose", true],
  // The tunables, keyed by the kernel's option name, from the adapter's own table.
  ...Object.fromEntries(connectOptionEntries().flatMap(([, o]) => o.spellings.map((f) => [f, [o.kernel, o.kind === "flag"]]))),
};
const DISCONNECT_OPTS: Record<string, [string, boolean]> = {
  "-d": ["device", false], "--device": ["device", false],
  "-n": ["nqn", false], "--nqn": ["nqn", false],
  "-v": ["verbose", true], "--verbose": ["verbose", true],
};
const LIST_OPTS: Record<string, [string, boolean]> = {
  "-o": ["format", false], "--output-format": ["format", false],
  "-v": ["verbose", true], "--verbose": ["verbose", true],
};

function parseArgs(cmd: string, args: readonly string[], spec: Record<string, [string, boolean]>): Record<string, string> | Output {
  const out: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    let a = args[i];
    let inline: string | undefined;
    const eq = a.startsWith("--") ? a.indexOf("=") : -1;
    if (eq > 0) {
      inline = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    const s = spec[a];
    if (!s) {
      if (!a.startsWith("-")) continue; // positional (device argument of list-subsys): ignored
      return { stdout: "", stderr: `${cmd}: unrecognized option '${a}'\n`, code: 1 };
    }
    if (s[1]) out[s[0]] = "1";
    else out[s[0]] = inline ?? args[++i] ?? "";
  }
  return out;
}

/** The path a connect asks for, as the kernel and libnvme compare it. */
interface WantedPath {
  readonly transport: string;
  readonly traddr: string;
  readonly trsvcid: string;
  readonly subsysnqn: string;
  readonly hostnqn: string;
  readonly hostid: string;
  readonly hostTraddr?: string;
  readonly hostIface?: string;
}

const isOutput = (x: unknown): x is Output => typeof x === "object" && x !== null && "code" in x && "stderr" in x;

class Sim {
  readonly tree: SimTree;
  readonly v: SimVersion;
  constructor(readonly root: string, readonly knobs: SimKnobs) {
    this.tree = new SimTree(root);
    this.v = knobs.version;
  }

  /** The simulated kernel's mutex (instance allocation, teardown). */
  withLock<T>(fn: () => T): Promise<T> {
    return withSimLock(this.root, fn);
  }

  hostFile(name: string): string | undefined {
    try {
      return fs.readFileSync(path.join(this.root, "etc", "nvme", name), "utf8").trim() || undefined;
    } catch {
      return undefined;
    }
  }

  async connect(args: readonly string[]): Promise<Output> {
    const o = parseArgs("connect", args, CONNECT_OPTS);
    if (isOutput(o)) return o;
    if (!o.transport) return missingArgument(this.v, "transport");
    if (!o.nqn) return missingArgument(this.v, "nqn");
    if (!o.traddr) return missingArgument(this.v, "traddr");
    const trsvcid = o.trsvcid || "4420";
    const knobs = pathKnobs(this.knobs, o.traddr, trsvcid);
    if (knobs.hang) await sleep(this.knobs.hangMs ?? 3_600_000);
    const hostnqn = o.hostnqn || this.hostFile("hostnqn") || "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-0000000000ff";
    const hostid = (o.hostid || this.hostFile("hostid") || "00000000-0000-4000-8000-0000000000ff").toLowerCase();
    const want: WantedPath = { transport: o.transport, traddr: o.traddr, trsvcid, subsysnqn: o.nqn, hostnqn, hostid, hostTraddr: o.host_traddr, hostIface: o.host_iface };
    // 2.x looks in sysfs first (any state; host NQN only since 2.6, so 2.3 ignores it); 2.9+ let -D skip it.
    if (this.v !== "1.16" && !(this.v === "2.11" && o.duplicate)) {
      const hit = this.tree.controllers().some((c) => samePathUserspace(c, want, this.v !== "2.3"));
      if (hit) return alreadyConnectedPrecheck();
    }
    // From here the kernel has the write to /dev/nvme-fabrics: it answers one connect at a time per host.
    return withFabricsMutex(this.root, () => this.connectInKernel(o, knobs, want));
  }

  /** The kernel's side of a connect (nvmf_create_ctrl), under the fabrics mutex. */
  private async connectInKernel(o: Record<string, string>, knobs: PathKnobs, want: WantedPath): Promise<Output> {
    const { traddr, trsvcid, hostnqn, hostid } = want;
    if (knobs.latencyMs) await sleep(knobs.latencyMs);
    if (knobs.dropSyn) {
      // nvme-tcp sets TCP_SYNCNT 1: a SYN, one retry, and ETIMEDOUT (test/kernel/syn-drop.test.ts).
      await sleep(this.knobs.synTimeoutMs ?? SYN_TIMEOUT_MS);
      return kernelConnectFailure(this.v, "ETIMEDOUT");
    }
    if (knobs.fail) return injectedFailure(this.v, knobs.fail);
    const oldKernel = this.knobs.kernel === "5.4";
    const result = await this.withLock((): { device: string } | { errno: string } => {
      const present = this.tree.controllers();
      // nvmf_host_add (Linux 6.5+): a host NQN has one host ID and a host ID one host NQN, among the hosts
      // controllers still hold; parsing the options fails before any transport is asked.
      const clash = oldKernel ? undefined : present.find((c) => (c.hostid === hostid) !== (c.hostnqn === hostnqn));
      if (clash) {
        this.kernelLog(
          clash.hostid === hostid
            ? `nvme_fabrics: found same hostid ${hostid} but different hostnqn ${hostnqn}`
            : `nvme_fabrics: found same hostnqn ${hostnqn} but different hostid ${hostid}`,
        );
        return { errno: "EINVAL" };
      }
      // The kernel's rule: same subsystem, host NQN and ID, address text, port, host address/interface,
      // on a controller that is not being deleted -> EALREADY, unless duplicate_connect.
      if (!o.duplicate && present.some((c) => !DELETING_STATES.includes(c.state) && samePathKernel(c, want))) return { errno: "EALREADY" };
      const device = this.tree.createController(
        {
          transport: o.transport,
          traddr,
          trsvcid,
          hostTraddr: o.host_traddr,
          hostIface: o.host_iface,
          subsysnqn: o.nqn,
          hostnqn,
          hostid,
          state: knobs.stuckConnecting ? "connecting" : "live",
          srcAddr: o.host_traddr ?? this.knobs.srcAddr ?? (traddr.includes(":") ? "fd00::1" : "192.0.2.1"),
          kernelOptions: o,
          hostAttributes: !oldKernel,
        },
        this.knobs.namespaces?.[o.nqn] ?? [],
      );
      return { device };
    });
    if ("errno" in result) return kernelConnectFailure(this.v, result.errno);
    return connectOk(this.v, result.device, o.format);
  }

  askArray(traddr: string, trsvcid: string, hostnqn: string) {
    return askArray(this.knobs, traddr, trsvcid, hostnqn);
  }

  /** A line of the simulated kernel log (`<root>/kmsg`, what dmesg would show). */
  kernelLog(line: string): void {
    fs.appendFileSync(path.join(this.root, "kmsg"), `${line}\n`);
  }

  async disconnect(args: readonly string[]): Promise<Output> {
    const o = parseArgs("disconnect", args, DISCONNECT_OPTS);
    if (isOutput(o)) return o;
    if (o.device === undefined && o.nqn === undefined) return disconnectNoArgs(this.v);
    if (o.nqn !== undefined) {
      // Every controller of the subsystem, whatever its host NQN: why this project never uses it.
      const nqns = this.v === "1.16" ? [o.nqn] : o.nqn.split(",");
      let k = 0;
      for (const c of this.tree.controllers()) if (nqns.includes(c.subsysnqn) && (await this.remove(c))) k++;
      return { stdout: `NQN:${nqns[0] === o.nqn ? o.nqn : nqns[0]} disconnected ${k} controller(s)\n`, stderr: "", code: 0 };
    }
    const names = o.device.split(",").map((d) => d.replace(/^\/dev\//, ""));
    if (names.length > 1 && this.v === "1.16") return { stdout: "", stderr: `Failed to disconnect by device name: ${o.device}\n`, code: 234 };
    for (let i = 0; i < names.length; i++) {
      const c = this.tree.read(names[i]);
      if (!c) return disconnectMissing(this.v, names[i], this.tree.deviceNames().length > 0);
      await this.remove(c);
      // 2.10/2.11 crash on the second name of a list after deleting the first.
      if (names.length > 1 && this.v === "2.11") return { stdout: "", stderr: "", code: -11, signal: "SIGSEGV" };
    }
    return { stdout: "", stderr: "", code: 0 };
  }

  async disconnectAll(): Promise<Output> {
    for (const c of this.tree.controllers()) await this.remove(c);
    return { stdout: "", stderr: "", code: 0 };
  }

  /** What nvme-cli does: write `1` to the controller's delete_controller (the simulated kernel answers). */
  private remove(c: SimController): Promise<boolean> {
    return deleteAsKernel(this.root, this.knobs, c, "nvme-cli");
  }

  listSubsys(args: readonly string[]): Output {
    const o = parseArgs("list-subsys", args, LIST_OPTS);
    if (isOutput(o)) return o;
    const subsystems = this.tree.subsystemNames().map((name) => ({
      name,
      nqn: this.tree.subsystemNqn(name) ?? "",
      ctrls: this.tree.subsystemControllers(name).map((d) => this.tree.read(d)).filter((c): c is SimController => c !== undefined),
    }));
    const pathJson = (c: SimController) => ({
      Name: c.device,
      Transport: c.transport,
      Address: this.v === "1.16" ? c.address.split(",").join(" ") : c.address,
      State: c.state,
    });
    if (this.v === "1.16") {
      if (subsystems.length === 0) return { stdout: `${printJson({}, this.v)}\n`, stderr: "", code: 0 };
      const list = subsystems.map((s) => ({ Name: s.name, NQN: s.nqn, Paths: s.ctrls.length ? s.ctrls.map(pathJson) : undefined }));
      return { stdout: `${printJson({ Subsystems: list }, this.v)}\n`, stderr: "", code: 0 };
    }
    // One entry per host NQN; 2.3-2.9 walk their lists in reverse, 2.10+ in ascending order.
    const reverse = this.v === "2.3" || this.v === "2.8";
    const hosts: { nqn: string; id: string }[] = [];
    for (const s of subsystems) for (const c of s.ctrls) if (!hosts.some((h) => h.nqn === c.hostnqn)) hosts.push({ nqn: c.hostnqn, id: c.hostid });
    const order = <T>(xs: T[]) => (reverse ? [...xs].reverse() : xs);
    const out = order(hosts).map((h) => ({
      HostNQN: h.nqn,
      HostID: h.id,
      Subsystems: order(subsystems.filter((s) => s.ctrls.some((c) => c.hostnqn === h.nqn))).map((s) => ({
        Name: s.name,
        NQN: s.nqn,
        IOPolicy: this.v === "2.3" ? undefined : "numa",
        Type: this.v === "2.11" ? (s.nqn === "nqn.2014-08.org.nvmexpress.discovery" ? "discovery" : "nvm") : undefined,
        Paths: s.ctrls.filter((c) => c.hostnqn === h.nqn).map(pathJson),
      })),
    }));
    return { stdout: `${printJson(out, this.v)}\n`, stderr: "", code: 0 };
  }

  async discover(args: readonly string[]): Promise<Output> {
    const o = parseArgs("discover", args, CONNECT_OPTS);
    if (isOutput(o)) return o;
    const port = o.trsvcid || "8009";
    const key = o.traddr?.includes(":") ? `[${o.traddr}]:${port}` : `${o.traddr}:${port}`;
    const fixed = this.knobs.discovery?.[key] ?? this.knobs.discovery?.[`${o.traddr}:${port}`] ?? this.knobs.discovery?.[o.traddr ?? ""];
    const hostnqn = o.hostnqn || this.hostFile("hostnqn") || "";
    const log = fixed ? { genctr: 1, records: fixed } : this.knobs.discoveryFrom && o.traddr ? await this.askArray(o.traddr, port, hostnqn) : undefined;
    if (!log) return discoverRefused(this.v);
    const records = log.records;
    // An empty log page: nvme-cli says so in words, JSON asked or not.
    if (records.length === 0) return { stdout: "No discovery log entries to fetch.\n", stderr: "", code: 0 };
    const v1 = this.v === "1.16";
    const subtype = (s: string) => (!v1 ? s : s === "current discovery subsystem" ? "unrecognized" : s === "discovery subsystem referral" ? "discovery subsystem" : s);
    const list = records.map((r) => ({
      trtype: r.trtype ?? "tcp",
      adrfam: r.adrfam ?? (r.traddr.includes(":") ? "ipv6" : "ipv4"),
      subtype: subtype(r.subtype),
      treq: r.treq ?? "not specified, sq flow control disable supported",
      portid: r.portid ?? 1,
      trsvcid: r.trsvcid,
      subnqn: r.subnqn,
      traddr: r.traddr,
      eflags: v1 ? undefined : "none",
      sectype: "none",
    }));
    if (o.format !== "json") {
      // Plain text is not needed by the provider; JSON is what it asks for.
      return { stdout: `${printJson({ genctr: log.genctr, records: list }, this.v)}\n`, stderr: "", code: 0 };
    }
    const body = v1 ? { device: `nvme${this.tree.freeInstance()}`, genctr: log.genctr, records: list } : { genctr: log.genctr, records: list };
    return { stdout: `${printJson(body, this.v)}\n`, stderr: "", code: 0 };
  }
}

/** The emulated array's answer for this discovery endpoint and host; undefined when it refuses or cannot be reached. */
function askArray(knobs: SimKnobs, traddr: string, trsvcid: string, hostnqn: string): Promise<{ genctr: number; records: SimDiscoveryRecord[] } | undefined> {
  const url = new URL("/__emulator/discovery", knobs.discoveryFrom);
  url.search = new URLSearchParams({ traddr, trsvcid, hostnqn }).toString();
  const get = url.protocol === "https:" ? https.get : http.get;
  return new Promise((resolve) => {
    const req = get(url, { timeout: 10_000, ...(knobs.discoveryCaCert ? { ca: knobs.discoveryCaCert } : {}) }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        if (res.statusCode !== 200) return resolve(undefined);
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { genctr?: number; records?: SimDiscoveryRecord[] };
          resolve({ genctr: body.genctr ?? 1, records: body.records ?? [] });
        } catch {
          resolve(undefined);
        }
      });
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(undefined));
  });
}

/** libnvme's lookup_ctrl: transport, addresses, port, subsystem, host interface (and host NQN from 2.6). */
function samePathUserspace(c: SimController, w: { transport: string; traddr: string; trsvcid: string; subsysnqn: string; hostnqn: string; hostTraddr?: string; hostIface?: string }, hostAware: boolean): boolean {
  return (
    c.transport === w.transport &&
    c.traddr === w.traddr &&
    c.trsvcid === w.trsvcid &&
    c.subsysnqn === w.subsysnqn &&
    (c.hostTraddr ?? "") === (w.hostTraddr ?? "") &&
    (c.hostIface ?? "") === (w.hostIface ?? "") &&
    (!hostAware || c.hostnqn === w.hostnqn)
  );
}

/** nvmf_ctlr_matches_baseopts + nvmf_ip_options_match, as strings. */
function samePathKernel(c: SimController, w: { traddr: string; trsvcid: string; subsysnqn: string; hostnqn: string; hostid: string; hostTraddr?: string; hostIface?: string }): boolean {
  return (
    c.subsysnqn === w.subsysnqn &&
    c.hostnqn === w.hostnqn &&
    c.hostid === w.hostid &&
    c.traddr === w.traddr &&
    c.trsvcid === w.trsvcid &&
    (c.hostTraddr ?? "") === (w.hostTraddr ?? "") &&
    (c.hostIface ?? "") === (w.hostIface ?? "")
  );
}

/** Run one simulated invocation; returns what the process should print and its exit code. */
export async function runSim(root: string, argv: readonly string[]): Promise<Output> {
  fs.appendFileSync(path.join(root, "calls.log"), `${JSON.stringify(argv)}\n`);
  const knobs = readKnobs(root);
  const sim = new Sim(root, knobs);
  const [cmd, ...args] = argv;
  if (cmd !== undefined && knobs.hangCommands?.includes(cmd)) await sleep(knobs.hangMs ?? 3_600_000);
  switch (cmd) {
    case "version":
    case "--version":
      return { stdout: versionText(sim.v), stderr: "", code: 0 };
    case "connect":
      return sim.connect(args);
    case "disconnect":
      return sim.disconnect(args);
    case "disconnect-all":
      return sim.disconnectAll();
    case "list-subsys":
      return sim.listSubsys(args);
    case "discover":
      return sim.discover(args);
    default:
      return { stdout: "", stderr: `simulated nvme ${sim.v}: command ${JSON.stringify(cmd ?? "")} is not simulated\n`, code: 1 };
  }
}

/** Entry point of `<dir>/bin/nvme`. */
export async function main(root: string, argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  const out = await runSim(root, argv);
  process.stdout.write(out.stdout);
  process.stderr.write(out.stderr);
  const done = () => {
    // From process start to exit: what a caller waits for, so a benchmark can subtract simulated time.
    fs.appendFileSync(path.join(root, "times.log"), `${JSON.stringify([performance.timeOrigin, performance.timeOrigin + performance.now(), argv[0] ?? ""])}\n`);
    if (out.signal) process.kill(process.pid, out.signal);
    process.exitCode = out.code < 0 ? 1 : out.code;
  };
  // Flush the pipes before leaving, or a parent could read a truncated output.
  process.stdout.write("", () => process.stderr.write("", done));
}

