/**
 * A simulated host: a directory with an executable `bin/nvme` that behaves like nvme-cli 1.16, 2.3, 2.8
 * or 2.11 (per test/fixtures/nvme-cli), a sysfs tree it maintains like the kernel would, `/etc/nvme`,
 * a mount table and fault knobs. Point {@link HostSettings} at it and the real engine (with LocalHost)
 * drives it exactly as it drives a machine.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { HostSettings } from "../../host/access/access";
import { readKnobs, writeKnobs, type PathKnobs, type SimKnobs, type SimVersion } from "./knobs";
import { startKernel } from "./kernel";
import { SimTree, type SimController, type SimNamespace } from "./tree";

export type { SimKnobs, PathKnobs, SimVersion, SimFailure, SimDiscoveryRecord } from "./knobs";
export type { SimController, SimNamespace } from "./tree";

/** Options of {@link createSimHost}. */
export interface SimHostOptions {
  /** nvme-cli version to imitate. */
  readonly version: SimVersion;
  /** Content of `<dir>/etc/nvme/hostnqn`; default the reference host's NQN. `null` = no file. */
  readonly hostnqn?: string | null;
  /** Content of `<dir>/etc/nvme/hostid`; default the reference host's ID. `null` = no file. */
  readonly hostid?: string | null;
}

/** A controller somebody else made (another tool, another host NQN, a discovery controller, …). */
export interface ForeignControllerSpec {
  readonly traddr: string;
  /** Default 4420. */
  readonly trsvcid?: number | string;
  readonly subsysnqn: string;
  /** Default: the simulated host's own NQN. */
  readonly hostnqn?: string;
  /** Default: the simulated host's own ID. */
  readonly hostid?: string;
  readonly hostTraddr?: string;
  readonly hostIface?: string;
  /** Default `live`. */
  readonly state?: string;
  /** Default `io`; `discovery` for a discovery controller. */
  readonly cntrltype?: string;
  /** Default `tcp`. */
  readonly transport?: string;
  /** `src_addr` shown while live; `""` for none (kernels before 6.1). Default: knobs.srcAddr or a fixed address. */
  readonly srcAddr?: string;
  /** Controller ID; default the next of the host's counter (nvmet would reuse the lowest free one). */
  readonly cntlid?: number;
}

/** Handle on a simulated host. */
export interface SimHost {
  readonly dir: string;
  /** Settings that point the engine at this host. */
  readonly settings: HostSettings;
  /** Current knobs. */
  knobs(): SimKnobs;
  /** Replace all knobs. */
  setKnobs(knobs: SimKnobs): void;
  /** Change knobs with a function of the current ones. */
  updateKnobs(fn: (k: SimKnobs) => SimKnobs): void;
  /** Set (or with `undefined` clear) the knobs of one path: key `traddr` or `traddr:port`. */
  setPathKnobs(key: string, knobs: PathKnobs | undefined): void;
  /** Create a controller directly in sysfs, as if someone else had connected it. Returns its name. */
  addForeignController(spec: ForeignControllerSpec): string;
  /**
   * Expose a namespace in a subsystem: recorded in the knobs (so later connects see it) and, when the
   * subsystem exists now, created at once. Returns the head's block device when created.
   */
  addNamespace(subsysnqn: string, ns: SimNamespace): string | undefined;
  /** Take a namespace away (the target stopped exposing it). Returns the head that went, if any. */
  removeNamespace(subsysnqn: string, nsid: number): string | undefined;
  /** Add a mount of `/dev/<device>` (a namespace head or partition) to the mount table. */
  mount(device: string, mountpoint: string, fstype?: string): void;
  /** Turn on swap on `/dev/<device>` (a namespace head or partition): a line in the host's /proc/swaps. */
  swapOn(device: string): void;
  /** Make `holder` (e.g. `dm-0`) hold a namespace block device. */
  addHolder(device: string, holder: string): void;
  /** Force a controller's state (e.g. `connecting`, `resetting`). */
  setState(device: string, state: string): void;
  /** Controllers as the simulated kernel has them. */
  controllers(): SimController[];
  /** The simulated kernel's log (what dmesg would show), oldest first. */
  kernelLog(): string[];
  /** Every argv the simulated nvme received, oldest first. */
  calls(): string[][];
  /** Every controller the simulated kernel was asked to delete (through delete_controller or nvme-cli), oldest first. */
  deletes(): SimDeletion[];
  /**
   * Each finished invocation: its subcommand and [start, end] in epoch ms (process start to exit), in order
   * of exit; and each deletion through delete_controller (`delete_controller`: from the write to the removal).
   */
  commandTimes(): CommandTime[];
}

