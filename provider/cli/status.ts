import * as path from "node:path";
import { parseArgs } from "node:util";
import * as fs from "node:fs";
import { sshTargetOf } from "../host/attachment-host";
import { hostSettings, type HostAccess, type HostSettings } from "../host/access/access";
import { hostAccessFor } from "../host/access/for-settings";
import { hostAccessSchema, sshSchema } from "../pulumi/inputs";
import { EXTERNAL } from "../host/ledger/records";
import { emptyLedger } from "../host/ledger/records";
import { LedgerRefusedError, LedgerStore } from "../host/ledger/store";
import { describePath } from "../host/nvme/identity";
import { readControllers } from "../host/nvme/sysfs";
import { hostStatus, type ControllerStatus, type HostStatus } from "../host/status";
import { printable } from "../printable";
import { gatewayOptions } from "../powerflex/gateway";
import { PowerFlexClient, type GatewayOptions } from "../powerflex";
import { readPowerFlexStatus, type ControllerArrayView, type PowerFlexStatus } from "./status-powerflex";

/** One line for `powerflex-nvme --help`. */
export const summary = "show every NVMe-oF controller on this host and which attachment holds it (or foreign)";

const USAGE = `usage: powerflex-nvme status [--json] [--powerflex] [--sysfs-root DIR] [--state-dir DIR] [--etc-nvme-dir DIR]
                             [--ssh USER@HOST --ssh-host-key KEY (--ssh-key FILE | --ssh-agent) [--ssh-port N]]

Lists every fabrics controller on this host (from sysfs) with its identity and state, and for each one
its record in the ownership ledger: which attachment made it and which ones hold it, or "foreign" when
no attachment does (another array, another host NQN, another tool, a discovery controller): those are
never touched. Only reads: it takes no lock and changes nothing.

  --json               the last line of stdout is one JSON object:
                       {"controllers":[{"device","transport","traddr","trsvcid","subsysnqn","hostnqn",
                        "state","owners":[...],"createdBy": string|null}],
                        "ledgerRefused"?: why the ledger could not be trusted (then exit 1)}
                       with --powerflex, each controller also has "powerflex": {"isAssigned","isConnected",
                       "sdtId"}|null, and the object "powerflex": {"endpoint","hosts":[{"hostId","hostnqn",
                       "name","maxNumSysPorts","protectionDomains":[{"id","name","connectedPorts",
                       "overBudget"}],"plannedNotConnected":[{"sysPortIp","sdtId"}]}],"unknownHostNqns":[...]}
                       or {"endpoint","error"} when the gateway could not be read (then exit 1)
  --powerflex          also show PowerFlex's view: per controller of a system's subsystem, whether the array
                       assigned it (its load balancer planned that port) and sees it connected; ports it
                       assigned that no controller connects to; connected ports against maxNumSysPorts.
                       The gateway comes from POWERFLEX_ENDPOINT, POWERFLEX_USERNAME, POWERFLEX_PASSWORD,
                       POWERFLEX_CA_CERT, POWERFLEX_INSECURE (never a password on the command line)
  --sysfs-root DIR     root of sysfs (default /sys)
  --state-dir DIR      ledger directory (default /run/pulumi-powerflex-nvme)
  --etc-nvme-dir DIR   where hostnqn lives, to mark this host's own NQN (default /etc/nvme)
  --ssh USER@HOST      show that remote host instead, over SSH (the directories above are on it)
  --ssh-port N         SSH port (default 22)
  --ssh-host-key KEY   required with --ssh: the host's public key line or its SHA256:… fingerprint
  --ssh-key FILE       an unencrypted private key file to log in with, or
  --ssh-agent          log in with the ssh-agent at $SSH_AUTH_SOCK
`;

/** Flag -> hostAccess.ssh field, so a zod issue can name the flag the user typed. */
const SSH_FLAGS = { host: "ssh", user: "ssh", port: "ssh-port", hostKey: "ssh-host-key", privateKey: "ssh-key", agent: "ssh-agent" } as const;

/** Flag -> HostSettings field, so a zod issue can name the flag the user typed. */
const FLAGS = { "sysfs-root": "sysfsRoot", "state-dir": "stateDir", "etc-nvme-dir": "etcNvmeDir" } as const;
type Flag = keyof typeof FLAGS;
const flagOf = (field: PropertyKey | undefined) => Object.entries(FLAGS).find(([, f]) => f === field)?.[0];

