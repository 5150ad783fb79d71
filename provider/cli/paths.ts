import { LocalHost } from "../host/access/local";
import { parseArgs } from "node:util";
import { printable } from "../printable";
import { rolesSchema } from "../pulumi/inputs";
import { PowerFlexClient, PowerFlexError, planPaths, subsystemNqnOf, type GatewayOptions } from "../powerflex";

/** One line for `powerflex-nvme --help`. */
export const summary = "list the NVMe/TCP paths an attachment may connect (and the SDTs left out)";

const USAGE = `usage: powerflex-nvme paths --protection-domain NAME [--endpoint URL] [--username USER]
                             [--password-env VAR] [--system ID] [--insecure] [--ca-cert FILE]
                             [--role ROLE ...] [--sdt ID|NAME ...] [--json]

Prints the NVMe/TCP paths an attachment may connect (SDT addresses with role StorageAndHost or HostOnly,
each SDT's nvmePort), the subsystem NQN (or why it must come from nvme discover) and every SDT left out
with its reason.

  --endpoint URL        gateway URL (or POWERFLEX_ENDPOINT)
  --username USER       gateway user (or POWERFLEX_USERNAME)
  --password-env VAR    environment variable holding the password (default POWERFLEX_PASSWORD).
                        A password is never accepted on the command line.
  --protection-domain   protection domain name or id
  --system ID           system id (when the gateway manages several)
  --insecure            do not verify TLS (or POWERFLEX_INSECURE=1); prefer --ca-cert
  --ca-cert FILE        PEM CA certificate to verify the gateway with
  --role ROLE           address roles to use: StorageAndHost, HostOnly (repeatable; default both), as the
                        resource's roles input; StorageOnly addresses carry SDS-to-SDT traffic, never hosts
  --sdt ID|NAME         only these SDTs (repeatable)
  --json                the last line of stdout is one JSON object (names as the gateway sent them):
                        {"subsystemNqn": string|null, "subsystemNqnReason"?: string, "source": "all-sdts",
                         "paths": [{"sdtId","sdtName","traddr","trsvcid","discoverySvcid"}],
                         "skipped": [{"sdtId","sdtName","reason"}]}

Paths: every address of role StorageAndHost or HostOnly of each SDT of the protection domain that is
connected to the MDM, joined, Normal and not in maintenance, at the SDT's nvmePort (4420 when absent);
an SDT left out, or an address entry that is not usable (not an IP, no ip, no role), is listed with why.

How an attachment chooses among them (its pathSource input): "all-sdts" connects every path listed here.
"plan" (the default) connects the ones PowerFlex's load balancer plans for the host, which only
\`nvme discover\` on the host tells, as the host's NQN, and only once a volume is mapped to it; this
command runs on no host and has no host identity, so it lists the candidates the plan is chosen from
(and what "plan" connects when there is no plan, with a warning).
`;

function truthyEnv(v: string | undefined): boolean {
  return v !== undefined && /^(1|true|yes|on)$/i.test(v.trim());
}

