import { strict as assert } from "node:assert";
import { canonicalIp, identityKey, InvalidAddressError } from "../../provider/host/nvme/identity";

describe("canonicalIp", () => {
  const cases: [string, string][] = [
    ["10.0.0.1", "10.0.0.1"],
    ["2001:0DB8:0:0::1", "2001:db8::1"],
    ["[2001:db8::1]", "2001:db8::1"],
    ["::ffff:10.0.0.1", "10.0.0.1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["fe80::1%eth0", "fe80::1%eth0"],
  ];
  for (const [input, want] of cases) {
    it(`${input} -> ${want}`, () => assert.equal(canonicalIp(input), want));
  }
  for (const bad of ["", "010.0.0.1", "1.2.3", "host.example", "-a", "10.0.0.1,trsvcid=1", "256.1.1.1"]) {
    it(`rejects ${JSON.stringify(bad)}`, () => assert.throws(() => canonicalIp(bad), InvalidAddressError));
  }
});

describe("identityKey", () => {
  it("is equal for equal identities and differs by host NQN", () => {
    const a = { transport: "tcp" as const, traddr: "10.0.0.1", trsvcid: 4420, subsysnqn: "nqn.x", hostnqn: "nqn.h1", hostid: "ABC" };
    assert.equal(identityKey(a), identityKey({ ...a, hostid: "abc" }));
    assert.notEqual(identityKey(a), identityKey({ ...a, hostnqn: "nqn.h2" }));
  });
});