/** `powerflex-nvme status ...`. */
export async function run(argv: string[]): Promise<number> {
  const fail = (msg: string, code: number) => {
    process.stderr.write(`powerflex-nvme status: ${msg}\n${code === 2 ? `\n${USAGE}` : ""}`);
    return code;
  };
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        json: { type: "boolean", default: false },
        powerflex: { type: "boolean", default: false },
        "sysfs-root": { type: "string" },
        "state-dir": { type: "string" },
        "etc-nvme-dir": { type: "string" },
        ssh: { type: "string" },
        "ssh-port": { type: "string" },
        "ssh-host-key": { type: "string" },
        "ssh-key": { type: "string" },
        "ssh-agent": { type: "boolean" },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    return fail((err as Error).message, 2);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const given = Object.fromEntries((Object.keys(FLAGS) as Flag[]).map((flag) => [FLAGS[flag], values[flag]]));
  const parsed = hostAccessSchema.pick({ sysfsRoot: true, stateDir: true, etcNvmeDir: true }).safeParse(given);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const flag = flagOf(issue.path[0]);
    return fail(`--${flag} ${JSON.stringify(values[flag as Flag])}: ${issue.message}`, 2);
  }
  const ssh = sshOf(values);
  if (typeof ssh === "string") return fail(ssh, 2);
  let gateway: GatewayOptions | undefined;
  if (values.powerflex) {
    const g = gatewayOf(process.env);
    if (typeof g === "string") return fail(g, 2);
    gateway = g;
  }
  const settings = hostSettings({ ...parsed.data, ...(ssh ? { ssh: sshTargetOf(ssh) } : {}) });
  const host = hostAccessFor(settings, { privateKey: ssh?.privateKey });
  try {
    return await show(host, settings, values.json ?? false, gateway, fail);
  } finally {
    await host.close?.();
  }
}

/** `--powerflex`'s gateway from the environment, as the provider reads it; or what is missing. */
function gatewayOf(env: NodeJS.ProcessEnv): GatewayOptions | string {
  const missing = ["POWERFLEX_ENDPOINT", "POWERFLEX_USERNAME", "POWERFLEX_PASSWORD"].filter((k) => !env[k]);
  if (missing.length > 0) return `--powerflex reads the gateway from the environment: set ${missing.join(", ")} (and POWERFLEX_CA_CERT or POWERFLEX_INSECURE as the provider takes them)`;
  try {
    return gatewayOptions({}, {}, env);
  } catch (err) {
    return `--powerflex: ${(err as Error).message}`;
  }
}

