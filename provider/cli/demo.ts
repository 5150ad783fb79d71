import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { LocalHost } from "../host/access/local";
import { LedgerStore } from "../host/ledger/store";
import { EXTERNAL } from "../host/ledger/records";
import { readControllers } from "../host/nvme/sysfs";
import { identityKey } from "../host/nvme/identity";
import { startWorld, type World } from "../tools/demo/world";
import type { Step } from "../tools/demo/stack";
import type { FabricsController } from "../host/nvme/controller";

/** One line for `powerflex-nvme --help`. */
export const summary = "play a whole story (preview, up, SDT added, replace, destroy) on an emulated array and simulated host";

const USAGE = `usage: powerflex-nvme demo [--json] [--nvme-cli-version 1.16|2.3|2.8|2.11]

Starts the PowerFlex gateway emulator and a simulated Linux host (nvme-cli and sysfs in a temporary
directory), then drives PowerFlexNvmeAttachment through the real Pulumi dynamic-provider host, the way
\`pulumi preview\`, \`pulumi up\` and \`pulumi destroy\` do: another tool's controllers are on the host
first; preview; up; a second preview (no change); an SDT is added on the array -> preview shows it -> up
connects one more path; the host NQN changes -> replace; destroy. Volume vol1 is mapped along the way and
its device path shown. Nothing on this machine is touched.

  --json                the last line of stdout is one JSON object:
                        {"steps", "pathsConnected", "pathsDisconnected", "foreignBefore", "foreignAfter",
                         "leaked", "secondPreviewChanges", "providerBytes"}
  --nvme-cli-version V  nvme-cli to imitate (default 2.11)
`;

const PD = "pd1";
const NEW_NQN = "nqn.2014-08.org.nvmexpress:uuid:5e3c1b2a-0f9d-4c8b-a7e6-d5c4b3a29180";
const NEW_ID = "5e3c1b2a-0f9d-4c8b-a7e6-d5c4b3a29180";

