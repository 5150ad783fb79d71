import { z } from "zod";
import { parseSysfsAddress } from "./address";
import { NvmeOutputError, parseJsonOutput } from "./output-error";

/** One controller (path) of a subsystem in `nvme list-subsys -o json`. */
export interface ListSubsysPath {
  /** Controller name, e.g. `nvme0`. */
  readonly name: string;
  readonly transport: string;
  /** Address as printed (1.x: space separated; 2.x: comma separated). */
  readonly address: string;
  /** Address parsed into key=value pairs (see {@link parseSysfsAddress}). */
  readonly addressFields: Readonly<Record<string, string>>;
  /** Raw sysfs state (`live`, `connecting`, …) when printed. */
  readonly state?: string;
  /** ANA state, only printed for `list-subsys <namespace>`. */
  readonly anaState?: string;
}

export interface ListSubsysSubsystem {
  /** e.g. `nvme-subsys0`. */
  readonly name: string;
  /** Subsystem NQN, trimmed (1.16 keeps the kernel's trailing spaces). */
  readonly nqn: string;
  /** 2.8+: `numa`, `round-robin`, … */
  readonly iopolicy?: string;
  /** 2.11+: `nvm` or `discovery`. */
  readonly type?: string;
  readonly paths: readonly ListSubsysPath[];
}

/** One host NQN's view. nvme-cli 1.x has no per-host grouping: then `hostnqn`/`hostid` are undefined. */
export interface ListSubsysHost {
  readonly hostnqn?: string;
  readonly hostid?: string;
  readonly subsystems: readonly ListSubsysSubsystem[];
}

const pathSchema = z.object({
  Name: z.string({ message: "Paths[].Name must be a string" }),
  Transport: z.string({ message: "Paths[].Transport must be a string" }),
  Address: z.string({ message: "Paths[].Address must be a string" }).optional(),
  State: z.string({ message: "Paths[].State must be a string" }).optional(),
  ANAState: z.string({ message: "Paths[].ANAState must be a string" }).optional(),
});
const subsystemSchema = z.object({
  Name: z.string({ message: "Subsystems[].Name must be a string" }).optional(),
  NQN: z.string({ message: "Subsystems[].NQN must be a string" }).optional(),
  IOPolicy: z.string({ message: "Subsystems[].IOPolicy must be a string" }).optional(),
  Type: z.string({ message: "Subsystems[].Type must be a string" }).optional(),
  Paths: z.array(pathSchema, { message: "Subsystems[].Paths must be an array" }).optional(),
});
const hostSchema = z.object({
  HostNQN: z.string({ message: "HostNQN must be a string" }).optional(),
  HostID: z.string({ message: "HostID must be a string" }).optional(),
  Subsystems: z.array(subsystemSchema, { message: "Subsystems must be an array" }).optional(),
});
const v1Schema = z.object({ Subsystems: z.array(subsystemSchema, { message: "Subsystems must be an array" }).optional() });

function toPath(p: z.infer<typeof pathSchema>): ListSubsysPath {
  const address = p.Address ?? "";
  return {
    name: p.Name,
    transport: p.Transport,
    address,
    addressFields: parseSysfsAddress(address),
    state: p.State,
    anaState: p.ANAState,
  };
}

/**
 * Subsystems in order. Before 1.9 `Paths` was a separate array element following its subsystem:
 * attach such an element to the subsystem before it.
 */
function toSubsystems(raw: readonly z.infer<typeof subsystemSchema>[], text: string): ListSubsysSubsystem[] {
  const out: { name: string; nqn: string; iopolicy?: string; type?: string; paths: ListSubsysPath[] }[] = [];
  for (const s of raw) {
    if (s.Name === undefined && s.NQN === undefined) {
      const prev = out[out.length - 1];
      if (!prev) throw new NvmeOutputError("list-subsys", "a Paths element comes before any subsystem", text);
      prev.paths.push(...(s.Paths ?? []).map(toPath));
      continue;
    }
    out.push({
      name: s.Name ?? "",
      nqn: (s.NQN ?? "").trim(),
      iopolicy: s.IOPolicy,
      type: s.Type,
      paths: (s.Paths ?? []).map(toPath),
    });
  }
  return out;
}

function check<T>(schema: z.ZodType<T>, value: unknown, text: string): T {
  const r = schema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new NvmeOutputError("list-subsys", `${issue.message} (at ${issue.path.join(".") || "top level"})`, text);
  }
  return r.data;
}

/**
 * Parse `nvme list-subsys -o json` of any version: the 1.x object (`"key" : value`, `{"Subsystems":[…]}`,
 * space separated addresses, possibly the pre-1.9 split `Paths`, possibly `{⏎⏎}` for nothing) and the 2.x
 * array of hosts. Throws {@link NvmeOutputError} for `{"error": …}` (2.8+ print that on stdout when
 * nvme_core is not loaded) and for empty or non-JSON output.
 */
export function parseListSubsys(stdout: string): ListSubsysHost[] {
  if (stdout.trim() === "") throw new NvmeOutputError("list-subsys", "no output", stdout);
  const json = parseJsonOutput("list-subsys", stdout);
  if (Array.isArray(json)) {
    return check(z.array(hostSchema), json, stdout).map((h) => ({
      hostnqn: h.HostNQN,
      hostid: h.HostID,
      subsystems: toSubsystems(h.Subsystems ?? [], stdout),
    }));
  }
  if (typeof json === "object" && json !== null && typeof (json as { error?: unknown }).error === "string") {
    throw new NvmeOutputError("list-subsys", (json as { error: string }).error, stdout);
  }
  const v1 = check(v1Schema, json, stdout);
  if (!v1.Subsystems) return [];
  return [{ subsystems: toSubsystems(v1.Subsystems, stdout) }];
}