/** The `--ssh*` flags as `hostAccess.ssh` (validated by the same schema), none, or what is wrong. */
function sshOf(values: Record<string, string | boolean | undefined>) {
  const given = ["ssh-port", "ssh-host-key", "ssh-key", "ssh-agent"].filter((f) => values[f] !== undefined);
  if (values.ssh === undefined) return given.length > 0 ? `--${given[0]} needs --ssh USER@HOST` : undefined;
  const at = (values.ssh as string).lastIndexOf("@");
  if (at <= 0) return `--ssh ${JSON.stringify(values.ssh)}: must be USER@HOST`;
  let privateKey: string | undefined;
  if (values["ssh-key"] !== undefined) {
    try {
      privateKey = fs.readFileSync(values["ssh-key"] as string, "utf8");
    } catch (err) {
      return `--ssh-key ${JSON.stringify(values["ssh-key"])}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
    }
  }
  const port = values["ssh-port"] === undefined ? undefined : Number(values["ssh-port"]);
  const parsed = sshSchema.safeParse({
    host: (values.ssh as string).slice(at + 1),
    user: (values.ssh as string).slice(0, at),
    ...(port === undefined ? {} : { port }),
    hostKey: values["ssh-host-key"],
    ...(privateKey === undefined ? {} : { privateKey }),
    ...(values["ssh-agent"] ? { agent: true } : {}),
  });
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const flag = SSH_FLAGS[issue.path[0] as keyof typeof SSH_FLAGS] ?? "ssh";
  // Never echo a key file's content: name the file instead.
  const shown = flag === "ssh-agent" ? "" : ` ${JSON.stringify(values[flag] ?? "")}`;
  return `--${flag}${shown}: ${issue.message}`;
}

async function show(host: HostAccess, settings: HostSettings, json: boolean, gateway: GatewayOptions | undefined, fail: (msg: string, code: number) => number): Promise<number> {
  let root;
  try {
    root = await host.readDir(settings.sysfsRoot);
  } catch (err) {
    return fail((err as Error).message, 1);
  }
  if (root === undefined) return fail(`--sysfs-root ${JSON.stringify(settings.sysfsRoot)}: no such directory`, 2);

  let status: HostStatus;
  // A ledger the provider refuses is shown, not hidden behind an error: the controllers still list, and why.
  let refused: string | undefined;
  try {
    // No lock: the ledger is written by atomic rename, so a plain read is a consistent snapshot.
    const [observed, ledger] = await Promise.all([
      readControllers(host, settings, { namespaces: false }),
      new LedgerStore(host, settings).read().catch((err: unknown) => {
        if (!(err instanceof LedgerRefusedError)) throw err;
        refused = err.message;
        return emptyLedger();
      }),
    ]);
    status = hostStatus(observed, ledger, new Date());
  } catch (err) {
    return fail((err as Error).message, 1);
  }
  const ownNqn = (await host.readFile(path.posix.join(settings.etcNvmeDir, "hostnqn")))?.trim() || undefined;
  const array = gateway ? await arrayView(gateway, status, ownNqn) : undefined;
  if (json) {
    const controllers = status.controllers.map((c, i) => ({ ...jsonOf(c), ...(array ? { powerflex: "error" in array ? null : array.controllers[i] ?? null } : {}) }));
    const pf = array && ("error" in array ? array : { endpoint: array.endpoint, hosts: array.hosts, unknownHostNqns: array.unknownHostNqns });
    process.stdout.write(JSON.stringify({ controllers, ...(refused ? { ledgerRefused: refused } : {}), ...(pf ? { powerflex: pf } : {}) }) + "\n");
  } else {
    process.stdout.write(report(status, settings, ownNqn, refused, array));
  }
  if (refused) process.stderr.write(`powerflex-nvme status: ${refused}\n`);
  if (array && "error" in array) process.stderr.write(`powerflex-nvme status: ${array.error}\n`);
  return refused || (array && "error" in array) ? 1 : 0;
}

/** PowerFlex's view, or why it could not be read (gateway text escaped; the client scrubs credentials from it). */
async function arrayView(gateway: GatewayOptions, status: HostStatus, ownNqn: string | undefined): Promise<PowerFlexStatus | { endpoint: string; error: string }> {
  const client = new PowerFlexClient(gateway, { warn: (m) => process.stderr.write(`powerflex-nvme status: warning: ${printable(m)}\n`) });
  try {
    return await readPowerFlexStatus(client, status.controllers, ownNqn);
  } catch (err) {
    return { endpoint: client.endpoint, error: `could not read PowerFlex's view from ${client.endpoint}: ${printable((err as Error).message)}` };
  } finally {
    await client.close().catch(() => undefined);
  }
}

/** Exactly the documented fields, in order. */
function jsonOf(c: ControllerStatus) {
  const { device, transport, traddr, trsvcid, subsysnqn, hostnqn, state, owners, createdBy } = c;
  return { device, transport, traddr, trsvcid, subsysnqn, hostnqn, state, owners, createdBy };
}

function ownership(c: ControllerStatus, refused: boolean): string {
  if (refused) return "unknown: the ledger was refused";
  if (c.connecting !== undefined && c.owners.length === 0) return `being connected by ${c.connecting}`;
  if (c.createdBy === null) return "foreign (never touched)";
  if (c.owners.length === 0) return `created by ${c.createdBy}, whose operation was cut short; held by nobody (the next attach adopts it)`;
  const made = c.createdBy === EXTERNAL ? "was there before us" : `created by ${c.createdBy}`;
  return `${made}; held by ${c.owners.join(", ")}`;
}

function table(raw: string[][]): string[] {
  const rows = raw.map((r) => r.map(printable));
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd());
}

/** The POWERFLEX column: what the array says of this connection. */
function arrayCell(v: ControllerArrayView | null | undefined): string {
  if (!v) return "-";
  const assigned = v.isAssigned === true ? "assigned" : v.isAssigned === false ? "NOT assigned" : "assigned: unknown";
  const connected = v.isConnected === true ? "connected" : v.isConnected === false ? "NOT connected" : "connected: unknown";
  return `${assigned}, ${connected}`;
}

