import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { makeConsumerProject, ProviderCallError, ProviderHost, urnOf } from "../../provider/tools/demo/provider-host";
import { Stack } from "../../provider/tools/demo/stack";
import { startWorld, type World } from "../../provider/tools/demo/world";
import { PROVIDER_SOURCE } from "../../provider/pulumi/resource";
import type { SimController } from "../../provider/tools/simhost";
import { startSshd, type Sshd } from "../support/sshd";

/**
 * PowerFlexNvmeAttachment on a remote host: the real dynamic-provider host over gRPC, the gateway
 * emulator, and the simulated host behind a real OpenSSH server on loopback. Every host command, file
 * read, ledger write and the host lock go over SSH; the ledger lives on the remote host.
 */

const PD1_SDT_IPS = ["192.0.2.11", "192.0.2.12", "198.51.100.11"];
const PURE = "nqn.2010-06.com.purestorage:flasharray.6b1a2f0c1d2e3f40";
const snapshot = (cs: SimController[]) => cs.map((c) => `${c.device} ${c.traddr}:${c.trsvcid} ${c.subsysnqn} ${c.hostnqn} ${c.state}`).sort();
const ours = (w: World) => w.sim.controllers().filter((c) => c.subsysnqn.includes("powerflex")).map((c) => c.traddr).sort();
const accepted = (d: Sshd) => (d.log().match(/Accepted publickey/g) ?? []).length;
const ledger = (w: World) => JSON.parse(fs.readFileSync(path.join(w.sim.settings.stateDir, "ledger.json"), "utf8")) as { paths: Record<string, { owners: string[]; pending?: unknown }> };

