import { strict as assert } from "node:assert";
import { ProviderCallError } from "../../provider/tools/demo/provider-host";
import { startWorld, type World } from "../../provider/tools/demo/world";
import { startEmulator } from "../../provider/tools/emulator";
import { DEFAULT_SIM_HOSTNQN } from "../../provider/tools/simhost";
import type { ProviderHost } from "../../provider/tools/demo/provider-host";
import { addForeign, assertForeignUntouched, ledgerOf, nextCommand, ours } from "./support";

/**
 * Gateway faults through the real provider host: the REST client against the emulator over TLS, with the
 * emulator's fault injection. Each case: a clear error or success, host and ledger exact, nothing foreign cut.
 */

const NQN = "nqn.1988-11.com.dell:powerflex:00:5fd1a0c900000001";
const ALL = ["192.0.2.11:4420 live", "192.0.2.12:4420 live", "198.51.100.11:4420 live"];

/** Requests the emulator saw whose "METHOD route" matches. */
const hits = (w: World, re: RegExp) => Object.entries(w.emulator.counts()).filter(([k]) => re.test(k)).reduce((n, [, v]) => n + v, 0);

/** An https URL where nothing listens any more (a gateway that is down). */
async function deadEndpoint(): Promise<string> {
  const e = await startEmulator({ tls: true });
  await e.close();
  return e.url;
}

const fails = (re: RegExp, password: string) => (err: unknown) => {
  assert.ok(err instanceof ProviderCallError, String(err));
  assert.match(err.details, re);
  assert.ok(!err.details.includes(password));
  return true;
};

