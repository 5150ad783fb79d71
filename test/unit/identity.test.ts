import { strict as assert } from "node:assert";
import fc from "fast-check";
import * as ipaddr from "ipaddr.js";
import { canonicalIp, identityKey, InvalidAddressError, isPath, type PathIdentity } from "../../provider/host/nvme/identity";

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

describe("isPath (the one matcher: the kernel's rule, every field as text)", () => {
  const uuid = fc.uuid();
  const text = fc.stringMatching(/^[a-z0-9.:-]{1,20}$/);
  const arbIdentity: fc.Arbitrary<PathIdentity> = fc.record(
    {
      transport: fc.constant("tcp" as const),
      traddr: fc.oneof(fc.ipV4(), fc.ipV6().map(canonicalIp)),
      trsvcid: fc.integer({ min: 1, max: 65535 }),
      subsysnqn: text.map((t) => `nqn.1988-11.com.dell:powerflex:${t}`),
      hostnqn: text.map((t) => `nqn.2014-08.org.example:${t}`),
      hostid: uuid,
      hostTraddr: fc.ipV4(),
      hostIface: fc.stringMatching(/^[a-z][a-z0-9]{0,14}$/),
    },
    { requiredKeys: ["transport", "traddr", "trsvcid", "subsysnqn", "hostnqn", "hostid"] },
  );
  type Field = "traddr" | "trsvcid" | "subsysnqn" | "hostnqn" | "hostid" | "hostTraddr" | "hostIface";
  const FIELDS: Field[] = ["traddr", "trsvcid", "subsysnqn", "hostnqn", "hostid", "hostTraddr", "hostIface"];

  it("matches a controller with the same identity (host ID in any case)", () => {
    fc.assert(fc.property(arbIdentity, (id) => isPath({ identity: { ...id, hostid: id.hostid.toUpperCase() } }, id)));
  });

  it("never matches a controller that differs in any one identity field, or has none", () => {
    fc.assert(
      fc.property(arbIdentity, arbIdentity, fc.constantFrom(...FIELDS), (id, other, field) => {
        fc.pre(String(id[field] ?? "").toLowerCase() !== String(other[field] ?? "").toLowerCase());
        const ctrl = { identity: { ...id, [field]: other[field] } as PathIdentity };
        return !isPath(ctrl, id) && !isPath({}, id);
      }),
    );
  });

  it("never matches an address in another text form, though it is the same address", () => {
    const forms = (v6: string) => {
      const parts = ipaddr.IPv6.parse(v6).parts;
      return [v6.toUpperCase(), parts.map((p) => p.toString(16)).join(":"), parts.map((p) => p.toString(16).padStart(4, "0")).join(":")];
    };
    fc.assert(
      fc.property(arbIdentity, fc.ipV6(), fc.nat(2), (id0, v6, k) => {
        const id = { ...id0, traddr: canonicalIp(v6) };
        fc.pre(id.traddr.includes(":")); // an IPv4-mapped address connects as IPv4
        const other = forms(id.traddr)[k];
        fc.pre(other !== id.traddr);
        assert.equal(canonicalIp(other), id.traddr, "the same address");
        return !isPath({ identity: { ...id, traddr: other } }, id);
      }),
    );
    const ours = { transport: "tcp" as const, traddr: "fd00::3", trsvcid: 4420, subsysnqn: "nqn.x", hostnqn: "nqn.h", hostid: "abc" };
    assert.equal(isPath({ identity: { ...ours, traddr: "FD00:0:0::3" } }, ours), false);
  });
});
