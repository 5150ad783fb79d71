import type { HostAccess, HostSettings } from "../access/access";
import { parseConnectOutput } from "./connect-output";
import { validateConnectOptions, type ConnectInputs, type ConnectOptions } from "./connect-options";
import { connectOptionEntries } from "./connect-table";
import { parseDiscover, type DiscoveryRecord } from "./discover";
import { classifyNvmeFailure, type NvmeFailureClass, type NvmeFailureClassification } from "./failure";
import { validateHostId, validateNqn } from "./hostid";
import { canonicalIp, describePath, type PathIdentity } from "./identity";
import { parseNvmeVersion, type NvmeVersion } from "./version";

/** A failed nvme-cli call: the class, the evidence, and a message for a human. */
export interface NvmeFailure extends NvmeFailureClassification {
  /** What happened, to which path, and what to do. */
  readonly message: string;
}

/** Outcome of {@link NvmeCli.connect}. A failure is a value: the engine decides what it means. */
export type ConnectResult =
  | {
      readonly ok: true;
      /** The controller this call created (from `-o json`); always confirm it in sysfs. */
      readonly device?: string;
    }
  | { readonly ok: false; readonly failure: NvmeFailure };

/** nvme-cli failed on something other than connect. */
export class NvmeCommandError extends Error {
  constructor(message: string, readonly failure: NvmeFailureClassification, readonly argv: readonly string[]) {
    super(message);
    this.name = "NvmeCommandError";
  }
}

/** Tunables of the adapter itself. */
export interface NvmeCliTuning {
  /** Timeout of quick commands (version, discover) in ms. Default 30 000. */
  readonly commandTimeoutMs?: number;
}

/** Refuse anything that nvme-cli's option parser could read as an option. */
function arg(value: string, field: string): string {
  if (value === "" || value.startsWith("-")) throw new Error(`${field} ${JSON.stringify(value)} is empty or starts with "-"; refusing to pass it to nvme-cli`);
  if (/[\s,\0]/.test(value)) throw new Error(`${field} ${JSON.stringify(value)} contains whitespace, a comma or NUL`);
  return value;
}

