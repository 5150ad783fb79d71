import { z } from "zod";
import { NvmeOutputError, parseJsonOutput } from "./output-error";

/** One discovery log entry as `nvme discover -o json` prints it. */
export interface DiscoveryRecord {
  readonly trtype: string;
  readonly adrfam: string;
  /** `nvme subsystem`, `current discovery subsystem`, `discovery subsystem referral`, 1.x `unrecognized`, … */
  readonly subtype: string;
  readonly treq?: string;
  readonly portid?: number;
  /** Port as text, padding stripped. */
  readonly trsvcid: string;
  readonly subnqn: string;
  readonly traddr: string;
  readonly eflags?: string;
  readonly sectype?: string;
}

export interface DiscoveryLog {
  /** Generation counter; undefined when the log was empty. */
  readonly genctr?: number;
  /** 1.x only: the temporary discovery controller it used. */
  readonly device?: string;
  readonly records: readonly DiscoveryRecord[];
}

const recordSchema = z.object({
  trtype: z.string({ message: "records[].trtype must be a string" }),
  adrfam: z.string({ message: "records[].adrfam must be a string" }),
  subtype: z.string({ message: "records[].subtype must be a string" }),
  treq: z.string({ message: "records[].treq must be a string" }).optional(),
  portid: z.number({ message: "records[].portid must be a number" }).optional(),
  trsvcid: z.union([z.string(), z.number()], { message: "records[].trsvcid must be a string" }).transform(String),
  subnqn: z.string({ message: "records[].subnqn must be a string" }),
  traddr: z.string({ message: "records[].traddr must be a string" }),
  eflags: z.string({ message: "records[].eflags must be a string" }).optional(),
  sectype: z.string({ message: "records[].sectype must be a string" }).optional(),
});
const logSchema = z.object({
  device: z.string({ message: "device must be a string" }).optional(),
  genctr: z.number({ message: "genctr must be a number" }).optional(),
  records: z.array(recordSchema, { message: "records must be an array" }).optional(),
});

/**
 * Parse `nvme discover -o json` (1.x spaced style with `device`, 2.x compact style). The plain-text
 * `No discovery log entries to fetch.` (printed instead of JSON for an empty log) gives no records.
 */
export function parseDiscover(stdout: string): DiscoveryLog {
  const text = stdout.trim();
  if (/^No discovery log entries to fetch\.?$/m.test(text)) return { records: [] };
  if (text === "") throw new NvmeOutputError("discover", "no output", stdout);
  const r = logSchema.safeParse(parseJsonOutput("discover", stdout));
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new NvmeOutputError("discover", `${issue.message} (at ${issue.path.join(".") || "top level"})`, stdout);
  }
  return {
    genctr: r.data.genctr,
    device: r.data.device,
    records: (r.data.records ?? []).map((rec) => ({ ...rec, trsvcid: rec.trsvcid.trim(), traddr: rec.traddr.trim() })),
  };
}

/** A record of an I/O subsystem (subtype `nvme subsystem`): one that names a subsystem NQN to connect to. */
export function isSubsystemRecord(r: DiscoveryRecord): boolean {
  return r.subtype === "nvme subsystem";
}

/** Records of I/O subsystems ({@link isSubsystemRecord}). */
export function subsystemRecords(log: DiscoveryLog): DiscoveryRecord[] {
  return log.records.filter(isSubsystemRecord);
}
