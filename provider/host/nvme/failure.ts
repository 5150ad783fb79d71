import type { NvmeVersion } from "./version";
import { parseNvmeVersion } from "./version";

/** Why an nvme-cli call failed, in terms the engine can act on. */
export type NvmeFailureClass =
  /** The same path (subsystem, address, port, host NQN/ID) already has a controller (EALREADY). */
  | "already-connected"
  /** Nothing listens on the target port (ECONNREFUSED). */
  | "refused"
  /** No route / network unreachable / connection reset. */
  | "unreachable"
  /** The target refused the NVMe Connect (EIO, key rejected): unknown subsystem NQN or host not allowed. */
  | "rejected-by-target"
  /** The kernel or nvme-cli rejected an option (EINVAL, ENODEV, EADDRINUSE, EADDRNOTAVAIL, usage errors). */
  | "invalid-argument"
  /** nvme-fabrics / nvme-tcp / nvme_core is not loaded (no /dev/nvme-fabrics, no NVMe sysfs). */
  | "no-nvme-fabrics-module"
  /** The nvme executable does not exist. */
  | "no-nvme-cli"
  /** ETIMEDOUT from the kernel (an SDT that drops SYNs), or the command ran past our timeout (see `killed`). */
  | "timeout"
  | "other";

/** A classified failure: the class plus the raw evidence. */
export interface NvmeFailureClassification {
  readonly class: NvmeFailureClass;
  /** Exit code as received (-1 when killed or not started). */
  readonly exitCode: number;
  /** stderr exactly as nvme-cli printed it. */
  readonly stderr: string;
  /** One sentence on what the evidence means. */
  readonly reason: string;
  /**
   * nvme-cli was killed (our timeout, a signal) before it could report the kernel's answer: a connect may
   * still complete in the kernel. False when the kernel answered, ETIMEDOUT included: nothing comes later.
   */
  readonly killed: boolean;
}

export interface ClassifyInput {
  /** Version of the binary, or its text (`2.11`), or undefined when unknown. */
  readonly version?: NvmeVersion | string;
  readonly exitCode: number;
  readonly stderr: string;
  /** The command was killed by our timeout. */
  readonly timedOut?: boolean;
  /** The executable was not found. */
  readonly notFound?: boolean;
}

function majorOf(version: NvmeVersion | string | undefined): number | undefined {
  if (version === undefined) return undefined;
  if (typeof version !== "string") return version.major;
  const m = /^(\d+)\./.exec(version);
  if (m) return Number(m[1]);
  try {
    return parseNvmeVersion(version).major;
  } catch {
    return undefined;
  }
}

interface Rule {
  readonly cls: NvmeFailureClass;
  /** Text in stderr (any version). */
  readonly text?: RegExp;
  /** 1.x exit codes (= errno) that mean this class. */
  readonly v1Codes?: readonly number[];
  readonly reason: string;
}

// Order matters: more specific evidence first. 1.x exits with the errno; 2.x exits 1 and says it in text.
const RULES: readonly Rule[] = [
  {
    cls: "already-connected",
    // libnvme 1.1-1.2 spelled it "connnected".
    text: /already con+nected|Operation already in progress/,
    v1Codes: [114, 70, 142],
    reason: "a controller for this exact path already exists (EALREADY)",
  },
  {
    cls: "no-nvme-fabrics-module",
    text: /Failed to open \/dev\/nvme-fabrics|failed to open nvme-fabrics device|Failed to scan topolo?gy/,
    reason: "the NVMe fabrics kernel modules are not loaded (no /dev/nvme-fabrics or no NVMe sysfs)",
  },
  {
    cls: "refused",
    text: /[Cc]onnection refused/,
    v1Codes: [111],
    reason: "the target refused the TCP connection (nothing listens on that address and port)",
  },
  {
    cls: "timeout",
    text: /Connection timed out/,
    v1Codes: [110],
    // nvme-tcp sends one SYN retry (TCP_SYNCNT 1): about 3 s, during which the kernel's fabrics mutex is held.
    reason: "the SDT did not answer the TCP connect (SYNs dropped or filtered, or the address is down); the kernel gave up after one SYN retry, about 3 s, and the host's other NVMe connects waited meanwhile",
  },
  {
    cls: "unreachable",
    text: /No route to host|Network is unreachable|Connection reset by peer/,
    v1Codes: [113, 101, 104],
    reason: "the target address is unreachable from this host (no route, network down or connection reset)",
  },
  {
    cls: "rejected-by-target",
    text: /Input\/output error|Key was rejected by service/,
    v1Codes: [5, 129],
    reason: "the target rejected the NVMe Connect (unknown subsystem NQN, or this host NQN is not allowed)",
  },
  {
    cls: "invalid-argument",
    text: /Invalid argument|invalid arguments\/configuration|No such device|invalid interface|Address already in use|hostnqn already in use|[Cc]annot assign requested address|Operation not supported|could not add new controller: not supported|required argument|unrecognized option|Expected integer argument|need an? .*argument|Invalid output format/,
    v1Codes: [22, 19, 98, 99, 95, 234],
    reason: "the kernel or nvme-cli rejected an option (bad address, interface, host NQN/ID pair, or unsupported option)",
  },
  {
    cls: "other",
    text: /Cannot allocate memory/,
    v1Codes: [12],
    reason: "the kernel ran out of memory",
  },
  {
    // 2.11 prints only libnvme's generic line for EIO, ETIMEDOUT, EHOSTUNREACH, …; the most common
    // cause on a reachable target is a rejected Connect. The reason says it is ambiguous.
    cls: "rejected-by-target",
    text: /could not add new controller: failed to write to nvme-fabrics device/,
    reason:
      "the kernel refused the connect; this nvme-cli does not say why (usually the target rejected the host NQN or subsystem NQN, " +
      "but an unreachable or silent target looks the same: check dmesg)",
  },
];

/**
 * Classify a failed nvme-cli call from its version, exit code and stderr. Works for 1.x (exit code =
 * errno, sometimes no text at all) and 2.x (exit code 1, text). The raw stderr is kept.
 */
export function classifyNvmeFailure(input: ClassifyInput): NvmeFailureClassification {
  const base = { exitCode: input.exitCode, stderr: input.stderr, killed: !input.notFound && (input.timedOut === true || input.exitCode < 0) };
  if (input.notFound) return { ...base, class: "no-nvme-cli", reason: "the nvme executable (nvme-cli) was not found" };
  if (input.timedOut) return { ...base, class: "timeout", reason: "nvme-cli did not finish in time and was killed" };
  if (input.exitCode === 127 && /not found|No such file/.test(input.stderr)) {
    return { ...base, class: "no-nvme-cli", reason: "the nvme executable (nvme-cli) was not found" };
  }
  const major = majorOf(input.version);
  // Without a known version, trust an errno-like exit code only when it cannot be 2.x's generic 1.
  const codesApply = major === 1 || (major === undefined && input.exitCode > 1);
  for (const rule of RULES) {
    if (rule.text?.test(input.stderr)) return { ...base, class: rule.cls, reason: rule.reason };
  }
  if (codesApply) {
    for (const rule of RULES) {
      if (rule.v1Codes?.includes(input.exitCode)) return { ...base, class: rule.cls, reason: rule.reason };
    }
  }
  const why = input.exitCode < 0 ? `nvme-cli was killed (exit ${input.exitCode})` : `nvme-cli failed with exit code ${input.exitCode}`;
  return { ...base, class: "other", reason: why };
}