function portArg(port: number, field: string): string {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${field} ${String(port)} must be a whole number from 1 to 65535`);
  return String(port);
}

const ADVICE: Record<NvmeFailureClass, string> = {
  "already-connected": "a controller for this path exists already; read sysfs and adopt it instead of connecting again",
  refused: "check that the SDT listens on this address and port (nvmePort), and that no firewall rejects it",
  unreachable: "check routing and the host's storage network interface towards this SDT address",
  "rejected-by-target": "check that this host NQN is registered as an NVMe host in PowerFlex and the subsystem NQN is right (dmesg shows the target's reason)",
  "invalid-argument": "check the address, port, host NQN/host ID pair (the kernel keeps one host ID per host NQN and one host NQN per host ID; dmesg then says \"found same hostid … but different hostnqn\") and host interface",
  "no-nvme-fabrics-module": "load the modules: `modprobe nvme-tcp` (it pulls nvme-fabrics and nvme-core)",
  "no-nvme-cli": "install nvme-cli (Debian/Ubuntu: `apt-get install nvme-cli`; RHEL: `dnf install nvme-cli`) or set the nvmeCli path",
  timeout: "the target did not answer in time; check that the SDT address is up and that nothing on the way drops its port (nvmePort), then retry",
  other: "see nvme-cli's stderr above and dmesg",
};

/**
 * The nvme-cli adapter: the only place that builds nvme argv. Every value is validated before it goes on a
 * command line. It connects and discovers; it never disconnects: teardown deletes the one kernel object we
 * made through its own `delete_controller` (delete.ts), because `nvme disconnect -d nvmeN` acts on whatever
 * has that name by the time it runs.
 */
export class NvmeCli {
  private versionPromise?: Promise<NvmeVersion>;
  private readonly commandTimeoutMs: number;

  constructor(readonly host: HostAccess, readonly settings: HostSettings, tuning: NvmeCliTuning = {}) {
    this.commandTimeoutMs = tuning.commandTimeoutMs ?? 30_000;
  }

  /** `nvme version`, run once per adapter (a failed detection is retried on the next call). */
  version(): Promise<NvmeVersion> {
    this.versionPromise ??= this.detectVersion().catch((err: unknown) => {
      this.versionPromise = undefined;
      throw err;
    });
    return this.versionPromise;
  }

  private async detectVersion(): Promise<NvmeVersion> {
    const argv = [this.settings.nvmeCli, "version"];
    const r = await this.host.run(argv, { timeoutMs: this.commandTimeoutMs });
    if (r.exitCode !== 0) {
      const failure = classifyNvmeFailure({ exitCode: r.exitCode, stderr: r.stderr, timedOut: r.timedOut, notFound: r.notFound });
      throw new NvmeCommandError(`"${argv.join(" ")}" failed on ${this.host.description}: ${failure.reason}. ${ADVICE[failure.class]}.`, failure, argv);
    }
    return parseNvmeVersion(r.stdout);
  }

  /** The argv {@link connect} runs (exposed for tests and dry runs). Throws on an invalid value. */
  connectArgv(identity: PathIdentity, options: ConnectOptions = {}): string[] {
    const opts = validateConnectOptions(options);
    if (identity.transport !== "tcp") throw new Error(`transport ${JSON.stringify(identity.transport)} is not supported (only tcp)`);
    const traddr = arg(identity.traddr, "traddr");
    if (canonicalIp(traddr) !== traddr) {
      throw new Error(`traddr "${traddr}" is not in canonical form ("${canonicalIp(traddr)}"); connect with the canonical text so the controller can be found again`);
    }
    const argv = [
      this.settings.nvmeCli,
      "connect",
      "-t", "tcp",
      "-a", traddr,
      "-s", portArg(identity.trsvcid, "trsvcid"),
      "-n", arg(validateNqn(identity.subsysnqn, "subsysnqn"), "subsysnqn"),
      "-q", arg(validateNqn(identity.hostnqn, "hostnqn"), "hostnqn"),
      "-I", arg(validateHostId(identity.hostid, "hostid"), "hostid"),
    ];
    const hostTraddr = pick(identity.hostTraddr, opts.hostTraddr, "hostTraddr");
    if (hostTraddr !== undefined) {
      const canon = canonicalIp(arg(hostTraddr, "hostTraddr"));
      if (canon !== hostTraddr) throw new Error(`hostTraddr "${hostTraddr}" is not in canonical form ("${canon}")`);
    }
    const hostIface = pick(identity.hostIface, opts.hostIface, "hostIface");
    const { timeoutMs: _, ...tunables } = validateConnectOptions({ ...opts, hostTraddr, hostIface });
    argv.push(...optionArgv(tunables));
    argv.push("-o", "json");
    return argv;
  }

  /**
   * `nvme connect` for exactly this identity. A failure is returned, not thrown (already-connected is
   * often fine); invalid inputs throw before anything runs.
   */
  async connect(identity: PathIdentity, options: ConnectOptions = {}): Promise<ConnectResult> {
    const argv = this.connectArgv(identity, options);
    const version = await this.versionOrUndefined();
    const r = await this.host.run(argv, { timeoutMs: options.timeoutMs ?? 60_000 });
    if (r.exitCode === 0 && !r.timedOut) {
      try {
        return { ok: true, ...parseConnectOutput(r.stdout) };
      } catch {
        return { ok: true }; // it connected; sysfs will tell which controller
      }
    }
    const c = classifyNvmeFailure({ version, exitCode: r.exitCode, stderr: r.stderr, timedOut: r.timedOut, notFound: r.notFound });
    const detail = r.stderr.trim() === "" ? `exit code ${r.exitCode}, no message` : `nvme-cli said: ${r.stderr.trim().split("\n").join(" / ")}`;
    return {
      ok: false,
      failure: { ...c, message: `nvme connect to ${describePath(identity)} on ${this.host.description} failed: ${c.reason} (${detail}). ${ADVICE[c.class]}.` },
    };
  }

  private async versionOrUndefined(): Promise<NvmeVersion | undefined> {
    try {
      return await this.version();
    } catch {
      return undefined; // connect still runs; classification falls back to the text
    }
  }

  /**
   * `nvme discover` against a discovery port; returns every record of the log: the I/O subsystems (subtype
   * `nvme subsystem`) PowerFlex planned for this host, and referrals to other discovery controllers.
   */
  async discover(traddr: string, port: number, hostnqn: string, hostid: string, opts: { readonly timeoutMs?: number } = {}): Promise<DiscoveryRecord[]> {
    const addr = arg(traddr, "traddr");
    if (canonicalIp(addr) !== addr) throw new Error(`traddr "${addr}" is not in canonical form ("${canonicalIp(addr)}")`);
    const argv = [
      this.settings.nvmeCli,
      "discover",
      "-t", "tcp",
      "-a", addr,
      "-s", portArg(port, "discovery port"),
      "-q", arg(validateNqn(hostnqn, "hostnqn"), "hostnqn"),
      "-I", arg(validateHostId(hostid, "hostid"), "hostid"),
      "-o", "json",
    ];
    const r = await this.host.run(argv, { timeoutMs: opts.timeoutMs ?? this.commandTimeoutMs });
    if (r.exitCode !== 0 || r.timedOut) {
      const version = await this.versionOrUndefined();
      const failure = classifyNvmeFailure({ version, exitCode: r.exitCode, stderr: r.stderr, timedOut: r.timedOut, notFound: r.notFound });
      throw new NvmeCommandError(
        `nvme discover at ${addr}:${port} on ${this.host.description} failed: ${failure.reason} (${r.stderr.trim() || `exit code ${r.exitCode}`}). ${ADVICE[failure.class]}.`,
        failure,
        argv,
      );
    }
    return [...parseDiscover(r.stdout).records];
  }
}

/** The tunables as nvme-cli flags, in table order; every value was validated by the one schema. */
function optionArgv(options: ConnectInputs): string[] {
  const argv: string[] = [];
  for (const [key, spec] of connectOptionEntries()) {
    const value = options[key];
    if (value === undefined || value === false) continue;
    const flag = spec.spellings[0];
    if (value === true) argv.push(flag);
    else argv.push(flag, typeof value === "string" ? arg(value, key) : String(value));
  }
  return argv;
}

/** The identity's value wins; an option that disagrees with it is an error (it would make another path). */
function pick(fromIdentity: string | undefined, fromOptions: string | undefined, field: string): string | undefined {
  if (fromIdentity !== undefined && fromOptions !== undefined && fromIdentity !== fromOptions) {
    throw new Error(`${field} "${fromOptions}" in connect options differs from the path identity's "${fromIdentity}"`);
  }
  return fromIdentity ?? fromOptions;
}

