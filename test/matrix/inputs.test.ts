import { strict as assert } from "node:assert";
import { ProviderCallError, urnOf } from "../../provider/tools/demo/provider-host";
import { startWorld, type World } from "../../provider/tools/demo/world";
import { PROVIDER_SOURCE } from "../../provider/pulumi/resource";
import { ledgerOf, ours } from "./support";

/**
 * Malformed inputs through the real provider host: `check` names each bad property and says what is wrong,
 * `create` (called as if check had been skipped) refuses the same inputs before anything runs, and not one
 * nvme command line is built from them. Inputs that only PowerFlex can judge fail at create naming the field.
 */

const NQN_OK = "nqn.2014-08.org.nvmexpress:uuid:5e3c1b2a-0f9d-4c8b-a7e6-d5c4b3a29180";
const URL_SECRET = "pw-in-the-url-7f3a";

/** [what, patch of the inputs, the property check must name]. */
const BAD: readonly [string, Record<string, unknown>, string][] = [
  ["empty protection domain", { protectionDomain: "" }, "protectionDomain"],
  ["no protection domain", { protectionDomain: undefined }, "protectionDomain"],
  ["protection domain a number", { protectionDomain: 42 }, "protectionDomain"],
  ["huge protection domain", { protectionDomain: "p".repeat(200_000) }, "protectionDomain"],
  ["protection domain with a NUL", { protectionDomain: "pd1\u0000" }, "protectionDomain"],
  ["system empty", { system: "" }, "system"],
  ["NQN without nqn.", { host: { nqn: "not-an-nqn" } }, "host.nqn"],
  ["NQN month 13", { host: { nqn: "nqn.2014-13.org.example:x" } }, "host.nqn"],
  ["NQN over 223 bytes", { host: { nqn: `nqn.2014-08.org.example:${"a".repeat(220)}` } }, "host.nqn"],
  ["NQN that is an option", { host: { nqn: "-d" } }, "host.nqn"],
  ["NQN with unicode in the domain", { host: { nqn: "nqn.2014-08.org.exämple:ü" } }, "host.nqn"],
  ["NQN with a space", { host: { nqn: "nqn.2014-08.org.example:a b" } }, "host.nqn"],
  ["host id that is an option", { host: { nqn: NQN_OK, id: "--all" } }, "host.id"],
  ["host id too short", { host: { id: "d24b6553-aa97-4c7c-aa4c-b51c022d8b7" } }, "host.id"],
  ["host name over 31 characters", { host: { name: "n".repeat(32) } }, "host.name"],
  ["register not a boolean", { host: { register: "yes" } }, "host.register"],
  ["unknown host field", { host: { iqn: "x" } }, "host"],
  ["IPv4 out of range", { addresses: [{ sdt: "sdt-1", traddr: "10.0.0.300" }] }, "addresses.0.traddr"],
  ["IPv4 with a port", { addresses: [{ sdt: "sdt-1", traddr: "10.0.0.1:4420" }] }, "addresses.0.traddr"],
  ["IPv6 with two ::", { addresses: [{ sdt: "sdt-1", traddr: "fd00::1::2" }] }, "addresses.0.traddr"],
  ["IPv4 short form", { addresses: [{ sdt: "sdt-1", traddr: "10.1" }] }, "addresses.0.traddr"],
  ["IPv4 with a leading zero (octal to some parsers)", { addresses: [{ sdt: "sdt-1", traddr: "010.0.0.1" }] }, "addresses.0.traddr"],
  ["IPv6 with a bad group", { addresses: [{ sdt: "sdt-1", traddr: "fd00::zz" }] }, "addresses.0.traddr"],
  ["host name for an address", { addresses: [{ sdt: "sdt-1", traddr: "sdt1.example.com" }] }, "addresses.0.traddr"],
  ["address that is an option", { addresses: [{ sdt: "sdt-1", traddr: "-a" }] }, "addresses.0.traddr"],
  ["port 0", { addresses: [{ sdt: "sdt-1", traddr: "192.0.2.11", trsvcid: 0 }] }, "addresses.0.trsvcid"],
  ["port 65536", { addresses: [{ sdt: "sdt-1", traddr: "192.0.2.11", trsvcid: 65536 }] }, "addresses.0.trsvcid"],
  ["port not whole", { addresses: [{ sdt: "sdt-1", traddr: "192.0.2.11", trsvcid: 4420.5 }] }, "addresses.0.trsvcid"],
  ["port as text", { addresses: [{ sdt: "sdt-1", traddr: "192.0.2.11", trsvcid: "4420" }] }, "addresses.0.trsvcid"],
  ["negative ctrl-loss-tmo", { connect: { ctrlLossTmo: -5 } }, "connect.ctrlLossTmo"],
  ["ctrl-loss-tmo not whole", { connect: { ctrlLossTmo: 1.5 } }, "connect.ctrlLossTmo"],
  ["reconnect delay 0", { connect: { reconnectDelay: 0 } }, "connect.reconnectDelay"],
  ["negative keep-alive", { connect: { keepAliveTmo: -1 } }, "connect.keepAliveTmo"],
  ["a billion I/O queues", { connect: { nrIoQueues: 1e9 } }, "connect.nrIoQueues"],
  ["interface that is an option", { connect: { hostIface: "--all" } }, "connect.hostIface"],
  ["interface with an argument in it", { connect: { hostIface: "eth0 -d" } }, "connect.hostIface"],
  ["host address that is an option", { connect: { hostTraddr: "-d" } }, "connect.hostTraddr"],
  ["unknown connect option", { connect: { duplicateConnect: true } }, "connect"],
  ["StorageOnly role", { roles: ["StorageOnly"] }, "roles.0"],
  ["unknown role", { roles: ["Admin"] }, "roles.0"],
  ["no role", { roles: [] }, "roles"],
  ["empty SDT set", { sdts: [] }, "sdts"],
  ["SDT name that is not text", { sdts: [7] }, "sdts.0"],
  ["minPaths 0", { minPaths: 0 }, "minPaths"],
  ["negative minPaths", { minPaths: -1 }, "minPaths"],
  ["minPaths not whole", { minPaths: 2.5 }, "minPaths"],
  ["force as text", { force: "true" }, "force"],
  ["nvme-cli path that is an option", { hostAccess: { nvmeCli: "--help" } }, "hostAccess.nvmeCli"],
  ["relative state dir", { hostAccess: { stateDir: "run/pfnvme" } }, "hostAccess.stateDir"],
  ["sysfs root with a newline", { hostAccess: { sysfsRoot: "/sys\n" } }, "hostAccess.sysfsRoot"],
  ["the same volume twice", { volumes: [{ volume: "vol1" }, { volume: "vol1" }] }, "volumes"],
  ["unknown access mode", { volumes: [{ volume: "vol1", accessMode: "rw" }] }, "volumes.0.accessMode"],
  ["id: form that is no volume id", { volumes: [{ volume: "id:vol1" }] }, "volumes.0.volume"],
  ["name: form without a name", { volumes: [{ volume: "name:" }] }, "volumes.0.volume"],
  ["credentials in the endpoint", { gateway: { endpoint: `https://admin:${URL_SECRET}@gw.example`, username: "u", password: "p" } }, "gateway.endpoint"],
  ["ftp endpoint", { gateway: { endpoint: "ftp://gw.example", username: "u", password: "p" } }, "gateway.endpoint"],
  ["empty password", { gateway: { endpoint: "https://gw.example", username: "u", password: "" } }, "gateway.password"],
  ["CA that is not PEM", { gateway: { endpoint: "https://gw.example", username: "u", password: "p", caCert: "not a pem" } }, "gateway.caCert"],
  ["unknown auth flow", { gateway: { endpoint: "https://gw.example", username: "u", password: "p", authFlow: "ldap" } }, "gateway.authFlow"],
  ["unknown property", { protectionDomains: ["pd1"] }, "(inputs)"],
];