/** Lines below the table: each host object's budget and the ports assigned but not connected. */
function arrayLines(array: PowerFlexStatus | { endpoint: string; error: string }): string[] {
  if ("error" in array) return ["", `POWERFLEX: ${array.error}`];
  const lines = ["", `PowerFlex ${array.endpoint} (POWERFLEX: assigned = its load balancer planned that port for the host):`];
  if (array.hosts.length === 0) lines.push("  no NVMe host object for the host NQNs here");
  for (const h of array.hosts) {
    lines.push(`  NVMe host ${h.name ? `${h.name} ` : ""}(id ${h.hostId}) ${h.hostnqn}: maxNumSysPorts ${h.maxNumSysPorts ?? "not reported"}`);
    for (const d of h.protectionDomains) {
      lines.push(`    protection domain ${d.name ?? d.id}: ${d.connectedPorts} system port(s) connected${d.overBudget ? `, MORE THAN maxNumSysPorts ${h.maxNumSysPorts}` : ""}`);
    }
    for (const p of h.plannedNotConnected) lines.push(`    assigned but not connected: ${p.sysPortIp}${p.sdtId ? ` (SDT ${p.sdtId})` : ""}`);
  }
  for (const nqn of array.unknownHostNqns) lines.push(`  no NVMe host object in PowerFlex for ${nqn}`);
  return lines.map(printable);
}

function report(status: HostStatus, settings: HostSettings, ownNqn: string | undefined, refused: string | undefined, array?: PowerFlexStatus | { endpoint: string; error: string }): string {
  const lines = [
    ...(settings.ssh ? [`remote host ${settings.ssh.user}@${settings.ssh.host}:${settings.ssh.port} (over SSH)`] : []),
    `host NQN ${ownNqn !== undefined ? printable(ownNqn) : `unknown (${path.posix.join(settings.etcNvmeDir, "hostnqn")} is missing)`}; ledger ${path.posix.join(settings.stateDir, "ledger.json")}`,
    "",
  ];
  if (status.controllers.length === 0) {
    lines.push("No NVMe-oF controllers on this host.");
  } else {
    const addr = (c: ControllerStatus) => (c.traddr === null ? "-" : `${c.traddr.includes(":") ? `[${c.traddr}]` : c.traddr}${c.trsvcid === null ? "" : `:${c.trsvcid}`}`);
    lines.push(
      ...table([
        ["DEVICE", "TRANSPORT", "ADDRESS", "STATE", "SUBSYSTEM NQN", "HOST NQN", "OWNERSHIP", ...(array ? ["POWERFLEX"] : [])],
        ...status.controllers.map((c, i) => [
          c.device, c.transport, addr(c), c.state, c.subsysnqn, c.hostnqn === ownNqn ? "(this host)" : c.hostnqn, ownership(c, refused !== undefined),
          ...(array ? [arrayCell("error" in array ? undefined : array.controllers[i])] : []),
        ]),
      ]),
    );
  }
  if (status.hostAttributes === "absent") {
    lines.push(
      "",
      "This kernel shows no host NQN or host ID per controller (Linux before 5.7): no controller can be told",
      "apart from another user's, so pulumi-powerflex-nvme attaches nothing on this host. Use Linux 5.7 or later.",
    );
  }
  if (status.stale.length > 0) {
    lines.push("", "In the ledger but no controller on the host (`pulumi refresh` then `up` of its holders connects it again; `destroy` forgets it):");
    for (const s of status.stale) lines.push(printable(`  ${describePath(s.identity)}: held by ${s.owners.join(", ")}`));
  }
  if (status.volumes.length > 0) {
    lines.push("", "Volume mappings held (host object/volume):");
    for (const v of status.volumes) {
      lines.push(printable(`  ${v.key}: ${v.createdBy === EXTERNAL ? "was mapped before us" : `mapped by ${v.createdBy}`}; held by ${v.owners.join(", ")}`));
    }
  }
  if (array) lines.push(...arrayLines(array));
  if (refused) lines.push("", `LEDGER REFUSED: ${refused}`);
  return lines.join("\n") + "\n";
}
