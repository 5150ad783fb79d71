/**
 * The `nvme connect` tunables, once: limits, nvme-cli spellings, the kernel's option name and default, and
 * the per-controller sysfs attribute that shows the value. The zod schema (connect-options.ts), the argv
 * (cli.ts), the simulated nvme-cli's parser and the docs table are all built from this. Plain data with
 * no imports: the simulated `nvme` loads it on every call.
 *
 * Limits are what the kernel's nvmf_parse_options (drivers/nvme/host/fabrics.c) accepts, narrowed only
 * where one spelling is enough or a wider value would be cut short further down the line.
 */

/** Largest value `match_int` takes (options are C ints). */
export const INT_MAX = 2_147_483_647;

interface Common {
  /** What nvme-cli understands (short and long); the first one is what we pass. */
  readonly spellings: readonly [string, ...string[]];
  /** Name in the option string nvme-cli writes to /dev/nvme-fabrics. */
  readonly kernel: string;
  /** One line for the docs table. */
  readonly doc: string;
}

export interface IntOption extends Common {
  readonly kind: "int";
  readonly min: number;
  readonly max: number;
  /** What a number counts (in messages). */
  readonly unit: string;
  /** The message for a value outside min..max. */
  readonly range: string;
  /** What the kernel uses when the option is not given (setting it to this is no change). */
  readonly default?: number;
  /** Attribute under /sys/class/nvme/nvmeN that shows it. */
  readonly sysfs?: string;
}

export interface FlagOption extends Common {
  readonly kind: "flag";
  readonly default: false;
}

export interface TextOption extends Common {
  /** `ip`: an IP address (canonical text); `iface`: a network interface name. */
  readonly kind: "ip" | "iface";
}

export type ConnectOptionSpec = IntOption | FlagOption | TextOption;

export const CONNECT_OPTIONS = {
  hostTraddr: {
    kind: "ip",
    spellings: ["-w", "--host-traddr"],
    kernel: "host_traddr",
    doc: "source IP address on the host (part of the path's identity)",
  },
  hostIface: {
    kind: "iface",
    spellings: ["-f", "--host-iface"],
    kernel: "host_iface",
    doc: "source network interface on the host (part of the path's identity)",
  },
  ctrlLossTmo: {
    kind: "int",
    // The kernel reads any negative number as "forever"; -1 is the one spelling we keep.
    min: -1,
    max: INT_MAX,
    unit: "seconds",
    range: "must be -1 (reconnect forever) or a whole number of seconds >= 0",
    spellings: ["-l", "--ctrl-loss-tmo"],
    kernel: "ctrl_loss_tmo",
    default: 600,
    sysfs: "ctrl_loss_tmo",
    doc: "seconds the kernel keeps reconnecting a lost path before it removes the controller; -1 forever",
  },
  reconnectDelay: {
    kind: "int",
    min: 1,
    max: INT_MAX,
    unit: "seconds",
    range: "must be a whole number of seconds >= 1",
    spellings: ["-c", "--reconnect-delay"],
    kernel: "reconnect_delay",
    default: 10,
    sysfs: "reconnect_delay",
    doc: "seconds between reconnect attempts",
  },
  keepAliveTmo: {
    kind: "int",
    // 0 would mean the default (5) to the kernel: leave it out instead. The Connect command carries the
    // timeout in milliseconds in 32 bits, so more than 4294967 s would wrap.
    min: 1,
    max: 4_294_967,
    unit: "seconds",
    range: "must be a whole number of seconds from 1 to 4294967",
    spellings: ["-k", "--keep-alive-tmo"],
    kernel: "keep_alive_tmo",
    default: 5,
    sysfs: "kato",
    doc: "keep-alive timeout in seconds",
  },
  nrIoQueues: {
    kind: "int",
    // The kernel caps it at the number of online CPUs; the NVMe queue count field is 16 bits.
    min: 1,
    max: 65_535,
    unit: "queues",
    range: "must be a whole number of queues from 1 to 65535",
    spellings: ["-i", "--nr-io-queues"],
    kernel: "nr_io_queues",
    doc: "I/O queues (the kernel uses at most one per online CPU; default one per CPU)",
  },
  fastIoFailTmo: {
    kind: "int",
    min: -1,
    max: INT_MAX,
    unit: "seconds",
    range: "must be -1 (off) or a whole number of seconds >= 0",
    // Long form only: nvme-cli 1.x spells it -f, which is --host-iface in 2.x.
    spellings: ["--fast_io_fail_tmo", "-F"],
    kernel: "fast_io_fail_tmo",
    default: -1,
    sysfs: "fast_io_fail_tmo",
    doc: "seconds after which I/O on a reconnecting path fails over instead of waiting; -1 off",
  },
  headerDigest: {
    kind: "flag",
    spellings: ["-g", "--hdr-digest"],
    kernel: "hdr_digest",
    default: false,
    doc: "CRC32C header digest on the NVMe/TCP connection",
  },
  dataDigest: {
    kind: "flag",
    spellings: ["-G", "--data-digest"],
    kernel: "data_digest",
    default: false,
    doc: "CRC32C data digest on the NVMe/TCP connection",
  },
} as const satisfies Record<string, ConnectOptionSpec>;

export type ConnectOptionName = keyof typeof CONNECT_OPTIONS;

export const CONNECT_OPTION_NAMES = Object.keys(CONNECT_OPTIONS) as ConnectOptionName[];

/** Every option as [name, spec], in table order (the order of the argv). */
export function connectOptionEntries(): [ConnectOptionName, ConnectOptionSpec][] {
  return CONNECT_OPTION_NAMES.map((k) => [k, CONNECT_OPTIONS[k]]);
}
