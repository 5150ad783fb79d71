import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { isDeepStrictEqual } from "node:util";
import { PROVIDER_SOURCE } from "../../provider/pulumi/resource";
import { ProviderCallError, UNKNOWN, urnOf } from "../../provider/tools/demo/provider-host";
import { startWorld, type World } from "../../provider/tools/demo/world";
import type { SimController } from "../../provider/tools/simhost";
import { repoRoot } from "../support/paths";

/**
 * The provider contract through the real dynamic-provider host of @pulumi/pulumi, started as the engine
 * starts it and driven over gRPC, with the real engine, REST client (against the gateway emulator over
 * TLS) and nvme-cli adapter (against the simulated host). Every test checks the foreign controllers.
 */

const PURE = "nqn.2010-06.com.purestorage:flasharray.6b1a2f0c1d2e3f40";
const OTHER_TOOL = "nqn.2014-08.org.example:another-tool";
const PD1_SDT_IPS = ["192.0.2.11", "192.0.2.12", "198.51.100.11"];

const snapshot = (cs: SimController[]) => cs.map((c) => `${c.device} ${c.traddr}:${c.trsvcid} ${c.subsysnqn} ${c.hostnqn} ${c.state}`).sort();

function addForeign(w: World): string[] {
  w.sim.addForeignController({ traddr: "10.9.9.9", subsysnqn: PURE });
  w.sim.addForeignController({ traddr: "192.0.2.11", trsvcid: 4421, subsysnqn: "nqn.1988-11.com.dell:powerflex:00:5fd1a0c900000001", hostnqn: OTHER_TOOL, hostid: "0d4e8a7c-2f61-4b5e-9d3a-7c1e5b2a9f00" });
  return snapshot(w.sim.controllers());
}

function assertForeignAlive(w: World, before: readonly string[]): void {
  const now = snapshot(w.sim.controllers());
  for (const line of before) assert.ok(now.includes(line), `foreign controller gone or changed: ${line}\nnow: ${now.join("\n")}`);
  // The only nvme disconnects are the tests' own stand-ins for someone else; the provider deletes through delete_controller.
  for (const argv of w.sim.calls()) assert.ok(argv[0] !== "disconnect-all" && (argv[0] !== "disconnect" || argv[1] === "-d"), argv.join(" "));
  for (const d of w.sim.deletes().filter((x) => x.by === "delete_controller")) {
    assert.ok(d.subsysnqn !== PURE && d.hostnqn !== OTHER_TOOL, `deleted a foreign controller: ${JSON.stringify(d)}`);
  }
}

const ourAddresses = (w: World) => w.sim.controllers().filter((c) => c.subsysnqn.includes("powerflex") && c.hostnqn !== OTHER_TOOL).map((c) => c.traddr).sort();

