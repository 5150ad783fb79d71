import { strict as assert } from "node:assert";
import { checkInputs, UNKNOWN } from "../../provider/pulumi/inputs";

/** checkInputs alone (the provider's `check`, `diff`, `create` and `update` all start with it). */

const FINGERPRINT = `SHA256:${"A".repeat(43)}`;
const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";

const GOOD = {
  gateway: { endpoint: "https://pflex-gw.example.com", username: "admin", password: "s3cret", authFlow: "gateway" },
  protectionDomain: "pd1",
  system: "5fd1a0c900000001",
  sdts: ["sdt-1", "sdt-2"],
  roles: ["StorageAndHost"],
  addresses: [{ sdt: "sdt-1", traddr: "2001:0DB8::0001", trsvcid: 4420 }],
  host: { nqn: "nqn.2014-08.org.nvmexpress:uuid:5e3c1b2a-0f9d-4c8b-a7e6-d5c4b3a29180", id: "5E3C1B2A-0F9D-4C8B-A7E6-D5C4B3A29180", name: "host-1", register: true },
  connect: { ctrlLossTmo: 1800, reconnectDelay: 5, keepAliveTmo: 15, nrIoQueues: 4, fastIoFailTmo: 30, headerDigest: true, dataDigest: true, hostTraddr: "192.0.2.1", hostIface: "eth1" },
  volumes: [{ volume: "vol-1", accessMode: "ReadOnly" }],
  minPaths: 2,
  force: false,
  hostAccess: { nvmeCli: "/usr/sbin/nvme", sysfsRoot: "/sys", stateDir: "/run/pfnvme", ssh: { host: "storage-host-1.example.com", user: "root", hostKey: FINGERPRINT, privateKey: KEY } },
};