/** One deletion the simulated kernel carried out (`<dir>/deletes.log`). */
export interface SimDeletion {
  /** When the simulated kernel took the request (epoch ms). */
  readonly at: number;
  readonly device: string;
  readonly cntlid?: number;
  readonly traddr: string;
  readonly trsvcid: string;
  readonly subsysnqn: string;
  readonly hostnqn: string;
  /** `delete_controller` (a write to the attribute) or `nvme-cli` (the simulated `nvme disconnect`). */
  readonly by: string;
}

/** When one simulated nvme invocation ran (`<dir>/times.log`), e.g. to subtract it in a benchmark. */
export interface CommandTime {
  /** `connect`, `disconnect`, `version`, … */
  readonly command: string;
  readonly start: number;
  readonly end: number;
}

/** The reference host's identity (test/fixtures/nvme-cli: etc-nvme-std). */
export const DEFAULT_SIM_HOSTNQN = "nqn.2014-08.org.nvmexpress:uuid:db6c0bed-3fda-4bda-ad73-51b8d29506ab";
export const DEFAULT_SIM_HOSTID = "d24b6553-aa97-4c7c-aa4c-b51c022d8b7b";

/** Create (or reset the knobs of) a simulated host in `dir`. */
export function createSimHost(dir: string, options: SimHostOptions): SimHost {
  const root = path.resolve(dir);
  const tree = new SimTree(root);
  tree.ensureSkeleton();
  for (const d of ["bin", "run/pulumi-powerflex-nvme", "etc/nvme", "proc"]) fs.mkdirSync(path.join(root, d), { recursive: true });
  const etc = path.join(root, "etc", "nvme");
  const hostnqn = options.hostnqn === undefined ? DEFAULT_SIM_HOSTNQN : options.hostnqn;
  const hostid = options.hostid === undefined ? DEFAULT_SIM_HOSTID : options.hostid;
  if (hostnqn !== null) fs.writeFileSync(path.join(etc, "hostnqn"), `${hostnqn}\n`);
  if (hostid !== null) fs.writeFileSync(path.join(etc, "hostid"), `${hostid}\n`);
  const mounts = path.join(root, "proc", "mounts");
  if (!fs.existsSync(mounts)) fs.writeFileSync(mounts, "");
  fs.writeFileSync(path.join(root, "calls.log"), "", { flag: "a" });
  writeKnobs(root, { version: options.version });
  startKernel(root);

  // The executable: node runs the compiled simulator with this host's root (found from its own path, so
  // the directory can be moved).
  const simModule = path.join(__dirname, "sim.js");
  const bin = path.join(root, "bin", "nvme");
  fs.writeFileSync(
    bin,
    `#!/usr/bin/env node\n"use strict";\nrequire(${JSON.stringify(simModule)}).main(require("path").resolve(__dirname, ".."));\n`,
  );
  fs.chmodSync(bin, 0o755);

  const settings: HostSettings = {
    nvmeCli: bin,
    sysfsRoot: path.join(root, "sys"),
    // The simulated host's own /run/pulumi-powerflex-nvme: the fixed place next to its sysfs (ledger/home.ts).
    stateDir: path.join(root, "run", "pulumi-powerflex-nvme"),
    etcNvmeDir: etc,
    mountsFile: mounts,
  };

  const knobs = () => readKnobs(root);
  const setKnobs = (k: SimKnobs) => writeKnobs(root, k);
  const updateKnobs = (fn: (k: SimKnobs) => SimKnobs) => setKnobs(fn(knobs()));

  return {
    dir: root,
    settings,
    knobs,
    setKnobs,
    updateKnobs,
    setPathKnobs(key, pk) {
      updateKnobs((k) => {
        const paths = { ...(k.paths ?? {}) };
        if (pk === undefined) delete paths[key];
        else paths[key] = pk;
        return { ...k, paths };
      });
    },
    addForeignController(spec) {
      return tree.createController(
        {
          transport: spec.transport ?? "tcp",
          traddr: spec.traddr,
          trsvcid: String(spec.trsvcid ?? 4420),
          hostTraddr: spec.hostTraddr,
          hostIface: spec.hostIface,
          subsysnqn: spec.subsysnqn,
          hostnqn: spec.hostnqn ?? hostnqn ?? DEFAULT_SIM_HOSTNQN,
          hostid: (spec.hostid ?? hostid ?? DEFAULT_SIM_HOSTID).toLowerCase(),
          state: spec.state ?? "live",
          cntrltype: spec.cntrltype ?? "io",
          srcAddr: spec.srcAddr ?? spec.hostTraddr ?? knobs().srcAddr ?? (spec.traddr.includes(":") ? "fd00::1" : "192.0.2.1"),
          hostAttributes: knobs().kernel !== "5.4",
          ...(spec.cntlid !== undefined ? { cntlid: spec.cntlid } : {}),
        },
        knobs().namespaces?.[spec.subsysnqn] ?? [],
      );
    },
    addNamespace(subsysnqn, ns) {
      updateKnobs((k) => {
        const list = [...(k.namespaces?.[subsysnqn] ?? [])].filter((x) => x.nsid !== ns.nsid);
        return { ...k, namespaces: { ...(k.namespaces ?? {}), [subsysnqn]: [...list, ns] } };
      });
      const subsys = tree.subsystemNames().find((s) => tree.subsystemNqn(s) === subsysnqn);
      return subsys === undefined ? undefined : tree.addHead(subsys, ns);
    },
    removeNamespace(subsysnqn, nsid) {
      updateKnobs((k) => {
        const list = (k.namespaces?.[subsysnqn] ?? []).filter((x) => x.nsid !== nsid);
        return { ...k, namespaces: { ...(k.namespaces ?? {}), [subsysnqn]: list } };
      });
      const subsys = tree.subsystemNames().find((s) => tree.subsystemNqn(s) === subsysnqn);
      return subsys === undefined ? undefined : tree.removeHead(subsys, nsid);
    },
    mount(device, mountpoint, fstype = "ext4") {
      const esc = mountpoint.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, "0")}`);
      fs.appendFileSync(mounts, `/dev/${device} ${esc} ${fstype} rw,relatime 0 0\n`);
    },
    swapOn(device) {
      const swaps = path.join(root, "proc", "swaps");
      if (!fs.existsSync(swaps)) fs.writeFileSync(swaps, "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n");
      fs.appendFileSync(swaps, `/dev/${device}                          partition\t8388604\t\t0\t\t-2\n`);
    },
    addHolder(device, holder) {
      fs.mkdirSync(path.join(root, "sys", "block", device, "holders"), { recursive: true });
      fs.writeFileSync(path.join(root, "sys", "block", device, "holders", holder), "");
    },
    setState(device, state) {
      tree.setState(device, state);
    },
    controllers: () => tree.controllers(),
    kernelLog: () => lines(path.join(root, "kmsg")),
    calls: () => lines(path.join(root, "calls.log")).map((l) => JSON.parse(l) as string[]),
    deletes: () => lines(path.join(root, "deletes.log")).map((l) => JSON.parse(l) as SimDeletion),
    commandTimes: () =>
      lines(path.join(root, "times.log")).map((l) => {
        const [start, end, command] = JSON.parse(l) as [number, number, string];
        return { command, start, end };
      }),
  };
}

/** The non-empty lines of a log the simulated commands append to; none while it does not exist. */
function lines(file: string): string[] {
  return fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").filter((l) => l !== "") : [];
}
