/**
 * Fault knobs of the simulated host, kept in `<dir>/knobs.json` and read by every invocation of the
 * simulated `nvme`, so a test can change behaviour between calls without restarting anything.
 */
import * as fs from "node:fs";
import * as path from "node:path";

export type SimVersion = "1.16" | "2.3" | "2.8" | "2.11";

/** Failure to inject on connect: one of the failure classes, or a specific kernel errno name. */
export type SimFailure =
  | "already-connected"
  | "refused"
  | "unreachable"
  | "rejected-by-target"
  | "invalid-argument"
  | "no-nvme-fabrics-module"
  | "timeout"
  | "other"
  | "EALREADY" | "ECONNREFUSED" | "EHOSTUNREACH" | "ENETUNREACH" | "ETIMEDOUT" | "EIO" | "ECONNRESET"
  | "EKEYREJECTED" | "EINVAL" | "ENODEV" | "EADDRINUSE" | "EADDRNOTAVAIL" | "EOPNOTSUPP" | "ENOMEM";

/** Behaviour of one target path, keyed in {@link SimKnobs.paths} by `traddr` or `traddr:port` (`[v6]:port`). */
export interface PathKnobs {
  /** Make `nvme connect` fail like this version fails for that errno (exact stderr and exit code). */
  readonly fail?: SimFailure;
  /**
   * Time the kernel takes to answer `nvme connect` (ms). Spent holding the host's one fabrics mutex, as
   * the kernel does (`nvmf_dev_mutex`): parallel connects on one host take their turns.
   */
  readonly latencyMs?: number;
  /**
   * The SDT drops SYNs: the connect holds the fabrics mutex for {@link SimKnobs.synTimeoutMs}, then fails
   * with ETIMEDOUT, as nvme-tcp does after its one SYN retry.
   */
  readonly dropSyn?: boolean;
  /** Connect succeeds but the controller stays `connecting` (no `src_addr`), as with a target gone quiet. */
  readonly stuckConnecting?: boolean;
  /**
   * What `nvme disconnect` does to a controller of this path: `remove` (default, synchronous like the
   * kernel), `keep` (the controller stays, state `deleting`), or `{ afterMs }` (state `deleting`, removed
   * by a background reaper after that long).
   */
  readonly disconnect?: "remove" | "keep" | { readonly afterMs: number };
  /** Any nvme command for this path sleeps past every timeout. */
  readonly hang?: boolean;
}

/** A discovery log entry served by `nvme discover`. */
export interface SimDiscoveryRecord {
  readonly trtype?: string;
  readonly adrfam?: string;
  /** `nvme subsystem`, `current discovery subsystem`, `discovery subsystem referral`. */
  readonly subtype: string;
  readonly treq?: string;
  readonly portid?: number;
  readonly trsvcid: string;
  readonly subnqn: string;
  readonly traddr: string;
}

/** The whole `<dir>/knobs.json`. */
export interface SimKnobs {
  /** nvme-cli version to behave like. */
  readonly version: SimVersion;
  /** Per target path: `traddr` or `traddr:port` (the more specific key wins). */
  readonly paths?: Readonly<Record<string, PathKnobs>>;
  /** Namespaces per subsystem NQN, created as heads when a subsystem first appears. */
  readonly namespaces?: Readonly<Record<string, readonly { readonly nsid: number; readonly nguid?: string }[]>>;
  /**
   * Discovery log per discovery endpoint (`traddr:port` or `traddr`). Missing: asked of {@link discoveryFrom}
   * when set, else connection refused.
   */
  readonly discovery?: Readonly<Record<string, readonly SimDiscoveryRecord[]>>;
  /**
   * Base URL of an emulated gateway (`https://127.0.0.1:port`): an endpoint without a static `discovery`
   * entry answers what the emulator's `GET /__emulator/discovery` says PowerFlex's discovery controller
   * would log for this host NQN (its load balancer's plan); the emulator's 404 is a refused connection.
   */
  readonly discoveryFrom?: string;
  /** CA certificate (PEM) to trust for an https {@link discoveryFrom} (the emulator's `caCert`). */
  readonly discoveryCaCert?: string;
  /**
   * Kernel to behave like: `5.4` (before 5.7, e.g. Ubuntu 20.04) has no `hostnqn`/`hostid` attribute per
   * controller and no check of host NQN/host ID pairs; default a 6.x kernel (6.5+: one host ID per host NQN).
   */
  readonly kernel?: "5.4";
  /** Source address the simulated kernel shows in `src_addr=` (default 192.0.2.1 / fd00::1). */
  readonly srcAddr?: string;
  /** How long a connect to a `dropSyn` path takes to fail (ms). Default {@link SYN_TIMEOUT_MS}. */
  readonly synTimeoutMs?: number;
  /** Subcommands (`version`, `list-subsys`, …) that hang. */
  readonly hangCommands?: readonly string[];
  /** How long a hang lasts (ms). Default one hour. */
  readonly hangMs?: number;
}

/**
 * nvme-tcp's connect to an address that drops SYNs: a SYN, one retry after 1 s (TCP_SYNCNT 1), ETIMEDOUT
 * 2 s later. Debian 12's kernel under QEMU took 3.35 s (test/kernel/syn-drop.test.ts).
 */
export const SYN_TIMEOUT_MS = 3_000;

export function knobsPath(root: string): string {
  return path.join(root, "knobs.json");
}

export function readKnobs(root: string): SimKnobs {
  const text = fs.readFileSync(knobsPath(root), "utf8");
  return JSON.parse(text) as SimKnobs;
}

export function writeKnobs(root: string, knobs: SimKnobs): void {
  const file = knobsPath(root);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(knobs, null, 2)}\n`);
  fs.renameSync(tmp, file);
}

/** Knobs of the path `traddr`/`port`: `traddr:port` (IPv6 `[addr]:port`) first, then `traddr`. */
export function pathKnobs(knobs: SimKnobs, traddr: string, port: string): PathKnobs {
  const paths = knobs.paths ?? {};
  const withPort = traddr.includes(":") ? `[${traddr}]:${port}` : `${traddr}:${port}`;
  return paths[withPort] ?? paths[`${traddr}:${port}`] ?? paths[traddr] ?? {};
}
