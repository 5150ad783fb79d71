import { z } from "zod";

/** Tunables of `nvme connect` beyond the path identity. Unset fields are not passed (kernel defaults). */
export interface ConnectOptions {
  /** `--ctrl-loss-tmo/-l` seconds: how long the kernel keeps reconnecting before it removes the controller; -1 = forever. */
  readonly ctrlLossTmo?: number;
  /** `--reconnect-delay/-c` seconds between reconnect attempts. */
  readonly reconnectDelay?: number;
  /** `--keep-alive-tmo/-k` seconds. */
  readonly keepAliveTmo?: number;
  /** `--nr-io-queues/-i`. */
  readonly nrIoQueues?: number;
  /** `--host-traddr/-w`; must equal the identity's `hostTraddr` when both are set. */
  readonly hostTraddr?: string;
  /** `--host-iface/-f`; must equal the identity's `hostIface` when both are set. */
  readonly hostIface?: string;
  /** Kill `nvme connect` after this long (ms). Default 60 000. */
  readonly timeoutMs?: number;
}

const int = (field: string, min: number, max: number) =>
  z
    .number({ message: `${field} must be a number` })
    .int({ message: `${field} must be a whole number` })
    .min(min, { message: `${field} must be at least ${min}` })
    .max(max, { message: `${field} must be at most ${max}` });

/** Interface names: what the kernel accepts (IFNAMSIZ 16), never starting with `-` (it would read as an option). */
export const ifaceSchema = z
  .string({ message: "hostIface must be a string" })
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.:@+-]{0,14}$/, { message: "hostIface must be an interface name (1-15 characters, letters, digits, _ . : @ + -, not starting with -)" });

export const connectOptionsSchema = z
  .object({
    ctrlLossTmo: z.union([z.literal(-1), int("ctrlLossTmo", 0, 2_147_483_647)], { message: "ctrlLossTmo must be -1 or a whole number of seconds >= 0" }).optional(),
    reconnectDelay: int("reconnectDelay", 1, 2_147_483_647).optional(),
    keepAliveTmo: int("keepAliveTmo", 0, 65_535).optional(),
    nrIoQueues: int("nrIoQueues", 1, 1024).optional(),
    hostTraddr: z.string({ message: "hostTraddr must be a string" }).optional(),
    hostIface: ifaceSchema.optional(),
    timeoutMs: int("timeoutMs", 1, 24 * 3_600_000).optional(),
  })
  .strict();

/** Validate options; throws an Error naming the first bad field. */
export function validateConnectOptions(options: ConnectOptions): ConnectOptions {
  const r = connectOptionsSchema.safeParse(options);
  if (!r.success) {
    const issue = r.error.issues[0];
    const field = issue.path.join(".");
    throw new Error(`invalid connect option${field ? ` ${field}` : ""}: ${issue.message}`);
  }
  return r.data;
}
