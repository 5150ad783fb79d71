import { z } from "zod";
import { CONNECT_OPTIONS, connectOptionEntries, type ConnectOptionName, type ConnectOptionSpec, type IntOption } from "./connect-table";
import { canonicalIp, isIp } from "./identity";

/**
 * The one schema of the `nvme connect` tunables, built from CONNECT_OPTIONS: the resource's `connect`
 * input and the nvme-cli adapter both validate with it, so a limit cannot differ between the two.
 * Messages do not name the field: callers put the path in front (`connect.ctrlLossTmo: …`).
 */

const intSchema = (o: IntOption) =>
  z
    .number({ error: `must be a number of ${o.unit}` })
    .int(`must be a whole number of ${o.unit}`)
    .min(o.min, o.range)
    .max(o.max, o.range);

/** An IP address, in canonical text (the kernel compares addresses as strings). */
export const ipSchema = z.string({ error: "must be an IP address string" }).refine(isIp, "must be an IPv4 or IPv6 address (no host names, no port)").transform(canonicalIp);

/**
 * A network interface name as the kernel's dev_valid_name takes it (1-15 bytes, no `/`, `:` or white
 * space, not `.` or `..`), kept to the characters interface names use, and never starting with `-`
 * (nvme-cli would read it as an option) nor holding `,` (it would add an option to the kernel's string).
 */
export const ifaceSchema = z
  .string({ error: "must be an interface name" })
  .regex(/^(?!\.\.?$)[A-Za-z0-9_.@+][A-Za-z0-9_.@+-]{0,14}$/, "must be a network interface name like eth0 (1-15 letters, digits, _ . @ + -; not starting with -)");

type SchemaOf<O extends ConnectOptionSpec> = O extends { kind: "int" } ? z.ZodNumber : O extends { kind: "flag" } ? z.ZodBoolean : z.ZodType<string, string>;
type Shape = { [K in ConnectOptionName]: z.ZodOptional<SchemaOf<(typeof CONNECT_OPTIONS)[K]>> };

function schemaOf(o: ConnectOptionSpec): z.ZodType {
  switch (o.kind) {
    case "int":
      return intSchema(o);
    case "flag":
      return z.boolean({ error: "must be true or false" });
    case "ip":
      return ipSchema;
    case "iface":
      return ifaceSchema;
  }
}

export const connectOptionsSchema = z.strictObject(Object.fromEntries(connectOptionEntries().map(([k, o]) => [k, schemaOf(o).optional()])) as Shape);

/** The `connect` input and what the adapter passes to `nvme connect`. */
export type ConnectInputs = z.infer<typeof connectOptionsSchema>;

/** {@link ConnectInputs} plus the adapter's own timeout. Unset fields are not passed (kernel defaults). */
export type ConnectOptions = ConnectInputs & {
  /** Kill `nvme connect` after this long (ms). Default 60 000. */
  readonly timeoutMs?: number;
};

const timeoutSchema = z.number().int().min(1).max(24 * 3_600_000);

/** Validate options; throws an Error naming the first bad field. */
export function validateConnectOptions(options: ConnectOptions): ConnectOptions {
  const { timeoutMs, ...rest } = options;
  if (timeoutMs !== undefined && !timeoutSchema.safeParse(timeoutMs).success) {
    throw new Error(`invalid connect option timeoutMs: must be a whole number of milliseconds from 1 to ${24 * 3_600_000}`);
  }
  const r = connectOptionsSchema.safeParse(rest);
  if (!r.success) {
    const issue = r.error.issues[0];
    const field = issue.path.join(".");
    const message = issue.code === "unrecognized_keys" ? `unknown option ${issue.keys.join(", ")}` : issue.message;
    throw new Error(`invalid connect option${field ? ` ${field}` : ""}: ${message}`);
  }
  return { ...r.data, ...(timeoutMs !== undefined ? { timeoutMs } : {}) };
}

/**
 * The options without those set to what the kernel does anyway (`ctrlLossTmo: 600`, `headerDigest:
 * false`, …): the same controller either way, so they must not count as a change. Pure.
 */
export function withoutDefaults<T extends ConnectInputs>(options: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) {
    const spec = (CONNECT_OPTIONS as Record<string, ConnectOptionSpec>)[k];
    if (v === undefined || (spec && "default" in spec && spec.default === v)) continue;
    out[k] = v;
  }
  return out as T;
}

/** An option whose value on a live controller is not the one it was connected with. */
export interface OptionDrift {
  readonly option: ConnectOptionName;
  /** The sysfs attribute. */
  readonly attribute: string;
  readonly wanted: string;
  readonly live: string;
}

const DEFAULT_RECONNECT_DELAY = CONNECT_OPTIONS.reconnectDelay.default;

/**
 * What the kernel shows in each controller attribute for these options (drivers/nvme/host/sysfs.c):
 * `ctrl_loss_tmo` is max_reconnects x reconnect_delay with max_reconnects = ceil(ctrl_loss_tmo /
 * reconnect_delay), `off` when negative; `fast_io_fail_tmo` is `off` at -1.
 */
export function expectedSysfs(options: ConnectInputs): Record<string, string> {
  const delay = options.reconnectDelay ?? DEFAULT_RECONNECT_DELAY;
  const loss = options.ctrlLossTmo ?? CONNECT_OPTIONS.ctrlLossTmo.default;
  const fail = options.fastIoFailTmo ?? CONNECT_OPTIONS.fastIoFailTmo.default;
  return {
    ctrl_loss_tmo: loss < 0 ? "off" : String(Math.ceil(loss / delay) * delay),
    reconnect_delay: String(delay),
    fast_io_fail_tmo: fail < 0 ? "off" : String(fail),
    kato: String(options.keepAliveTmo ?? CONNECT_OPTIONS.keepAliveTmo.default),
  };
}

/**
 * PURE: the options a controller shows differently from how it was connected (someone wrote the sysfs
 * attribute, or connected it otherwise). An attribute the kernel does not show is not compared.
 */
export function optionDrift(options: ConnectInputs, live: Readonly<Record<string, string | undefined>>): OptionDrift[] {
  const want = expectedSysfs(options);
  const out: OptionDrift[] = [];
  for (const [option, spec] of connectOptionEntries()) {
    if (spec.kind !== "int" || spec.sysfs === undefined) continue;
    const have = live[spec.sysfs];
    if (have !== undefined && have !== want[spec.sysfs]) out.push({ option, attribute: spec.sysfs, wanted: want[spec.sysfs], live: have });
  }
  return out;
}

/** The `connect` input as a Markdown table (for the README), from the same table as everything else. */
export function connectOptionsMarkdown(): string {
  const rows = connectOptionEntries().map(([k, o]) => {
    const type = o.kind === "int" ? `${o.min}..${o.max}` : o.kind === "flag" ? "boolean" : o.kind === "ip" ? "IP address" : "interface name";
    const dflt = "default" in o && o.default !== undefined ? String(o.default) : "-";
    return `| \`${k}\` | ${type} | ${dflt} | \`${o.spellings[0]}\` | ${"sysfs" in o && o.sysfs ? `\`${o.sysfs}\`` : "-"} | ${o.doc} |`;
  });
  return ["| option | values | kernel default | nvme connect | sysfs | what |", "|---|---|---|---|---|---|", ...rows].join("\n");
}
