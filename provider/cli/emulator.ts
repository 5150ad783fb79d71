import * as fs from "node:fs";
import { parseArgs } from "node:util";
import { parseTopology, startEmulator, type ApiProfile } from "../tools/emulator";

/** One line for `powerflex-nvme --help`. */
export const summary = "run an emulated PowerFlex gateway (REST) for tests, demos and CI";

const USAGE = `usage: powerflex-nvme emulator [--listen HOST:PORT] [--tls] [--topology FILE] [--api 3.6|4.5|5.0]
                                [--token-ttl SECONDS] [--username USER] [--initiator-sysfs DIR]...

Serves an emulated PowerFlex gateway until SIGTERM or SIGINT. Once listening it prints ONE line of JSON on
stdout: {"url": "...", "username": "...", "password": "...", "caCert"?: "PEM"}.

  --listen HOST:PORT   address to listen on (default 127.0.0.1:0; port 0 picks a free port)
  --tls                serve https with a CA generated at start (printed as caCert)
  --topology FILE      JSON {"systems":[],"protectionDomains":[],"storagePools":[],"sdts":[],"hosts":[],"volumes":[]}
                       in the gateway's own REST shape, served back as given (null ip/role in an
                       SDT's ipList, mappedSdcInfo: null); errors name the entry (sdts[0].nvmePort)
                       (default: a built-in demo topology)
  --api VERSION        gateway release to behave like (default 5.0):
                         3.6  no NVMe/TCP: no Sdt or Host types, no NVMe hosts, no addMappedHost (404 as
                              for any unknown type); GET /api/login, token as Basic :token; JSON 401;
                              POST /rest/auth/login answers {}
                         4.5  PowerFlex Manager login (Bearer), HTML 401 on an expired token, SDTs and
                              NVMe hosts, no systemNqn (the subsystem NQN comes from nvme discover)
                         5.0  as 4.5, and System.systemNqn
  --token-ttl SECONDS  token lifetime (default: tokens never expire)
  --username USER      gateway user (default admin)
  --initiator-sysfs DIR  sysfs root of an initiator whose connections the array sees (/sys on this
                       machine, a simulated host's sys/); repeatable. Read when the NvmeController
                       relationship, the plan or discovery is asked; the first connection of a host
                       recalculates its plan

The password is POWERFLEX_EMULATOR_PASSWORD when set, else random.
Admin API (no auth): GET/DELETE /__emulator/counts, POST/DELETE /__emulator/faults, POST /__emulator/latency,
POST /__emulator/expire-tokens, GET /__emulator/state, POST /__emulator/state/{sdts|hosts|volumes},
POST /__emulator/state/{sdts|hosts}/ID (change fields), DELETE /__emulator/state/{sdts|hosts|volumes}/ID,
GET /__emulator/plan (the load balancer's ports per NVMe host), POST /__emulator/rebalance,
GET /__emulator/discovery?traddr=&trsvcid=&hostnqn= (what that SDT's discovery controller logs for the host).
A fault is {"path", "regex"?, "method"?, "times"?, and one of "status" (with "body"? JSON, "text"? raw, or
"echo"?: true to echo the request back), "reset", "hang"; "delayMs"?}.
`;

/** `powerflex-nvme emulator ...`: resolves with the exit code once stopped by a signal. */
export async function run(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        listen: { type: "string", default: "127.0.0.1:0" },
        tls: { type: "boolean", default: false },
        topology: { type: "string" },
        api: { type: "string", default: "5.0" },
        "token-ttl": { type: "string" },
        username: { type: "string", default: "admin" },
        "initiator-sysfs": { type: "string", multiple: true },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    process.stderr.write(`powerflex-nvme emulator: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const usage = (msg: string) => {
    process.stderr.write(`powerflex-nvme emulator: ${msg}\n\n${USAGE}`);
    return 2;
  };
  const listen = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(values.listen);
  if (!listen) return usage(`--listen must be HOST:PORT (e.g. 127.0.0.1:0), got "${values.listen}"`);
  const host = listen[1] ?? listen[2]!;
  const port = Number(listen[3]);
  if (port > 65535) return usage(`--listen port ${port} is out of range`);
  if (!["3.6", "4.5", "5.0"].includes(values.api)) return usage(`--api must be 3.6, 4.5 or 5.0, got "${values.api}"`);
  let ttl: number | undefined;
  if (values["token-ttl"] !== undefined) {
    ttl = Number(values["token-ttl"]);
    if (!Number.isFinite(ttl) || ttl <= 0) return usage(`--token-ttl must be a positive number of seconds`);
  }
  let topology;
  if (values.topology !== undefined) {
    try {
      topology = parseTopology(JSON.parse(fs.readFileSync(values.topology, "utf8")), values.topology);
    } catch (err) {
      process.stderr.write(`powerflex-nvme emulator: ${(err as Error).message}\n`);
      return 2;
    }
  }
  const password = process.env["POWERFLEX_EMULATOR_PASSWORD"] || undefined;
  const emulator = await startEmulator({
    host,
    port,
    tls: values.tls,
    api: values.api as ApiProfile,
    username: values.username,
    ...(password ? { password } : {}),
    ...(topology ? { topology } : {}),
    ...(ttl !== undefined ? { tokenTtlSeconds: ttl } : {}),
    ...(values["initiator-sysfs"] ? { initiatorSysfs: values["initiator-sysfs"] } : {}),
  });
  const line = { url: emulator.url, username: emulator.username, password: emulator.password, ...(emulator.caCert ? { caCert: emulator.caCert } : {}) };
  process.stdout.write(JSON.stringify(line) + "\n");
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off("SIGTERM", stop);
      process.off("SIGINT", stop);
      resolve();
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
  });
  await emulator.close();
  return 0;
}
