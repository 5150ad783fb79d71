import * as ipaddr from "ipaddr.js";

/**
 * The identity of one NVMe/TCP path (one fabrics controller). The kernel treats two connects with equal
 * identities as the same controller (EALREADY), so this is also how we find "our" controller in sysfs.
 * Controller names (`nvme3`) are not part of it: the kernel reuses them at once.
 */
export interface PathIdentity {
  /** Always `tcp` in this project. */
  readonly transport: "tcp";
  /**
   * Target address as text. We connect with its canonical text ({@link canonicalIp}); a controller read
   * from sysfs carries the text the kernel holds, which the kernel compares as a string.
   */
  readonly traddr: string;
  /** Target port (the SDT's `nvmePort`, usually 4420). */
  readonly trsvcid: number;
  /** Subsystem NQN (one per PowerFlex system). */
  readonly subsysnqn: string;
  /** Host NQN we connect as. */
  readonly hostnqn: string;
  /** Host ID (lower-case UUID) we connect as. */
  readonly hostid: string;
  /** Source address on the host, when pinned. Text, like {@link traddr}. */
  readonly hostTraddr?: string;
  /** Source interface on the host, when pinned. */
  readonly hostIface?: string;
}

/** Error for an address that is not a plain IPv4 or IPv6 literal. */
export class InvalidAddressError extends Error {
  constructor(readonly value: string, readonly reason: string) {
    super(`"${value}" is not a usable IP address: ${reason}`);
    this.name = "InvalidAddressError";
  }
}

/**
 * Canonical text of an IP address: IPv4 dotted quad; IPv6 compressed and lower case (RFC 5952), no
 * brackets, zone kept (`fe80::1%eth0`); an IPv4-mapped IPv6 address becomes its IPv4 form. The kernel
 * compares `traddr` as a string, so connecting with one canonical text is what keeps us from making a
 * second controller for the same path, and what lets us find the one we made.
 */
export function canonicalIp(value: string): string {
  let text = value.trim();
  if (text.startsWith("[") && text.endsWith("]")) text = text.slice(1, -1);
  if (text === "") throw new InvalidAddressError(value, "it is empty");
  if (text.includes(".") && !text.includes(":")) {
    // Reject forms the kernel and libc read differently (octal `010.0.0.1`, short `1.2.3`).
    if (!ipaddr.IPv4.isValidFourPartDecimal(text)) {
      throw new InvalidAddressError(value, "an IPv4 address needs four decimal parts without leading zeros");
    }
    return ipaddr.IPv4.parse(text).toString();
  }
  if (!ipaddr.IPv6.isValid(text)) throw new InvalidAddressError(value, "not an IPv4 or IPv6 literal");
  const v6 = ipaddr.IPv6.parse(text);
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address().toString();
  return v6.toRFC5952String();
}

/** True when `value` is an IP literal {@link canonicalIp} accepts. */
export function isIp(value: string): boolean {
  try {
    canonicalIp(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether a controller is this path: the one matcher (planner, sysfs reader, nvme-cli adapter, status).
 * It is the kernel's own rule (nvmf_ctlr_matches_baseopts, nvmf_ip_options_match): subsystem NQN, host
 * NQN, address, port and host address/interface compared as text, so `FD00:0:0::3` is another path than
 * our `fd00::3`; the host ID as a UUID. A controller without an identity (another transport, a discovery
 * controller) is never a path of ours.
 */
export function isPath(ctrl: { readonly identity?: PathIdentity }, id: PathIdentity): boolean {
  const c = ctrl.identity;
  return (
    c !== undefined &&
    c.transport === id.transport &&
    c.traddr === id.traddr &&
    c.trsvcid === id.trsvcid &&
    c.subsysnqn === id.subsysnqn &&
    c.hostnqn === id.hostnqn &&
    c.hostid.toLowerCase() === id.hostid.toLowerCase() &&
    (c.hostTraddr ?? "") === (id.hostTraddr ?? "") &&
    (c.hostIface ?? "") === (id.hostIface ?? "")
  );
}

/** A stable string key for an identity (the ledger's record key): equal identities, equal keys. */
export function identityKey(id: PathIdentity): string {
  return [
    id.transport,
    id.traddr,
    String(id.trsvcid),
    id.subsysnqn,
    id.hostnqn,
    id.hostid.toLowerCase(),
    id.hostTraddr ?? "",
    id.hostIface ?? "",
  ].join("|");
}

/** Short human label for messages: `10.0.0.1:4420 (nqn.…:abc) as nqn.…:host`. */
export function describePath(id: PathIdentity): string {
  const addr = id.traddr.includes(":") ? `[${id.traddr}]` : id.traddr;
  return `${addr}:${id.trsvcid} (${id.subsysnqn}) as ${id.hostnqn}`;
}