describe("matrix: gateway faults (real provider host over gRPC, emulator over TLS)", function () {
  this.timeout(90_000);
  let w: World;
  let args: Record<string, unknown>;
  let foreign: string[];
  let down: ProviderHost | undefined;
  beforeEach(async () => {
    w = await startWorld();
    args = { protectionDomain: "pd1", host: { register: true }, hostAccess: w.hostAccess };
    foreign = addForeign(w.sim, NQN, "192.0.2.11");
  });
  afterEach(async () => {
    await down?.stop();
    down = undefined;
    assertForeignUntouched(w.sim, foreign);
    await w.close();
  });

  it("tokens expire between and during runs: exactly one new login each time, no error", async () => {
    await w.stack.up({ a: args });
    const logins = () => hits(w, /^(POST \/rest\/auth\/login|GET \/api\/login)$/);
    const first = logins();
    w.emulator.expireTokens();
    w.emulator.state.addSdt({ name: "sdt-4", ipList: [{ ip: "192.0.2.14", role: "HostOnly" }], nvmePort: 4420 });
    assert.deepEqual(await w.stack.up({ a: args }), [{ name: "a", op: "update" }]);
    assert.equal(logins(), first + 1);
    // A 401 in the middle of a create's reads (the token revoked under us).
    w.emulator.injectFault({ path: "/relationships/Sdt", status: 401, times: 1 });
    await w.stack.up({ a: args, b: { ...args, sdts: ["sdt-2"] } });
    assert.equal(logins(), first + 2);
    assert.deepEqual(ours(w.sim), [...ALL, "192.0.2.14:4420 live"].sort());
    await w.stack.destroy();
    assert.deepEqual([ours(w.sim), ledgerOf(w.sim)], [[], {}]);
  });

  it("5xx and connection resets on GETs are retried: the create succeeds", async () => {
    w.emulator.injectFault({ path: "/relationships/Sdt", status: 503, times: 2 });
    w.emulator.injectFault({ path: "/api/types/System/instances", reset: true, times: 1 });
    await w.stack.up({ a: args });
    const sdtReads = hits(w, /^GET .*relationships\/Sdt/);
    assert.deepEqual(ours(w.sim), ALL);
    await w.stack.destroy();
    w.emulator.resetCounts();
    await w.stack.up({ a: args });
    assert.equal(sdtReads, hits(w, /^GET .*relationships\/Sdt/) + 2, "each of the two 503s was answered by a retry");
    await w.stack.destroy();
    assert.deepEqual([ours(w.sim), ledgerOf(w.sim)], [[], {}]);
  });

  it("a POST whose answer is lost is not retried blindly: a clear error, nothing on the host; the next up works", async () => {
    w.emulator.injectFault({ path: "/api/types/Host/instances", method: "POST", reset: true, times: 1 });
    await assert.rejects(w.stack.up({ a: args }), fails(/POST \S*\/api\/types\/Host\/instances failed without an HTTP answer/, w.emulator.password));
    assert.equal(hits(w, /^POST \/api\/types\/Host\/instances/), 1, "exactly one POST reached the gateway");
    assert.deepEqual([ours(w.sim), ledgerOf(w.sim)], [[], {}]);
    assert.equal(w.sim.calls().filter((c) => c[0] === "connect").length, 0, "no connect before the host object exists");
    await w.stack.up({ a: args });
    assert.deepEqual(ours(w.sim), ALL);
    await w.stack.destroy();
    assert.deepEqual([ours(w.sim), ledgerOf(w.sim), [...w.emulator.state.hosts.values()].filter((h) => h.nqn === DEFAULT_SIM_HOSTNQN)], [[], {}, []]);
  });

  it("a gateway whose certificate another CA signed: a TLS error that says to set caCert; nothing done", async () => {
    const other = await startEmulator({ tls: true });
    const wrongCa = other.caCert!;
    await other.close();
    await w.host.configure({ ...w.config, "powerflex:caCert": wrongCa });
    await assert.rejects(w.stack.up({ a: args }), fails(/caCert/, w.emulator.password));
    assert.deepEqual([ours(w.sim), ledgerOf(w.sim), w.sim.calls()], [[], {}, []]);
    assert.equal(w.emulator.state.hosts.size, [...w.emulator.state.hosts.values()].filter((h) => h.nqn !== DEFAULT_SIM_HOSTNQN).length, "no host object registered");
  });

  it("gateway down during preview: preview fails with the reason instead of claiming no change; the host is untouched", async () => {
    await w.stack.up({ a: args });
    const calls = w.sim.calls().length;
    const next = await nextCommand(w.projectDir, { ...w.config, "powerflex:endpoint": await deadEndpoint() }, w.stack);
    down = next.host;
    await assert.rejects(next.stack.preview({ a: args }), fails(/cannot compare with PowerFlex.*will not guess "no change"/s, w.emulator.password));
    assert.equal(w.sim.calls().length, calls, "preview ran no nvme command");
    assert.deepEqual(ours(w.sim), ALL);
    await w.stack.destroy();
  });

  it("gateway down during destroy: host-side paths are released without it; only a host object we registered waits for it", async () => {
    await w.stack.up({ a: args });
    const hostObjectId = String([...w.stack.resources.values()][0].outputs.hostObjectId);
    // b uses the host object a registered (found, not registered by b): its destroy needs no gateway at all.
    await w.stack.up({ a: args, b: { ...args, host: {}, sdts: ["sdt-2"] } });
    const next = await nextCommand(w.projectDir, { ...w.config, "powerflex:endpoint": await deadEndpoint() }, w.stack);
    down = next.host;
    // `pulumi destroy --target b` (the delete step alone: a diff of a would need the gateway).
    assert.deepEqual(await next.stack.deleteAllBut(["a"]), [{ name: "b", op: "delete" }]);
    assert.deepEqual(Object.values(ledgerOf(w.sim)).map((r) => r.owners.length), [1, 1, 1], "b let go of its share, a holds all");
    assert.deepEqual(ours(w.sim), ALL);
    // a registered the host object: its paths go, then the error says what is left and what to do.
    await assert.rejects(
      next.stack.destroy(),
      fails(new RegExp(`paths of this attachment were released, but the NVMe host object ${hostObjectId} we registered could not be removed.*Run the destroy again`, "s"), w.emulator.password),
    );
    assert.deepEqual([ours(w.sim), ledgerOf(w.sim)], [[], {}], "the host side is clean already");
    assert.ok(w.emulator.state.hosts.has(hostObjectId));
    assert.equal(w.stack.resources.size, 1, "a failed delete keeps the resource in the stack");
    await w.stack.destroy(); // the gateway is back
    assert.equal(w.stack.resources.size, 0);
    assert.ok(!w.emulator.state.hosts.has(hostObjectId), "the retried destroy removed the host object");
  });
});