describe("checkInputs", () => {
  it("accepts good inputs and returns them in canonical form, without __provider", () => {
    const r = checkInputs({ ...GOOD, __provider: "exports.handler = …" });
    assert.deepEqual(r.failures, []);
    assert.equal(r.hasUnknowns, false);
    assert.ok(r.inputs);
    assert.equal(r.inputs.addresses?.[0].traddr, "2001:db8::1", "IPv6 in canonical text");
    assert.equal(r.inputs.host?.id, "5e3c1b2a-0f9d-4c8b-a7e6-d5c4b3a29180", "host id lower case");
    assert.deepEqual(r.inputs.connect, GOOD.connect);
    assert.ok(!("__provider" in r.inputs));
    assert.deepEqual(checkInputs({ protectionDomain: "pd1" }), { inputs: { protectionDomain: "pd1" }, failures: [], hasUnknowns: false });
  });

  /** [property check must name, patch of GOOD, what the reason says]. */
  const BAD: readonly [string, Record<string, unknown>, RegExp][] = [
    ["protectionDomain", { protectionDomain: "" }, /must not be empty/],
    ["protectionDomain", { protectionDomain: undefined }, /string/],
    ["system", { system: "x".repeat(65) }, /longer than 64/],
    ["sdts", { sdts: [] }, /at least one SDT/],
    ["roles.0", { roles: ["StorageOnly"] }, /StorageOnly IPs carry SDS-to-SDT traffic/],
    ["addresses.0.traddr", { addresses: [{ sdt: "sdt-1", traddr: "pflex.example.com" }] }, /IPv4 or IPv6/],
    ["addresses.0.trsvcid", { addresses: [{ sdt: "sdt-1", traddr: "192.0.2.11", trsvcid: 0 }] }, /1-65535/],
    ["host.nqn", { host: { nqn: "iqn.2001-04.com.example" } }, /nqn\./],
    ["host.id", { host: { id: "-rf" } }, /UUID/],
    ["host.name", { host: { name: "n".repeat(32) } }, /longer than 31/],
    ["host.register", { host: { register: "yes" } }, /true or false/],
    ["connect.ctrlLossTmo", { connect: { ctrlLossTmo: -5 } }, /-1 \(reconnect forever\)/],
    ["connect.reconnectDelay", { connect: { reconnectDelay: 0 } }, />= 1/],
    ["connect.keepAliveTmo", { connect: { keepAliveTmo: 0 } }, /1 to 4294967/],
    ["connect.nrIoQueues", { connect: { nrIoQueues: 1e9 } }, /1 to 65535/],
    ["connect.fastIoFailTmo", { connect: { fastIoFailTmo: 2.5 } }, /whole number of seconds/],
    ["connect.headerDigest", { connect: { headerDigest: "on" } }, /true or false/],
    ["connect.dataDigest", { connect: { dataDigest: 1 } }, /true or false/],
    ["connect.hostTraddr", { connect: { hostTraddr: "-d" } }, /IPv4 or IPv6/],
    ["connect.hostIface", { connect: { hostIface: "eth0:1" } }, /interface name/],
    ["connect", { connect: { duplicateConnect: true } }, /unknown property duplicateConnect/],
    ["volumes", { volumes: [{ volume: "v" }, { volume: "v" }] }, /same volume twice/],
    ["volumes.0.accessMode", { volumes: [{ volume: "v", accessMode: "rw" }] }, /ReadWrite/],
    ["minPaths", { minPaths: 0 }, />= 1/],
    ["pathSource", { pathSource: "paths" }, /must be "plan" \(the ports PowerFlex plans for the host, from nvme discover\) or "all-sdts"/],
    ["force", { force: "yes" }, /true or false/],
    ["gateway.endpoint", { gateway: { ...GOOD.gateway, endpoint: "https://admin:pw@gw" } }, /without credentials/],
    ["gateway.authFlow", { gateway: { ...GOOD.gateway, authFlow: "basic" } }, /"auto", "gateway" or "manager"/],
    ["gateway.caCert", { gateway: { ...GOOD.gateway, caCert: "not a pem" } }, /PEM/],
    ["hostAccess.nvmeCli", { hostAccess: { nvmeCli: "--help" } }, /must not start with "-"/],
    ["hostAccess.sysfsRoot", { hostAccess: { sysfsRoot: "sys" } }, /absolute path/],
    ["hostAccess.ssh.user", { hostAccess: { ssh: { ...GOOD.hostAccess.ssh, user: "-oProxyCommand=x" } } }, /Unix user name/],
    ["hostAccess.ssh.privateKey", { hostAccess: { ssh: { host: "h", user: "root", hostKey: FINGERPRINT } } }, /agent: true/],
    ["(inputs)", { colour: "blue" }, /unknown property colour/],
  ];
  for (const [property, patch, reason] of BAD) {
    it(`names ${property} (${JSON.stringify(patch).slice(0, 60)})`, () => {
      const r = checkInputs({ ...GOOD, ...patch });
      assert.equal(r.inputs, undefined);
      const f = r.failures.find((x) => x.property === property);
      assert.ok(f, `no failure for ${property}: ${JSON.stringify(r.failures)}`);
      assert.match(f.reason, reason);
    });
  }

  it("names every bad property at once, and never echoes a secret", () => {
    const r = checkInputs({ ...GOOD, protectionDomain: "", minPaths: -1, connect: { ctrlLossTmo: -7, hostIface: "-eth0" }, gateway: { ...GOOD.gateway, password: "" } });
    assert.deepEqual(r.failures.map((f) => f.property).sort(), ["connect.ctrlLossTmo", "connect.hostIface", "gateway.password", "minPaths", "protectionDomain"]);
    assert.ok(!JSON.stringify(checkInputs({ ...GOOD, gateway: { ...GOOD.gateway, insecure: "s3cret" } })).includes("s3cret"));
  });

  it("tolerates values not known during preview, but still names the known bad ones", () => {
    const preview = checkInputs({ ...GOOD, protectionDomain: UNKNOWN, connect: { ctrlLossTmo: UNKNOWN }, host: { nqn: UNKNOWN } });
    assert.deepEqual(preview, { failures: [], hasUnknowns: true });
    const mixed = checkInputs({ ...GOOD, sdts: UNKNOWN, connect: { ctrlLossTmo: UNKNOWN, reconnectDelay: -1 } });
    assert.deepEqual(mixed.failures.map((f) => f.property), ["connect.reconnectDelay"]);
    assert.equal(mixed.inputs, undefined);
  });

  it('leaves out pathSource "plan" (the default) and keeps "all-sdts"', () => {
    assert.deepEqual(checkInputs({ protectionDomain: "pd1", pathSource: "plan" }).inputs, { protectionDomain: "pd1" });
    assert.deepEqual(checkInputs({ protectionDomain: "pd1", pathSource: "all-sdts" }).inputs, { protectionDomain: "pd1", pathSource: "all-sdts" });
  });

  it("leaves out connect options set to the kernel's default, and `connect` itself when nothing else is left", () => {
    const defaults = { ctrlLossTmo: 600, reconnectDelay: 10, keepAliveTmo: 5, fastIoFailTmo: -1, headerDigest: false, dataDigest: false };
    assert.deepEqual(checkInputs({ protectionDomain: "pd1", connect: defaults }).inputs, { protectionDomain: "pd1" });
    assert.deepEqual(checkInputs({ protectionDomain: "pd1", connect: {} }).inputs, { protectionDomain: "pd1" });
    assert.deepEqual(checkInputs({ protectionDomain: "pd1", connect: { ...defaults, ctrlLossTmo: 30, headerDigest: true, nrIoQueues: 4 } }).inputs, {
      protectionDomain: "pd1",
      connect: { ctrlLossTmo: 30, headerDigest: true, nrIoQueues: 4 },
    });
  });
});
