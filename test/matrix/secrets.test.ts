import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { ProviderCallError, type ProviderHost } from "../../provider/tools/demo/provider-host";
import { startWorld, type World } from "../../provider/tools/demo/world";
import { startEmulator } from "../../provider/tools/emulator";
import { nextCommand } from "./support";

/**
 * A run through many faults, capturing everything a person or a file could see: every error message,
 * everything the provider processes wrote, every stored output, the ledger and the host's files. Neither
 * the gateway password, nor a wrong password someone typed, nor any token the gateway issued is in any of it.
 */

/** Every file under `dir` (the simulated host: ledger, calls.log, knobs, sysfs). */
function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

describe("matrix: secrets never leak (real provider hosts over gRPC)", function () {
  this.timeout(180_000);
  let w: World;
  const hosts: ProviderHost[] = [];
  before(async () => (w = await startWorld()));
  after(async () => {
    for (const h of hosts) await h.stop();
    await w.close();
  });

  it("no password or token in any captured log line, error message, stored output or host file", async () => {
    const wrong = "Wr0ng-but-s3cret-Passw0rd";
    const errors: string[] = [];
    const tokens = new Set<string>();
    const seeTokens = () => w.emulator.validTokens().forEach((t) => tokens.add(t));
    const failing = async (what: string, run: () => Promise<unknown>) => {
      seeTokens();
      await assert.rejects(run(), (err: unknown) => {
        assert.ok(err instanceof ProviderCallError, `${what}: ${String(err)}`);
        errors.push(err.message);
        return true;
      });
      seeTokens();
    };
    const args = { protectionDomain: "pd1", host: { register: true }, hostAccess: w.hostAccess };
    const withPassword = { ...args, gateway: { endpoint: w.emulator.url, username: w.emulator.username, password: w.emulator.password, caCert: w.emulator.caCert } };

    await w.stack.up({ a: args, b: { ...withPassword, sdts: ["sdt-2"] } });
    seeTokens();
    w.emulator.expireTokens();
    w.emulator.state.addSdt({ name: "sdt-4", ipList: [{ ip: "192.0.2.14", role: "HostOnly" }], nvmePort: 4420 });
    await w.stack.up({ a: args, b: { ...withPassword, sdts: ["sdt-2"] } });
    seeTokens();
    w.emulator.state.addSdt({ name: "sdt-5", ipList: [{ ip: "192.0.2.15", role: "HostOnly" }], nvmePort: 4420 });
    w.sim.setPathKnobs("192.0.2.15", { fail: "rejected-by-target" });
    await failing("a refused path", () => w.stack.up({ a: args, b: { ...withPassword, sdts: ["sdt-2"] } }));
    w.sim.setPathKnobs("192.0.2.15", undefined);
    await failing("a wrong password", () => w.stack.up({ a: args, b: { ...withPassword, sdts: ["sdt-2"] }, d: { ...withPassword, gateway: { ...withPassword.gateway, password: wrong } } }));
    w.emulator.injectFault({ path: "/relationships/Sdt", status: 500, times: 100, body: { message: "boom", httpStatusCode: 500, errorCode: 0 } });
    await failing("a gateway answering 500", () => w.stack.preview({ a: args, b: { ...withPassword, sdts: ["sdt-2"] } }));
    w.emulator.clearFaults();
    w.emulator.injectFault({ path: "/api/types/Host/instances", method: "POST", reset: true });
    await failing("a lost POST", () => w.stack.up({ a: args, b: { ...withPassword, sdts: ["sdt-2"] }, e: { ...args, host: { register: true, nqn: "nqn.2014-08.org.example:e", id: "5e3c1b2a-0f9d-4c8b-a7e6-d5c4b3a29180" } } }));
    const dead = await startEmulator({ tls: true });
    await dead.close();
    const down = await nextCommand(w.projectDir, { ...w.config, "powerflex:endpoint": dead.url }, w.stack);
    hosts.push(down.host);
    await failing("the gateway down during preview", () => down.stack.preview({ a: args }));
    const stored = [...w.stack.resources.values()].map((r) => {
      const { gateway, ...rest } = r.outputs as Record<string, any>;
      // `gateway` is the one place the password may be: an input the engine stores encrypted (additionalSecretOutputs).
      return JSON.stringify({ ...rest, gateway: gateway ? { ...gateway, password: "(secret)" } : undefined, inputs: { ...r.inputs, gateway: undefined } });
    });
    await w.stack.destroy();
    seeTokens();

    const captured: [string, string][] = [
      ...errors.map((e, i): [string, string] => [`error ${i}`, e]),
      ...[w.host, ...hosts].flatMap((h, i): [string, string][] => [[`provider ${i} stdout`, h.stdout.join("")], [`provider ${i} stderr`, h.stderr.join("")]]),
      ...stored.map((s, i): [string, string] => [`stored outputs ${i}`, s]),
      ...filesUnder(w.sim.dir).map((f): [string, string] => [f, fs.readFileSync(f, "latin1")]),
    ];
    const basic = Buffer.from(`${w.emulator.username}:${w.emulator.password}`).toString("base64");
    const secrets = [w.emulator.password, wrong, basic, ...tokens];
    assert.ok(tokens.size >= 2, `tokens were issued and seen (${tokens.size})`);
    assert.equal(errors.length, 5, "every fault surfaced as an error");
    assert.ok(captured.some(([where, text]) => where.endsWith("stdout") && text.includes("powerflex-nvme: ")), "the provider did log");
    for (const [where, text] of captured) {
      for (const s of secrets) assert.ok(!text.includes(s), `a secret (${s === wrong ? "the wrong password" : s === w.emulator.password ? "the password" : s === basic ? "Basic credentials" : "a token"}) is in ${where}`);
    }
  });
});
