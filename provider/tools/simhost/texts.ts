/**
 * What each nvme-cli version prints, byte for byte, as recorded in test/fixtures/nvme-cli/harness
 * (real 1.16, 2.3, 2.8 and 2.11 binaries). Only texts: the behaviour lives in sim.ts.
 */
import type { SimFailure, SimVersion } from "./knobs";

export interface Output {
  stdout: string;
  stderr: string;
  code: number;
  /** Die by this signal instead of exiting (2.10+/2.11 SIGSEGV on `disconnect -d a,b`). */
  signal?: NodeJS.Signals;
}

interface Errno {
  readonly code: number;
  readonly strerror: string;
  /** libnvme's second line (`could not add new controller: …`); per-version overrides below. */
  readonly libnvme: string;
}

const GENERIC = "failed to write to nvme-fabrics device";
export const ERRNO: Record<string, Errno> = {
  EALREADY: { code: 114, strerror: "Operation already in progress", libnvme: "already connected" },
  ECONNREFUSED: { code: 111, strerror: "Connection refused", libnvme: "connection refused" },
  EINVAL: { code: 22, strerror: "Invalid argument", libnvme: "invalid arguments/configuration" },
  ENODEV: { code: 19, strerror: "No such device", libnvme: "invalid interface" },
  EADDRINUSE: { code: 98, strerror: "Address already in use", libnvme: "hostnqn already in use" },
  EADDRNOTAVAIL: { code: 99, strerror: "Cannot assign requested address", libnvme: "cannot assign requested address" },
  EOPNOTSUPP: { code: 95, strerror: "Operation not supported", libnvme: "not supported" },
  EHOSTUNREACH: { code: 113, strerror: "No route to host", libnvme: GENERIC },
  ENETUNREACH: { code: 101, strerror: "Network is unreachable", libnvme: GENERIC },
  ETIMEDOUT: { code: 110, strerror: "Connection timed out", libnvme: GENERIC },
  EIO: { code: 5, strerror: "Input/output error", libnvme: GENERIC },
  ECONNRESET: { code: 104, strerror: "Connection reset by peer", libnvme: GENERIC },
  EKEYREJECTED: { code: 129, strerror: "Key was rejected by service", libnvme: GENERIC },
  ENOMEM: { code: 12, strerror: "Cannot allocate memory", libnvme: GENERIC },
};

/** The errno a failure class stands for (one representative each). */
const CLASS_ERRNO: Record<string, string> = {
  "already-connected": "EALREADY",
  refused: "ECONNREFUSED",
  unreachable: "EHOSTUNREACH",
  "rejected-by-target": "EIO",
  "invalid-argument": "EINVAL",
  timeout: "ETIMEDOUT",
  other: "ENOMEM",
};

const is1x = (v: SimVersion) => v === "1.16";

/** `nvme connect` when write(/dev/nvme-fabrics) fails with `errnoName`. */
export function kernelConnectFailure(v: SimVersion, errnoName: string): Output {
  const e = ERRNO[errnoName];
  if (!e) throw new Error(`simulated nvme: unknown errno ${errnoName}`);
  if (is1x(v)) {
    // 1.14-1.16 print nothing at all for EALREADY; the exit code is the errno.
    return { stdout: "", stderr: errnoName === "EALREADY" ? "" : `Failed to write to /dev/nvme-fabrics: ${e.strerror}\n`, code: e.code };
  }
  // libnvme 1.3 (2.3) had no text for EADDRNOTAVAIL yet.
  const lib = v === "2.3" && errnoName === "EADDRNOTAVAIL" ? GENERIC : e.libnvme;
  const first = v === "2.11" ? "" : `Failed to write to /dev/nvme-fabrics: ${e.strerror}\n`;
  return { stdout: "", stderr: `${first}could not add new controller: ${lib}\n`, code: 1 };
}

/** `nvme connect` when /dev/nvme-fabrics does not exist (nvme-fabrics module not loaded). */
export function noFabricsDevice(v: SimVersion): Output {
  const open = "Failed to open /dev/nvme-fabrics: No such file or directory\n";
  if (is1x(v)) return { stdout: "", stderr: open, code: 2 };
  const tail = "could not add new controller: failed to open nvme-fabrics device\n";
  if (v === "2.3") return { stdout: "", stderr: open + tail, code: 1 };
  const ignored = ["transport", "traddr", "host_traddr", "host_iface", "trsvcid", "hostnqn", "hostid"].map((o) => `option "${o}" ignored\n`).join("");
  return { stdout: "", stderr: open + ignored + open + tail, code: 1 };
}