describe("provider over gRPC on a remote host (real sshd)", function () {
  this.timeout(90_000);
  let sshd: Sshd;
  let w: World;
  let args: Record<string, any>;
  const extra: { host: ProviderHost; dir: string }[] = [];

  before(async () => {
    sshd = await startSshd();
  });
  after(async () => {
    await sshd?.stop();
  });
  beforeEach(async () => {
    w = await startWorld();
    const ssh = { host: "127.0.0.1", port: sshd.port, user: sshd.user, privateKey: sshd.privateKey, hostKey: sshd.hostKey, sudo: false };
    args = { protectionDomain: "pd1", host: { register: true }, hostAccess: { ...w.hostAccess, ssh } };
  });
  afterEach(async () => {
    const output = [...w.host.stdout, ...w.host.stderr, ...extra.flatMap((e) => [...e.host.stdout, ...e.host.stderr])].join("");
    for (const e of extra.splice(0)) {
      await e.host.stop();
      fs.rmSync(e.dir, { recursive: true, force: true });
    }
    await w.close();
    assert.ok(!output.includes(sshd.privateKey.split("\n")[1]), "the private key appeared in a provider's output");
  });

  it("preview, up, second preview, refresh, destroy over one connection per method; the ledger is on the remote host; the key only in the secret output", async () => {
    const foreign = w.sim.addForeignController({ traddr: "10.9.9.9", subsysnqn: PURE });
    const before = snapshot(w.sim.controllers());
    assert.deepEqual(await w.stack.preview({ a: args }), [{ name: "a", op: "create" }]);
    const c0 = accepted(sshd);
    await w.stack.up({ a: args });
    assert.equal(accepted(sshd) - c0, 1, "create used one SSH connection for every command, read, write and the lock");
    assert.deepEqual(ours(w), PD1_SDT_IPS);
    const stored = [...w.stack.resources.values()][0];
    const out = stored.outputs as Record<string, any>;
    assert.deepEqual(out.hostSettings.ssh, { host: "127.0.0.1", port: sshd.port, user: sshd.user, hostKey: sshd.hostKey, agent: false, sudo: false });
    assert.equal(out.hostAccess.ssh.privateKey, sshd.privateKey, "kept under hostAccess, which the resource marks as a secret output");
    const { hostAccess: _secret, ...rest } = out;
    assert.ok(!JSON.stringify(rest).includes(sshd.privateKey.split("\n")[1]), "the key leaked outside hostAccess");
    const records = Object.values(ledger(w).paths);
    assert.equal(records.length, 3);
    assert.ok(records.every((r) => r.owners.length === 1 && r.owners[0] === stored.id && r.pending === undefined));

    assert.deepEqual(await w.stack.preview({ a: args }), [{ name: "a", op: "same" }]);
    // Another way in to the same machine (fingerprint instead of key line): an update, never a replace.
    const viaFingerprint = { ...args, hostAccess: { ...args.hostAccess, ssh: { ...args.hostAccess.ssh, hostKey: sshd.hostFingerprint } } };
    assert.deepEqual(await w.stack.preview({ a: viaFingerprint }), [{ name: "a", op: "update" }]);
    // Another machine: a replace.
    const elsewhere = { ...args, hostAccess: { ...args.hostAccess, ssh: { ...args.hostAccess.ssh, host: "127.0.0.2" } } };
    assert.deepEqual(await w.stack.preview({ a: elsewhere }), [{ name: "a", op: "replace", replaces: ["hostAccess"] }]);
    await w.stack.up({ a: viaFingerprint });
    assert.equal((w.stack.resources.values().next().value!.outputs as any).hostSettings.ssh.hostKey, sshd.hostFingerprint);

    assert.deepEqual(await w.stack.refresh(), [{ name: "a", op: "refresh" }]);
    await w.stack.destroy();
    assert.deepEqual(snapshot(w.sim.controllers()), before);
    assert.ok(w.sim.controllers().some((c) => c.device === foreign));
    assert.deepEqual(ledger(w).paths, {});
    assert.ok(!w.sim.calls().some((argv) => argv[0].startsWith("disconnect")), "no nvme disconnect: teardown writes delete_controller");
    assert.ok(w.sim.deletes().length > 0 && w.sim.deletes().every((d) => d.by === "delete_controller" && d.subsysnqn !== PURE));
  });

  it("two runners (two provider processes) attaching the same remote host share one ledger", async () => {
    const dir = makeConsumerProject();
    const host2 = await ProviderHost.start(dir).catch((err: unknown) => {
      fs.rmSync(dir, { recursive: true, force: true });
      throw err;
    });
    extra.push({ host: host2, dir });
    await host2.configure(w.config);
    const runner2 = new Stack(host2, PROVIDER_SOURCE);

    await w.stack.up({ a: args });
    await runner2.up({ b: args });
    const b = runner2.resources.values().next().value!.outputs as Record<string, any>;
    assert.deepEqual(b.paths.map((p: any) => p.origin), ["adopted", "adopted", "adopted"], "runner 2 found runner 1's paths in the remote ledger");
    assert.equal(w.sim.calls().filter((c) => c[0] === "connect").length, 3, "no second connect of a live path");

    await w.stack.destroy();
    assert.deepEqual(ours(w), PD1_SDT_IPS, "runner 1 let go; runner 2 still holds every path");
    assert.ok(w.emulator.state.hosts.has(b.hostObjectId), "the host object stays while runner 2 uses the host NQN");
    await runner2.destroy();
    assert.deepEqual(ours(w), []);
    assert.deepEqual(ledger(w).paths, {});
  });

  it("a connection lost in the middle of `nvme connect` leaks nothing: the intents settle and create undoes what came up", async () => {
    w.sim.setPathKnobs("192.0.2.12", { latencyMs: 4000 });
    const up = w.stack.up({ a: args });
    const deadline = Date.now() + 30_000;
    while (!(w.sim.controllers().filter((c) => c.subsysnqn.includes("powerflex")).length === 2 && Object.values(ledger(w).paths).some((r) => r.pending))) {
      assert.ok(Date.now() < deadline, "the two quick paths never came up");
      await new Promise((r) => setTimeout(r, 50));
    }
    sshd.dropConnections();
    await assert.rejects(up, (err: unknown) => {
      assert.ok(err instanceof ProviderCallError, String(err));
      assert.match(err.details, /connection was lost during .*nvme.*outcome on the host is unknown/s);
      return true;
    });
    assert.equal(w.stack.resources.size, 0);
    await new Promise((r) => setTimeout(r, 5000)); // past the slow connect's latency: it must not appear late
    assert.deepEqual(ours(w), [], "a controller stayed behind");
    assert.deepEqual(ledger(w).paths, {}, "the ledger still lists something");
  });

  it("check names bad ssh inputs; a wrong host key fails with both fingerprints and changes nothing", async () => {
    const urn = urnOf("a");
    const bad = {
      protectionDomain: "pd1",
      hostAccess: { ssh: { host: "-oProxyCommand=touch /tmp/x", port: 70000, user: "-l", hostKey: "ssh-ed25519 not-base64!", privateKey: "hunter2" } },
      __provider: PROVIDER_SOURCE,
    };
    const { failures } = await w.host.check(urn, {}, bad);
    const by = Object.fromEntries(failures.map((f) => [f.property, f.reason]));
    assert.match(by["hostAccess.ssh.host"], /host name .* or an IP address/);
    assert.match(by["hostAccess.ssh.port"], /1-65535/);
    assert.match(by["hostAccess.ssh.user"], /Unix user name/);
    assert.match(by["hostAccess.ssh.hostKey"], /base64/);
    assert.match(by["hostAccess.ssh.privateKey"], /PRIVATE KEY/);
    assert.ok(!JSON.stringify(failures).includes("hunter2"));
    const none = await w.host.check(urn, {}, { protectionDomain: "pd1", hostAccess: { ssh: { host: "h", user: "root", hostKey: sshd.hostFingerprint } }, __provider: PROVIDER_SOURCE });
    assert.match(none.failures.map((f) => `${f.property}: ${f.reason}`).join(), /hostAccess.ssh.privateKey: give privateKey, or set agent: true/);

    const otherKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
    const wrong = { ...args, hostAccess: { ...args.hostAccess, ssh: { ...args.hostAccess.ssh, hostKey: otherKey } } };
    await assert.rejects(w.stack.up({ a: wrong }), (err: unknown) => {
      assert.ok(err instanceof ProviderCallError);
      assert.match(err.details, new RegExp(`host key mismatch: expected SHA256:\\S+, the host offered ${sshd.hostFingerprint.replace(/[+/]/g, "\\$&")}`));
      return true;
    });
    assert.deepEqual(ours(w), []);
    assert.equal(w.sim.calls().length, 0, "nothing ran on a host that did not prove its key");
  });
});