describe("matrix: malformed inputs (real provider host over gRPC)", function () {
  this.timeout(120_000);
  let w: World;
  let args: Record<string, unknown>;
  before(async () => {
    w = await startWorld();
    args = { protectionDomain: "pd1", host: { register: true }, hostAccess: w.hostAccess };
  });
  after(async () => {
    await w.close();
  });

  it(`has at least 30 cases (${BAD.length})`, () => assert.ok(BAD.length >= 30));

  BAD.forEach(([what, patch, property], i) => {
    it(`${what}: check names ${property}; create refuses it before anything runs`, async () => {
      const news = JSON.parse(JSON.stringify({ ...args, ...patch, __provider: PROVIDER_SOURCE }));
      const urn = urnOf(`bad${i}`);
      const { failures } = await w.host.check(urn, {}, news);
      const mine = failures.filter((f) => f.property === property);
      assert.ok(mine.length > 0, `no failure for ${property}: ${JSON.stringify(failures).slice(0, 500)}`);
      for (const f of mine) {
        assert.ok(f.reason.length > 0 && f.reason.length < 300, `a short reason: ${f.reason.slice(0, 400)}`);
        assert.ok(!f.reason.includes(URL_SECRET));
      }
      await assert.rejects(w.host.create(urn, news), (err: unknown) => {
        assert.ok(err instanceof ProviderCallError);
        assert.ok(err.details.includes(`invalid inputs: ${property}: `), err.details.slice(0, 500));
        assert.ok(!err.details.includes(URL_SECRET));
        return true;
      });
      assert.deepEqual(w.sim.calls(), [], "no nvme command ran, so no argv was built from the value");
      assert.deepEqual([ours(w.sim), ledgerOf(w.sim)], [[], {}]);
    });
  });

  for (const [what, patch, said] of [
    ["protection domain not found", { protectionDomain: "pd-nope" }, /protectionDomain: Unknown protection domain "pd-nope".*Known protection domains: "pd1"/],
    ["a protection domain without SDTs (empty SDT set)", { protectionDomain: "pd2" }, /protection domain "pd2" .* offers no NVMe\/TCP path to connect: it has no SDT/],
    ["an SDT that does not exist", { sdts: ["sdt-9"] }, /sdts\.0: "sdt-9" is no SDT of protection domain "pd1" \(its SDTs: sdt-1, sdt-2, sdt-3\)/],
    ["an address for an SDT that does not exist", { addresses: [{ sdt: "sdt-9", traddr: "192.0.2.99" }] }, /addresses\.0\.sdt: "sdt-9" is no SDT/],
    ["only an SDT in maintenance", { sdts: ["sdt-3"] }, /offers no NVMe\/TCP path to connect:.*sdt-3: in maintenance/],
  ] as const) {
    it(`${what}: create fails naming it, nothing is done`, async () => {
      const hosts = w.emulator.state.hosts.size;
      await assert.rejects(w.stack.up({ a: { ...args, ...patch } }), (err: unknown) => {
        assert.ok(err instanceof ProviderCallError);
        assert.match(err.details, said);
        return true;
      });
      assert.deepEqual([w.sim.calls(), ours(w.sim), ledgerOf(w.sim)], [[], [], {}]);
      assert.equal(w.emulator.state.hosts.size, hosts, "no host object registered");
    });
  }
});
