import { strict as assert } from "node:assert";
import fc from "fast-check";
import * as ipaddr from "ipaddr.js";
import { HOSTID_NAMESPACE, hostIdForNqn, uuidV5, validateHostId } from "../../provider/host/nvme/hostid";
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

describe("uuidV5 (host IDs derived from host NQNs)", () => {
  it("matches RFC 9562's name-based UUID (python: uuid.uuid5(uuid.NAMESPACE_DNS, 'python.org'))", () => {
    assert.equal(uuidV5("python.org", "6ba7b810-9dad-11d1-80b4-00c04fd430c8"), "886313e1-3b8a-5372-9b90-0c9aee199e5d");
  });
  it("hostIdForNqn: the UUID of a uuid NQN, else a stable v5 in HOSTID_NAMESPACE, distinct per NQN", () => {
    assert.equal(hostIdForNqn("nqn.2014-08.org.nvmexpress:uuid:5E3C1B2A-0F9D-4C8B-A7E6-D5C4B3A29180"), "5e3c1b2a-0f9d-4c8b-a7e6-d5c4b3a29180");
    assert.equal(hostIdForNqn("nqn.2014-08.com.example:host1"), uuidV5("nqn.2014-08.com.example:host1", HOSTID_NAMESPACE));
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z0-9.-]{1,30}$/), fc.stringMatching(/^[a-z0-9.-]{1,30}$/), (a, b) => {
        fc.pre(a !== b);
        const [x, y] = [`nqn.2014-08.com.example:${a}`, `nqn.2014-08.com.example:${b}`];
        return hostIdForNqn(x) === hostIdForNqn(x) && hostIdForNqn(x) !== hostIdForNqn(y) && validateHostId(hostIdForNqn(x), "id") === hostIdForNqn(x);
      }),
    );
  });
});