export async function run(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        json: { type: "boolean", default: false },
        "nvme-cli-version": { type: "string", default: "2.11" },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    process.stderr.write(`powerflex-nvme demo: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const version = values["nvme-cli-version"];
  if (!["1.16", "2.3", "2.8", "2.11"].includes(version)) {
    process.stderr.write(`powerflex-nvme demo: --nvme-cli-version must be 1.16, 2.3, 2.8 or 2.11\n`);
    return 2;
  }
  const out = (line = "") => process.stdout.write(`${line}\n`);
  // SIGINT/SIGTERM mid-story: stop waiting, then close the world (provider child, emulator, temporary
  // directories) as on any other end. Without this, the default action left all three behind.
  let onSignal: (signal: NodeJS.Signals) => void = () => undefined;
  const interrupted = new Promise<NodeJS.Signals>((resolve) => (onSignal = resolve));
  for (const signal of SIGNALS) process.on(signal, onSignal);
  const starting = startWorld({ nvmeCliVersion: version as "2.11" });
  let world: World | undefined;
  try {
    const finished = starting.then(async (w) => {
      world = w;
      return story(w, out);
    });
    finished.catch(() => undefined); // once interrupted, the story's failures are nobody's concern
    const first = await Promise.race([finished, interrupted]);
    if (typeof first === "string") {
      process.stderr.write(`powerflex-nvme demo: stopped by ${first}; cleaned up\n`);
      return 128 + os.constants.signals[first];
    }
    if (values.json) out(JSON.stringify(first));
    const ok = first.foreignAfter === first.foreignBefore && first.leaked === 0 && first.secondPreviewChanges === 0 && first.providerBytes < 1024;
    return ok ? 0 : 1;
  } catch (err) {
    process.stderr.write(`powerflex-nvme demo: ${(err as Error).message}\n`);
    const log = world ? [...world.host.stderr].join("").trim() : "";
    if (log) process.stderr.write(`provider process said:\n${log}\n`);
    return 1;
  } finally {
    // A signal during start-up: the world is still coming; wait for it, then close it.
    await (await starting.catch(() => undefined))?.close();
    for (const signal of SIGNALS) process.off(signal, onSignal);
  }
}

const SIGNALS: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

interface DemoResult {
  steps: number;
  pathsConnected: number;
  pathsDisconnected: number;
  foreignBefore: number;
  foreignAfter: number;
  leaked: number;
  secondPreviewChanges: number;
  providerBytes: number;
}

async function story(w: World, out: (line?: string) => void): Promise<DemoResult> {
  const nqn = "nqn.1988-11.com.dell:powerflex:00:5fd1a0c900000001";
  // Other NVMe users of this host, there before us: another array, and another tool on our array.
  w.sim.addForeignController({ traddr: "10.9.9.9", subsysnqn: "nqn.2010-06.com.purestorage:flasharray.6b1a2f0c1d2e3f40" });
  w.sim.addForeignController({ traddr: "192.0.2.11", subsysnqn: nqn, hostnqn: "nqn.2014-08.org.example:another-tool", hostid: "0d4e8a7c-2f61-4b5e-9d3a-7c1e5b2a9f00" });
  const foreign = (await controllers(w)).map(describe);
  let steps = 0;
  const args: Record<string, unknown> = { protectionDomain: PD, host: { register: true }, volumes: [{ volume: "vol1" }], hostAccess: w.hostAccess };
  const program = () => ({ "this-host": args });
  const say = async (title: string, action: () => Promise<Step[]>) => {
    steps++;
    out(`== ${steps}. ${title}`);
    const result = await action();
    for (const s of result) out(`   ${s.op.padEnd(8)} ${s.name}${s.replaces ? ` (replace because of: ${s.replaces.join(", ")})` : ""}`);
    out(await table(w));
    return result;
  };

  out(`gateway emulator ${w.emulator.url} (PowerFlex ${w.emulator.api}), simulated host ${path.dirname(w.sim.settings.sysfsRoot)}`);
  out(`before: ${foreign.length} controllers of other NVMe users on the host`);
  out(await table(w));
  await say("pulumi preview", () => w.stack.preview(program()));
  await say("pulumi up", () => w.stack.up(program()));
  for (const d of [...w.stack.resources.values()][0].outputs.devices as { volumeName: string; devicePath: string; kernelName: string }[]) {
    out(`   volume ${d.volumeName} is mapped to this host: ${d.devicePath} -> ${d.kernelName}`);
  }
  // The provider as Pulumi stores it with the resource (and runs again for refresh and destroy).
  const providerBytes = Buffer.byteLength(String([...w.stack.resources.values()][0].outputs.__provider));
  const second = await say("pulumi preview (right after up)", () => w.stack.preview(program()));
  const secondPreviewChanges = second.filter((s) => s.op !== "same").length;
  w.emulator.state.addSdt({ name: "sdt-4", protectionDomainId: "7a1e9d0000000001", ipList: [{ ip: "192.0.2.14", role: "HostOnly" }], nvmePort: 4420 });
  out("(on the array: SDT sdt-4 at 192.0.2.14 joins protection domain pd1)");
  await say("pulumi preview", () => w.stack.preview(program()));
  await say("pulumi up", () => w.stack.up(program()));
  args.host = { register: true, nqn: NEW_NQN, id: NEW_ID };
  out(`(in the program: host.nqn changes to ${NEW_NQN})`);
  await say("pulumi up", () => w.stack.up(program()));
  await say("pulumi destroy", () => w.stack.destroy());

  const after = (await controllers(w)).map(describe);
  const ledger = await new LedgerStore(new LocalHost(), w.sim.settings).read();
  const calls = w.sim.calls();
  const ours = after.filter((c) => !foreign.includes(c));
  const result: DemoResult = {
    steps,
    pathsConnected: calls.filter((c) => c[0] === "connect").length,
    pathsDisconnected: w.sim.deletes().filter((d) => d.by === "delete_controller").length,
    foreignBefore: foreign.length,
    foreignAfter: foreign.filter((c) => after.includes(c)).length,
    // Controllers of ours, ledger records, and volume mappings or host objects left on the array.
    leaked:
      ours.length +
      Object.keys(ledger.paths).length +
      Object.keys(ledger.volumes).length +
      [...w.emulator.state.volumes.values()].filter((v) => (v["mappedSdcInfo"] as unknown[]).length > 0).length +
      [...w.emulator.state.hosts.values()].filter((h) => h["hostType"] === "NVMeHost").length,
    secondPreviewChanges,
    providerBytes,
  };
  out(
    `after destroy: ${result.foreignAfter} of ${result.foreignBefore} foreign controllers alive, ${result.leaked} leaked; ` +
      `${result.pathsConnected} connects, ${result.pathsDisconnected} disconnects (each one a write to the delete_controller of a controller we made, checked first); ` +
      `__provider is ${result.providerBytes} bytes`,
  );
  return result;
}

async function controllers(w: World): Promise<FabricsController[]> {
  return readControllers(new LocalHost(), w.sim.settings, { namespaces: false });
}

function describe(c: FabricsController): string {
  return `${c.device} ${c.addressFields.traddr}:${c.addressFields.trsvcid} ${c.subsysnqn} ${c.hostnqn}`;
}

/** The host's fabrics controllers with who owns each: what a storage engineer wants to see. */
async function table(w: World): Promise<string> {
  const [ctrls, ledger] = await Promise.all([controllers(w), new LedgerStore(new LocalHost(), w.sim.settings).read()]);
  const names = new Map([...w.stack.resources.values()].map((r) => [r.id, r.urn.slice(r.urn.lastIndexOf("::") + 2)]));
  const who = (id: string) => names.get(id) ?? `${id.slice(0, 15)}…`;
  const rows = ctrls.map((c) => {
    const rec = c.identity ? ledger.paths[identityKey(c.identity)] : undefined;
    const origin = !rec ? "" : rec.createdBy === EXTERNAL ? " (adopted: was there before)" : rec.owners.includes(rec.createdBy) ? " (created)" : ` (made by ${who(rec.createdBy)})`;
    const owner = rec ? `${rec.owners.map(who).join(", ") || "-"}${origin}` : "foreign: never touched";
    return [c.device, `${c.addressFields.traddr}:${c.addressFields.trsvcid}`, short(c.subsysnqn), short(c.hostnqn), c.state, owner];
  });
  if (rows.length === 0) return "   (no fabrics controllers)\n";
  const header = ["device", "address", "subsystem", "host NQN", "state", "owners"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => `   ${r.map((x, i) => x.padEnd(widths[i])).join("  ")}`.trimEnd();
  return [line(header), ...rows.map(line), ""].join("\n");
}

function short(nqn: string): string {
  return nqn.length > 40 ? `${nqn.slice(0, 18)}…${nqn.slice(-20)}` : nqn;
}