/** Output of an injected failure (class or errno name). */
export function injectedFailure(v: SimVersion, fail: SimFailure): Output {
  if (fail === "no-nvme-fabrics-module") return noFabricsDevice(v);
  return kernelConnectFailure(v, CLASS_ERRNO[fail] ?? fail);
}

/** 2.x user-space pre-check found the path in sysfs. */
export function alreadyConnectedPrecheck(): Output {
  return { stdout: "", stderr: "already connected\n", code: 1 };
}

/** Successful connect output for the `-o` given (undefined = none). */
export function connectOk(v: SimVersion, device: string, format: string | undefined): Output {
  let stdout = "";
  if (format === "json") stdout = is1x(v) ? `{\n  "device" : "${device}"\n}\n` : `{\n  "device":"${device}"\n}\n`;
  else if (v === "2.8" || v === "2.11") stdout = `connecting to device: ${device}\n`;
  else if (format === "normal") stdout = `device: ${device}\n`;
  return { stdout, stderr: "", code: 0 };
}

export function versionText(v: SimVersion): string {
  const lib: Record<SimVersion, string> = { "1.16": "", "2.3": "1.3", "2.8": "1.8", "2.11": "1.11.1" };
  return is1x(v) ? `nvme version ${v}\n` : `nvme version ${v} (git ${v})\nlibnvme version ${lib[v]} (git ${lib[v]})\n`;
}

/** `disconnect -d X` for a device that does not exist. `othersExist`: 2.3 leaks a stale errno (rc 1) then. */
export function disconnectMissing(v: SimVersion, device: string, othersExist: boolean): Output {
  if (is1x(v)) {
    return {
      stdout: "",
      stderr: `Failed to open /sys/class/nvme/${device}/delete_controller: No such file or directory\nFailed to disconnect by device name: ${device}\n`,
      code: 2,
    };
  }
  return { stdout: "", stderr: `Did not find device ${device}\n`, code: v === "2.3" && othersExist ? 1 : 0 };
}

export function disconnectNoArgs(v: SimVersion): Output {
  return is1x(v)
    ? { stdout: "", stderr: "need a -n or -d argument\n", code: 234 }
    : { stdout: "", stderr: "Neither device name [--device | -d] nor NQN [--nqn | -n] provided\n", code: 1 };
}

export function missingArgument(v: SimVersion, which: "nqn" | "traddr" | "transport"): Output {
  if (is1x(v)) {
    const t = { nqn: "need a -n argument\n", traddr: "need a address (-a) argument\n", transport: "" }[which];
    return { stdout: "", stderr: t, code: which === "transport" ? 139 : 234 };
  }
  const t = {
    nqn: "required argument [--nqn | -n] not specified\n",
    traddr: "required argument [--traddr | -a] not specified for transport tcp\n",
    transport: "required argument [--transport | -t] not specified\n",
  }[which];
  return { stdout: "", stderr: t, code: 1 };
}

/** `discover` that could not reach the discovery controller. */
export function discoverRefused(v: SimVersion): Output {
  if (is1x(v)) return { stdout: "", stderr: "Failed to write to /dev/nvme-fabrics: Connection refused\n", code: 111 };
  const first = v === "2.11" ? "" : "Failed to write to /dev/nvme-fabrics: Connection refused\n";
  return { stdout: "", stderr: `${first}failed to add controller, error connection refused\n`, code: 1 };
}

/**
 * Pretty JSON as the two printers write it: 1.x's own printer (`"key" : value`, empty object `{⏎⏎}`) and
 * json-c in 2.x (`"key":value`, empty array `[⏎<indent>]`). Both indent by two spaces, no slash escaping.
 */
export function printJson(value: unknown, v: SimVersion, indent = 0): string {
  const pad = "  ".repeat(indent);
  const sep = is1x(v) ? " : " : ":";
  if (Array.isArray(value)) {
    if (value.length === 0) return `[\n${pad}]`;
    return `[\n${value.map((x) => `${pad}  ${printJson(x, v, indent + 1)}`).join(",\n")}\n${pad}]`;
  }
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value).filter(([, x]) => x !== undefined);
    if (entries.length === 0) return is1x(v) ? `{\n\n${pad}}` : `{\n${pad}}`;
    return `{\n${entries.map(([k, x]) => `${pad}  ${JSON.stringify(k)}${sep}${printJson(x, v, indent + 1)}`).join(",\n")}\n${pad}}`;
  }
  return JSON.stringify(value);
}