describe("provider over gRPC (real dynamic-provider host)", function () {
  this.timeout(60_000);
  let w: World;
  let args: Record<string, unknown>;
  beforeEach(async () => {
    w = await startWorld();
    args = { protectionDomain: "pd1", host: { register: true }, hostAccess: w.hostAccess };
  });
  afterEach(async () => {
    const leaked = [...w.host.stdout, ...w.host.stderr].join("").includes(w.emulator.password);
    await w.close();
    assert.ok(!leaked, "the gateway password appeared in the provider's output");
  });

  it("__provider is a tiny module that requires the package by name, with no credential", async () => {
    assert.ok(Buffer.byteLength(PROVIDER_SOURCE) < 1024, `${Buffer.byteLength(PROVIDER_SOURCE)} bytes`);
    assert.match(PROVIDER_SOURCE, /require\("pulumi-powerflex-nvme\/lifecycle"\)/);
    await w.stack.up({ a: args });
    const stored = [...w.stack.resources.values()][0];
    assert.equal(stored.outputs.__provider, PROVIDER_SOURCE, "the host keeps __provider in the outputs");
    assert.ok(!String(stored.outputs.__provider).includes(w.emulator.password));
    assert.ok(!JSON.stringify(stored.outputs).includes(w.emulator.password), "stack-config password is nowhere in the outputs");
  });

  it("check names each bad property and says what is wrong; unknowns pass in preview", async () => {
    const urn = urnOf("a");
    const bad = {
      protectionDomain: "",
      host: { nqn: "not-an-nqn", id: "-rf" },
      addresses: [{ sdt: "sdt-1", traddr: "10.0.0.300", trsvcid: 70000 }],
      connect: { ctrlLossTmo: -5, hostIface: "-eth0" },
      roles: ["StorageOnly"],
      hostAccess: { nvmeCli: "--help" },
      __provider: PROVIDER_SOURCE,
    };
    const { failures } = await w.host.check(urn, {}, bad);
    const by = Object.fromEntries(failures.map((f) => [f.property, f.reason]));
    assert.match(by["protectionDomain"], /must not be empty/);
    assert.match(by["host.nqn"], /nqn\./);
    assert.match(by["host.id"], /UUID/);
    assert.match(by["addresses.0.traddr"], /IPv4 or IPv6/);
    assert.match(by["addresses.0.trsvcid"], /1-65535/);
    assert.match(by["connect.ctrlLossTmo"], /-1/);
    assert.match(by["connect.hostIface"], /not starting with -/);
    assert.match(by["roles.0"], /StorageOnly IPs carry SDS/);
    assert.match(by["hostAccess.nvmeCli"], /must not start with "-"/);
    const preview = await w.host.check(urn, {}, { ...args, protectionDomain: UNKNOWN, host: { nqn: UNKNOWN }, __provider: PROVIDER_SOURCE });
    assert.deepEqual(preview.failures, []);
  });

  it("preview, up, a second preview without changes, refresh without changes, destroy; foreign controllers untouched", async () => {
    const foreign = addForeign(w);
    assert.deepEqual(await w.stack.preview({ a: args }), [{ name: "a", op: "create" }]);
    assert.deepEqual(w.sim.calls().filter((c) => c[0] === "connect"), [], "preview connects nothing");
    assert.deepEqual(await w.stack.up({ a: args }), [{ name: "a", op: "create" }]);
    assert.deepEqual(ourAddresses(w), PD1_SDT_IPS);
    const out = [...w.stack.resources.values()][0].outputs as Record<string, any>;
    assert.equal(out.subsystemNqn, "nqn.1988-11.com.dell:powerflex:00:5fd1a0c900000001");
    assert.equal(out.schemaVersion, 4);
    assert.ok((out.paths as { cntlid: unknown }[]).every((p) => typeof p.cntlid === "number"), "each path names its controller object");
    assert.equal(out.hostRegistered, true);
    assert.ok([...w.emulator.state.hosts.values()].some((h) => h.id === out.hostObjectId && h.nqn === out.hostNqn));
    assert.deepEqual(out.paths.map((p: any) => [p.sdtName, p.traddr, p.trsvcid, p.origin, p.state]).sort(), [
      ["sdt-1", "192.0.2.11", 4420, "created", "live"],
      ["sdt-1", "198.51.100.11", 4420, "created", "live"],
      ["sdt-2", "192.0.2.12", 4420, "created", "live"],
    ]);
    assert.deepEqual(await w.stack.preview({ a: args }), [{ name: "a", op: "same" }]);
    assert.deepEqual(await w.stack.refresh(), [{ name: "a", op: "refresh" }]);
    assert.deepEqual(await w.stack.preview({ a: args }), [{ name: "a", op: "same" }], "refresh causes no diff");
    assert.deepEqual(await w.stack.destroy(), [{ name: "a", op: "delete" }]);
    assert.deepEqual(ourAddresses(w), []);
    assert.ok(![...w.emulator.state.hosts.values()].some((h) => h.id === out.hostObjectId), "the host object we registered is removed");
    assert.deepEqual(snapshot(w.sim.controllers()), foreign, "exactly the foreign controllers remain");
    assertForeignAlive(w, foreign);
  });

  it("refresh after a path died drops it; the next up connects it again", async () => {
    const foreign = addForeign(w);
    await w.stack.up({ a: args });
    const victim = w.sim.controllers().find((c) => c.traddr === "192.0.2.12" && c.hostnqn !== OTHER_TOOL)!;
    execFileSync(w.sim.settings.nvmeCli, ["disconnect", "-d", victim.device]); // someone else removed it
    await w.stack.refresh();
    const out = [...w.stack.resources.values()][0].outputs as Record<string, any>;
    assert.deepEqual(out.paths.map((p: any) => p.traddr).sort(), ["192.0.2.11", "198.51.100.11"]);
    assert.deepEqual(await w.stack.preview({ a: args }), [{ name: "a", op: "update" }]);
    assert.deepEqual(await w.stack.up({ a: args }), [{ name: "a", op: "update" }]);
    assert.deepEqual(ourAddresses(w), PD1_SDT_IPS);
    assert.deepEqual(await w.stack.preview({ a: args }), [{ name: "a", op: "same" }]);
    await w.stack.destroy();
    assertForeignAlive(w, foreign);
  });

  it("refresh when every path is gone drops the resource", async () => {
    await w.stack.up({ a: args });
    for (const c of w.sim.controllers()) execFileSync(w.sim.settings.nvmeCli, ["disconnect", "-d", c.device]);
    assert.deepEqual(await w.stack.refresh(), [{ name: "a", op: "gone" }]);
    assert.equal(w.stack.resources.size, 0);
  });

  it("an SDT added shows in preview and up connects it; an SDT removed is released alone", async () => {
    const foreign = addForeign(w);
    await w.stack.up({ a: args });
    const sdt = w.emulator.state.addSdt({ name: "sdt-4", ipList: [{ ip: "192.0.2.14", role: "HostOnly" }], nvmePort: 4420 });
    assert.deepEqual(await w.stack.preview({ a: args }), [{ name: "a", op: "update" }]);
    const before = w.sim.controllers().filter((c) => c.hostnqn !== OTHER_TOOL).map((c) => c.device);
    assert.deepEqual(await w.stack.up({ a: args }), [{ name: "a", op: "update" }]);
    assert.deepEqual(ourAddresses(w), [...PD1_SDT_IPS, "192.0.2.14"].sort());
    for (const d of before) assert.ok(w.sim.controllers().some((c) => c.device === d), `${d} stayed through the update`);
    assert.equal(w.sim.deletes().length, 0, "no path cut to add one");

    w.emulator.state.removeSdt(sdt.id as string);
    assert.deepEqual(await w.stack.up({ a: args }), [{ name: "a", op: "update" }]);
    assert.deepEqual(ourAddresses(w), PD1_SDT_IPS);
    assert.deepEqual(w.sim.deletes().map((d) => d.traddr), ["192.0.2.14"], "only the removed SDT's path");
    await w.stack.destroy();
    assertForeignAlive(w, foreign);
  });

  it("a connect option set to its kernel default is no change and reconnects nothing; a real change reconnects our paths", async () => {
    const foreign = addForeign(w);
    await w.stack.up({ a: args });
    const nvmeCalls = () => w.sim.calls().filter((c) => c[0] === "connect" || c[0] === "disconnect");
    const before = nvmeCalls().length;
    const deletesBefore = w.sim.deletes().length;
    const prior = [...w.stack.resources.values()][0];
    const atDefault = { ...args, connect: { ctrlLossTmo: 600, headerDigest: false } };
    const checked = await w.host.check(prior.urn, prior.inputs, { ...atDefault, __provider: PROVIDER_SOURCE });
    assert.deepEqual(checked.failures, []);
    assert.equal(checked.inputs.connect, undefined, "check leaves the defaults out");
    const d = await w.host.diff(prior.urn, prior.id, prior.outputs, prior.inputs, checked.inputs);
    assert.equal(d.changes, "none");
    assert.deepEqual(await w.stack.up({ a: atDefault }), [{ name: "a", op: "same" }]);
    assert.equal(nvmeCalls().length, before, "nothing reconnected");
    assert.equal(w.sim.deletes().length, deletesBefore, "nothing disconnected");

    const changed = { ...args, connect: { ctrlLossTmo: 30, headerDigest: true } };
    assert.deepEqual(await w.stack.preview({ a: changed }), [{ name: "a", op: "update" }]);
    assert.deepEqual(await w.stack.up({ a: changed }), [{ name: "a", op: "update" }]);
    const cycled = nvmeCalls().slice(before);
    assert.equal(w.sim.deletes().length - deletesBefore, 3, "each path we made is cycled (deleted through delete_controller, then connected)");
    const connects = cycled.filter((c) => c[0] === "connect");
    assert.equal(connects.length, 3);
    for (const c of connects) assert.ok(c.join(" ").includes("-l 30 -g -o json"), c.join(" "));
    assert.deepEqual(ourAddresses(w), PD1_SDT_IPS);
    assert.deepEqual(await w.stack.preview({ a: { ...changed, connect: { ...changed.connect, dataDigest: false, reconnectDelay: 10 } } }), [{ name: "a", op: "same" }]);
    await w.stack.destroy();
    assertForeignAlive(w, foreign);
  });

  it("a state written before check left defaults out shows no diff because of them", async () => {
    await w.stack.up({ a: args });
    const prior = [...w.stack.resources.values()][0];
    // What an older version stored for `connect: {ctrlLossTmo: 600, reconnectDelay: 10}`: the options as given.
    const old = { ctrlLossTmo: 600, reconnectDelay: 10 };
    const outputs = { ...prior.outputs, connect: old };
    const inputs = { ...prior.inputs, connect: old };
    for (const connect of [undefined, {}, old, { ctrlLossTmo: 600 }]) {
      const checked = await w.host.check(prior.urn, inputs, { ...args, ...(connect ? { connect } : {}), __provider: PROVIDER_SOURCE });
      const d = await w.host.diff(prior.urn, prior.id, outputs, inputs, checked.inputs);
      assert.equal(d.changes, "none", `connect ${JSON.stringify(connect)}`);
    }
    const checked = await w.host.check(prior.urn, inputs, { ...args, connect: { ctrlLossTmo: 601 }, __provider: PROVIDER_SOURCE });
    assert.equal((await w.host.diff(prior.urn, prior.id, outputs, inputs, checked.inputs)).changes, "some");
    await w.stack.destroy();
  });

  it("refresh warns about a path of ours whose options changed on the host since its connect", async () => {
    await w.stack.up({ a: { ...args, connect: { ctrlLossTmo: 30, reconnectDelay: 4 } } });
    const ours = w.sim.controllers().filter((c) => c.subsysnqn.includes("powerflex"));
    const attr = (device: string, a: string) => path.join(w.sim.settings.sysfsRoot, "class", "nvme", device, a);
    for (const c of ours) assert.equal(fs.readFileSync(attr(c.device, "ctrl_loss_tmo"), "utf8").trim(), "32", "ceil(30/4) reconnects of 4 s");
    await w.stack.refresh();
    assert.doesNotMatch(w.host.stdout.join(""), /shows ctrl_loss_tmo/, "no drift right after the connect");
    const victim = ours.find((c) => c.traddr === "192.0.2.12")!;
    fs.writeFileSync(attr(victim.device, "ctrl_loss_tmo"), "off\n"); // someone ran: echo -1 > …/ctrl_loss_tmo
    assert.deepEqual(await w.stack.refresh(), [{ name: "a", op: "refresh" }]);
    const said = w.host.stdout.join("");
    assert.match(said, new RegExp(`192\\.0\\.2\\.12:4420.*\\(${victim.device}\\) shows ctrl_loss_tmo off, but it was connected with 32 \\(connect\\.ctrlLossTmo\\)`));
    assert.equal((said.match(/shows ctrl_loss_tmo/g) ?? []).length, 1, "only the changed path");
    await w.stack.destroy();
  });

  it("diff with unknown values says maybe, and replace when the host identity may move", async () => {
    await w.stack.up({ a: args });
    const prior = [...w.stack.resources.values()][0];
    const d1 = await w.host.diff(prior.urn, prior.id, prior.outputs, prior.inputs, { ...prior.inputs, sdts: UNKNOWN });
    assert.equal(d1.changes, "some");
    assert.deepEqual(d1.replaces, []);
    const d2 = await w.host.diff(prior.urn, prior.id, prior.outputs, prior.inputs, { ...prior.inputs, host: { nqn: UNKNOWN, register: true } });
    assert.deepEqual(d2.replaces, ["host"]);
    assert.equal(d2.deleteBeforeReplace, false);
    await w.stack.destroy();
  });

  it("diff fails clearly when the gateway cannot be asked (no silent 'no change')", async () => {
    await w.stack.up({ a: args });
    w.emulator.injectFault({ path: "/relationships/Sdt", status: 503, times: 100 });
    await assert.rejects(w.stack.preview({ a: args }), (err: unknown) => {
      assert.ok(err instanceof ProviderCallError);
      assert.match(err.details, /cannot compare with PowerFlex.*will not guess "no change"/s);
      return true;
    });
    w.emulator.clearFaults();
    assert.deepEqual(await w.stack.preview({ a: args }), [{ name: "a", op: "same" }]);
    await w.stack.destroy();
  });

  it("replace with create-before-delete keeps shared controllers: the new owner adopts, the old one lets go", async () => {
    const foreign = addForeign(w);
    await w.stack.up({ a: args });
    const devices = w.sim.controllers().filter((c) => c.hostnqn !== OTHER_TOOL && c.subsysnqn !== PURE).map((c) => c.device).sort();
    const oldId = [...w.stack.resources.values()][0].id;
    assert.deepEqual(await w.stack.up({ a: args }, { replace: ["a"] }), [{ name: "a", op: "replace", replaces: ["(--replace)"] }]);
    const now = [...w.stack.resources.values()][0];
    assert.notEqual(now.id, oldId);
    assert.deepEqual(w.sim.controllers().filter((c) => c.hostnqn !== OTHER_TOOL && c.subsysnqn !== PURE).map((c) => c.device).sort(), devices);
    assert.equal(w.sim.deletes().length, 0, "nothing was cut by the replace");
    // The new resource adopted controllers the old one made: it still removes them on destroy.
    await w.stack.destroy();
    assert.deepEqual(ourAddresses(w), []);
    assertForeignAlive(w, foreign);
  });

  it("replace on a new host NQN connects the new identity before the old one goes", async () => {
    const foreign = addForeign(w);
    await w.stack.up({ a: args });
    const newNqn = "nqn.2014-08.org.nvmexpress:uuid:5e3c1b2a-0f9d-4c8b-a7e6-d5c4b3a29180";
    const next = { ...args, host: { register: true, nqn: newNqn, id: "5e3c1b2a-0f9d-4c8b-a7e6-d5c4b3a29180" } };
    assert.deepEqual(await w.stack.preview({ a: next }), [{ name: "a", op: "replace", replaces: ["host"] }]);
    assert.deepEqual(await w.stack.up({ a: next }), [{ name: "a", op: "replace", replaces: ["host"] }]);
    const ours = w.sim.controllers().filter((c) => c.subsysnqn.includes("powerflex") && c.hostnqn !== OTHER_TOOL);
    assert.deepEqual([...new Set(ours.map((c) => c.hostnqn))], [newNqn]);
    assert.equal(ours.length, 3);
    const connects = w.sim.commandTimes().filter((t) => t.command === "connect");
    const firstDelete = Math.min(...w.sim.deletes().map((d) => d.at));
    assert.equal(w.sim.calls().filter((c) => c[0] === "connect" && c.includes(newNqn)).length, 3);
    assert.ok(connects.length > 0 && Number.isFinite(firstDelete) && connects.every((t) => t.end <= firstDelete), "create-before-delete: new paths up before old ones go");
    await w.stack.destroy();
    assertForeignAlive(w, foreign);
  });

  it("create fails all-or-nothing when an SDT refuses: no controller, no host object left", async () => {
    const foreign = addForeign(w);
    w.sim.setPathKnobs("192.0.2.12", { fail: "refused" });
    const hostsBefore = [...w.emulator.state.hosts.keys()].sort();
    await assert.rejects(w.stack.up({ a: args }), (err: unknown) => {
      assert.ok(err instanceof ProviderCallError);
      assert.match(err.details, /192\.0\.2\.12:4420.*refused/s);
      assert.ok(!err.details.includes(w.emulator.password));
      return true;
    });
    assert.deepEqual(snapshot(w.sim.controllers()), foreign);
    assert.deepEqual([...w.emulator.state.hosts.keys()].sort(), hostsBefore);
    // With minPaths 2 it goes through and says which path is missing.
    await w.stack.up({ a: { ...args, minPaths: 2 } });
    assert.deepEqual(ourAddresses(w), ["192.0.2.11", "198.51.100.11"]);
    assert.match(w.host.stdout.join(""), /192\.0\.2\.12:4420.*not connected/);
    await w.stack.destroy();
    assertForeignAlive(w, foreign);
  });

  it("destroy refuses to cut the last path of a mounted namespace unless force", async () => {
    w.sim.addNamespace("nqn.1988-11.com.dell:powerflex:00:5fd1a0c900000001", { nsid: 1, nguid: "5fd1a0c9000000010000000000000001" });
    await w.stack.up({ a: args });
    const head = fs.readdirSync(path.join(w.sim.settings.sysfsRoot, "block")).find((n) => /^nvme\d+n1$/.test(n))!;
    w.sim.mount(head, "/mnt/data", "ext4");
    await assert.rejects(w.stack.destroy(), (err: unknown) => {
      assert.ok(err instanceof ProviderCallError);
      assert.match(err.details, new RegExp(`refusing to disconnect.*/dev/${head}.*mounted.*force: true.*Nothing was changed`, "s"));
      return true;
    });
    assert.deepEqual(ourAddresses(w), PD1_SDT_IPS);
    await w.stack.up({ a: { ...args, force: true } });
    await w.stack.destroy();
    assert.deepEqual(ourAddresses(w), []);
  });

  it("a gateway password given as an input stays under `gateway` only, and wrong credentials say so without it", async () => {
    const secretArgs = { ...args, gateway: { endpoint: w.emulator.url, username: w.emulator.username, password: w.emulator.password, caCert: w.emulator.caCert } };
    await w.stack.up({ a: secretArgs });
    const out = [...w.stack.resources.values()][0].outputs as Record<string, any>;
    const { gateway, ...rest } = out;
    assert.equal(gateway.password, w.emulator.password, "kept under the same key (secret by the engine's rule and additionalSecretOutputs)");
    assert.ok(!JSON.stringify(rest).includes(w.emulator.password));
    await w.stack.destroy();
    const wrong = "s3cret-but-wrong-Pa55";
    await assert.rejects(w.stack.up({ b: { ...secretArgs, gateway: { ...secretArgs.gateway, password: wrong } } }), (err: unknown) => {
      assert.ok(err instanceof ProviderCallError);
      assert.match(err.details, /credential|password|401|log ?in/i);
      assert.ok(!err.details.includes(wrong));
      return true;
    });
    assert.ok(![...w.host.stdout, ...w.host.stderr].join("").includes(wrong));
  });

  it("without any gateway settings, create says where they can come from", async () => {
    await w.host.configure({});
    await assert.rejects(w.stack.up({ a: args }), /no PowerFlex gateway endpoint, username, password: set gateway.endpoint.*pulumi config set powerflex:endpoint.*POWERFLEX_ENDPOINT/s);
  });

  it("two attachments share a path; destroying one keeps it for the other", async () => {
    const foreign = addForeign(w);
    await w.stack.up({ a: args, b: { ...args, sdts: ["sdt-2"] } });
    assert.deepEqual(ourAddresses(w), PD1_SDT_IPS);
    const b = [...w.stack.resources.values()].find((r) => r.urn.endsWith("::b"))!.outputs as Record<string, any>;
    assert.deepEqual(b.paths.map((p: any) => [p.traddr, p.origin]), [["192.0.2.12", "adopted"]]);
    const hostObject = (b as Record<string, any>).hostObjectId;
    await w.stack.up({ b: { ...args, sdts: ["sdt-2"] } }); // a is deleted
    assert.deepEqual(ourAddresses(w), ["192.0.2.12"]);
    assert.ok(w.emulator.state.hosts.has(hostObject), "a registered the host object, but b still uses it: kept");
    await w.stack.destroy();
    assert.deepEqual(ourAddresses(w), []);
    assertForeignAlive(w, foreign);
    assert.ok(isDeepStrictEqual(snapshot(w.sim.controllers()), foreign));
  });
});