/** `powerflex-nvme paths ...`. */
export async function run(argv: string[]): Promise<number> {
  const usage = (msg: string) => {
    process.stderr.write(`powerflex-nvme paths: ${msg}\n\n${USAGE}`);
    return 2;
  };
  // Say why, rather than "unknown option": passwords on a command line end up in ps and shell history.
  if (argv.some((a) => a === "--password" || a.startsWith("--password="))) {
    return usage("--password is not accepted (command lines are visible to every user); put it in an environment variable and name it with --password-env");
  }
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        endpoint: { type: "string" },
        username: { type: "string" },
        "password-env": { type: "string", default: "POWERFLEX_PASSWORD" },
        "protection-domain": { type: "string" },
        system: { type: "string" },
        insecure: { type: "boolean", default: false },
        "ca-cert": { type: "string" },
        role: { type: "string", multiple: true },
        sdt: { type: "string", multiple: true },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    return usage((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const endpoint = values.endpoint ?? process.env["POWERFLEX_ENDPOINT"];
  const username = values.username ?? process.env["POWERFLEX_USERNAME"];
  const passwordVar = values["password-env"];
  const password = process.env[passwordVar];
  const pdName = values["protection-domain"];
  if (!endpoint) return usage("--endpoint (or POWERFLEX_ENDPOINT) is required");
  if (!username) return usage("--username (or POWERFLEX_USERNAME) is required");
  if (!password) return usage(`the password must be in the environment variable ${passwordVar} (named by --password-env)`);
  if (!pdName) return usage("--protection-domain is required");
  if (values.role !== undefined) {
    const roles = rolesSchema.safeParse(values.role);
    if (!roles.success) {
      const issue = roles.error.issues[0]!;
      const i = issue.path[0];
      return usage(`--role${typeof i === "number" ? ` ${JSON.stringify(values.role[i])}` : ""}: ${issue.message}`);
    }
  }
  let caCert: string | undefined;
  if (values["ca-cert"] !== undefined) {
    try {
      // A regular file of bounded size: --ca-cert /dev/zero or a FIFO must fail, not read forever.
      caCert = await new LocalHost().readFile(values["ca-cert"]);
      if (caCert === undefined) return usage(`cannot read --ca-cert ${values["ca-cert"]}: no such file`);
    } catch (err) {
      return usage(`cannot read --ca-cert ${values["ca-cert"]}: ${(err as Error).message}`);
    }
  }
  const options: GatewayOptions = {
    endpoint,
    username,
    password,
    insecure: values.insecure || truthyEnv(process.env["POWERFLEX_INSECURE"]),
    ...(caCert !== undefined ? { caCert } : {}),
  };

  let client: PowerFlexClient | undefined;
  try {
    client = new PowerFlexClient(options);
    const system = await client.getSystem(values.system);
    const pd = await client.getProtectionDomain(pdName, system.id);
    const sdts = await client.listSdts(pd.id);
    const plan = planPaths({
      system,
      sdts,
      ...(values.role !== undefined ? { roles: values.role } : {}),
      ...(values.sdt && values.sdt.length > 0 ? { sdtFilter: values.sdt } : {}),
    });
    const nqn = subsystemNqnOf(system);
    if (values.json) {
      const out = {
        subsystemNqn: nqn.nqn,
        ...(nqn.nqn === null ? { subsystemNqnReason: nqn.reason } : {}),
        source: "all-sdts",
        paths: plan.paths.map((p) => ({ sdtId: p.sdtId, sdtName: p.sdtName, traddr: p.traddr, trsvcid: p.trsvcid, discoverySvcid: p.discoverySvcid })),
        skipped: plan.skipped.map((s) => ({ sdtId: s.sdtId, sdtName: s.sdtName, reason: s.reason })),
      };
      process.stdout.write(JSON.stringify(out) + "\n");
    } else {
      process.stdout.write(humanReport(system.id, pd.name ?? pd.id, nqn, plan));
    }
    await client.logout();
    return 0;
  } catch (err) {
    if (err instanceof PowerFlexError) {
      process.stderr.write(`powerflex-nvme paths: ${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    await client?.close();
  }
}

function humanReport(
  systemId: string,
  pdName: string,
  nqn: ReturnType<typeof subsystemNqnOf>,
  plan: ReturnType<typeof planPaths>,
): string {
  const lines: string[] = [];
  lines.push(`System ${printable(systemId)}, protection domain ${printable(pdName)}`);
  lines.push(nqn.nqn !== null ? `Subsystem NQN: ${printable(nqn.nqn)}` : `Subsystem NQN: unknown (${nqn.reason})`);
  lines.push("");
  lines.push(
    `Paths: every usable SDT address (pathSource "all-sdts"). With pathSource "plan" (the default) an attachment connects those of`,
    "them PowerFlex plans for its host: nvme discover on the host, once a volume is mapped to it, tells which.",
    "",
  );
  if (plan.paths.length === 0) {
    lines.push("No usable NVMe/TCP path.");
  } else {
    const rows = [
      ["SDT ID", "SDT NAME", "ADDRESS", "PORT", "DISCOVERY PORT"],
      ...plan.paths.map((p) => [printable(p.sdtId), printable(p.sdtName), p.traddr, String(p.trsvcid), String(p.discoverySvcid)]),
    ];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows) lines.push(r.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd());
  }
  if (plan.skipped.length > 0) {
    lines.push("", "Left out:");
    for (const s of plan.skipped) lines.push(`  ${printable(s.sdtName) || "(no name)"} (${printable(s.sdtId)}): ${printable(s.reason)}`);
  }
  return lines.join("\n") + "\n";
}
