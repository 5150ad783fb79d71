import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import * as path from "node:path";
import { startWorld, type World } from "../../../provider/tools/demo/world";
import { repoRoot } from "../../support/paths";
import { HOST, NQN, PD, sixPorts } from "../../support/six-ports";

/**
 * `powerflex-nvme status --powerflex` as a user runs it (the real bin in a child process): PowerFlex's view
 * from the emulator beside the simulated host's, the gateway from the POWERFLEX_* environment.
 */

const bin = path.join(repoRoot(), "bin", "powerflex-nvme.js");

interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function status(args: readonly string[], env: NodeJS.ProcessEnv): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, "status", ...args], { timeout: 30_000, env }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

type Json = Record<string, any>;
const lastJson = (stdout: string): Json => JSON.parse(stdout.trimEnd().split("\n").at(-1)!);

describe("CLI: powerflex-nvme status --powerflex (PowerFlex's view from the emulator)", function () {
  this.timeout(120_000);
  let w: World;
  const flags = () => ["--sysfs-root", w.sim.settings.sysfsRoot, "--state-dir", w.sim.settings.stateDir, "--etc-nvme-dir", w.sim.settings.etcNvmeDir];
  const gatewayEnv = (password = w.emulator.password): NodeJS.ProcessEnv => {
    const { POWERFLEX_ENDPOINT: _e, POWERFLEX_USERNAME: _u, POWERFLEX_PASSWORD: _p, POWERFLEX_CA_CERT: _c, POWERFLEX_INSECURE: _i, ...rest } = process.env;
    return { ...rest, POWERFLEX_ENDPOINT: w.emulator.url, POWERFLEX_USERNAME: w.emulator.username, POWERFLEX_PASSWORD: password, POWERFLEX_CA_CERT: w.emulator.caCert! };
  };
  const args = (more: Record<string, unknown> = {}) => ({ protectionDomain: "pd1", host: { register: true }, hostAccess: w.hostAccess, volumes: [{ volume: "vol1" }], ...more });

  beforeEach(async () => {
    w = await startWorld({ emulator: { topology: sixPorts() } });
  });
  afterEach(() => w.close());

  it('--json: isAssigned/isConnected per controller, the budget per protection domain (pathSource "all-sdts": 6 ports, 2 planned)', async () => {
    await w.stack.up({ a: args({ pathSource: "all-sdts" }) });
    const planned = w.emulator.state.plannedPorts(HOST).map((p) => p.traddr);
    assert.equal(planned.length, 2);
    const r = await status(["--json", "--powerflex", ...flags()], gatewayEnv());
    assert.equal(r.code, 0, r.stderr);
    const out = lastJson(r.stdout);
    assert.equal(out.controllers.length, 6);
    for (const c of out.controllers) {
      // The documented fields are all still there, in their order, and the new one after them.
      assert.deepEqual(Object.keys(c), ["device", "transport", "traddr", "trsvcid", "subsysnqn", "hostnqn", "state", "owners", "createdBy", "powerflex"]);
      assert.equal(c.powerflex.isAssigned, planned.includes(c.traddr), c.traddr);
      assert.equal(c.powerflex.isConnected, true);
      assert.match(c.powerflex.sdtId, /^a1b2c3d40000000[123]$/);
    }
    assert.deepEqual(out.powerflex, {
      endpoint: w.emulator.url,
      hosts: [{ hostId: HOST, hostnqn: NQN, name: "host-a", maxNumSysPorts: 2, protectionDomains: [{ id: PD, name: "pd1", connectedPorts: 6, overBudget: true }], plannedNotConnected: [] }],
      unknownHostNqns: [],
    });

    const plain = await status(["--json", ...flags()], gatewayEnv());
    assert.deepEqual(Object.keys(lastJson(plain.stdout)), ["controllers"], "without --powerflex: the old shape, no gateway asked");
    assert.ok(!("powerflex" in lastJson(plain.stdout).controllers[0]));
    await w.stack.destroy();
  });

  it("the table: a POWERFLEX column and each host object's budget; following the plan, every path assigned", async () => {
    await w.stack.up({ a: args({ pathSource: "all-sdts" }) });
    const planned = w.emulator.state.plannedPorts(HOST).map((p) => p.traddr);
    let r = await status(["--powerflex", ...flags()], gatewayEnv());
    assert.equal(r.code, 0, r.stderr);
    const row = (traddr: string) => r.stdout.split("\n").find((l) => l.includes(` ${traddr}:4420 `)) ?? assert.fail(`no row for ${traddr}:\n${r.stdout}`);
    assert.match(r.stdout.split("\n").find((l) => l.startsWith("DEVICE"))!, /OWNERSHIP\s+POWERFLEX$/);
    for (const t of planned) assert.match(row(t), /held by \S+\s+assigned, connected$/);
    assert.match(row(["192.0.2.11", "192.0.2.12", "192.0.2.13"].find((a) => !planned.includes(a))!), /NOT assigned, connected$/);
    assert.match(r.stdout, new RegExp(`NVMe host host-a \\(id ${HOST}\\) ${NQN.replace(/[.:]/g, "\\$&")}: maxNumSysPorts 2\n    protection domain pd1: 6 system port\\(s\\) connected, MORE THAN maxNumSysPorts 2\n`));

    await w.stack.up({ a: args() });
    r = await status(["--powerflex", ...flags()], gatewayEnv());
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /NOT assigned|MORE THAN/);
    assert.match(r.stdout, /protection domain pd1: 2 system port\(s\) connected\n/);
    await w.stack.destroy();
  });

  it("gateway text is escaped; no password or token in any output; a gateway that fails is exit 1 with the host view still shown", async () => {
    await w.stack.up({ a: args() });
    w.emulator.state.hosts.get(HOST)!["name"] = "host\u001b[2J\nfake-row";
    let r = await status(["--powerflex", ...flags()], gatewayEnv());
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes("\u001b"), "an ESC went out raw");
    assert.ok(!r.stdout.split("\n").some((l) => l.startsWith("fake-row")));
    assert.match(r.stdout, /NVMe host host\\x1b\[2J\\nfake-row \(id/);

    // A gateway (or proxy) that echoes the request, credentials included.
    w.emulator.injectFault({ path: "/relationships/NvmeController", status: 400, echo: true, times: 10 });
    r = await status(["--powerflex", "--json", ...flags()], gatewayEnv());
    assert.equal(r.code, 1);
    const out = lastJson(r.stdout);
    assert.equal(out.controllers.length, 2, "the host's view is still listed");
    assert.equal(out.controllers[0].powerflex, null);
    assert.match(out.powerflex.error, /^could not read PowerFlex's view from https:\/\/\S+: /);
    assert.match(r.stderr, /powerflex-nvme status: could not read PowerFlex's view/);
    for (const text of [r.stdout, r.stderr]) assert.ok(!text.includes(w.emulator.password), "the password went out");
    w.emulator.clearFaults();

    const wrong = "not-the-password-3f9a";
    r = await status(["--powerflex", ...flags()], gatewayEnv(wrong));
    assert.equal(r.code, 1);
    assert.match(r.stdout, /\nPOWERFLEX: could not read PowerFlex's view from /);
    assert.match(r.stdout, /^nvme\d+ /m, "the host's table is still printed");
    for (const text of [r.stdout, r.stderr]) assert.ok(!text.includes(wrong), "the password went out");
    await w.stack.destroy();
  });

  it("without the gateway's environment: exit 2 naming the variables; there is no password flag", async () => {
    const { POWERFLEX_PASSWORD: _, ...noPassword } = gatewayEnv();
    let r = await status(["--powerflex", ...flags()], noPassword);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--powerflex reads the gateway from the environment: set POWERFLEX_PASSWORD/);
    r = await status(["--powerflex", "--password", "x", ...flags()], gatewayEnv());
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Unknown option '--password'/);
    r = await status(["--powerflex", ...flags()], { ...gatewayEnv(), POWERFLEX_INSECURE: "maybe" });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /POWERFLEX_INSECURE must be true or false/);
  });
});