describe("state written by schemaVersion 1 (test/fixtures/state-v1.json)", function () {
  this.timeout(60_000);
  it("is refreshed and deleted by the current code: exactly its controllers and its host object go", async () => {
    const w = await startWorld();
    try {
      const hostDir = path.dirname(w.sim.settings.sysfsRoot);
      const text = fs.readFileSync(path.join(repoRoot(), "test", "fixtures", "state-v1.json"), "utf8");
      const fixture = JSON.parse(text.split("@HOST@").join(hostDir).split("@ENDPOINT@").join(w.emulator.url));
      // What version 1 left on the host: its controllers (under the names its ledger records: a v1 record
      // names its object by name and path), its ledger, its host object in PowerFlex.
      for (const p of fixture.outputs.paths) {
        execFileSync(w.sim.settings.nvmeCli, ["connect", "-t", "tcp", "-a", p.traddr, "-s", String(p.trsvcid), "-n", p.subsysnqn, "-q", p.hostnqn, "-I", p.hostid]);
      }
      assert.deepEqual(w.sim.controllers().map((c) => c.device), fixture.outputs.paths.map((p: { device: string }) => p.device));
      const v1Made = snapshot(w.sim.controllers());
      const foreign = addForeign(w).filter((line) => !v1Made.includes(line));
      // Where version 1 kept it: the state dir its state names (the simulated host's /run then).
      fs.writeFileSync(path.join(fixture.outputs.hostSettings.stateDir, "ledger.json"), JSON.stringify(fixture.ledger));
      w.emulator.state.addHost({ id: fixture.outputs.hostObjectId, nqn: fixture.outputs.hostNqn, name: "v1-host" });

      const urn = urnOf("this-host");
      const read = await w.host.read(urn, fixture.id, fixture.outputs, fixture.inputs);
      assert.equal(read.id, fixture.id);
      assert.deepEqual((read.outputs.paths as any[]).map((p) => p.state), ["live", "live", "live"]);
      assert.ok((read.outputs.paths as any[]).every((p) => typeof p.cntlid === "number"), "migrated paths name their controller objects");
      assert.equal(read.outputs.schemaVersion, 4);
      await w.host.delete(urn, fixture.id, read.outputs, fixture.inputs);
      assert.deepEqual(ourAddresses(w), []);
      assert.ok(!w.emulator.state.hosts.has(fixture.outputs.hostObjectId));
      assert.deepEqual(snapshot(w.sim.controllers()), foreign);
      assertForeignAlive(w, foreign);
    } finally {
      await w.close();
    }
  });
});
