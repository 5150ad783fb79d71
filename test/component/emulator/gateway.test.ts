import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { request } from "undici";
import { fixturesDir } from "../../support/paths";
import { parseTopology, startEmulator, type Emulator } from "../../../provider/tools/emulator";

async function call(e: Emulator, method: "GET" | "POST" | "DELETE", p: string, opts: { auth?: string; json?: unknown; contentType?: string } = {}) {
  const headers: Record<string, string> = {};
  if (opts.auth) headers["authorization"] = opts.auth;
  if (opts.json !== undefined) headers["content-type"] = opts.contentType ?? "application/json";
  const res = await request(e.url + p, { method, headers, ...(opts.json !== undefined ? { body: JSON.stringify(opts.json) } : {}) });
  const text = await res.body.text();
  return { status: res.statusCode, contentType: String(res.headers["content-type"] ?? ""), text, json: () => JSON.parse(text) };
}

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString("base64")}`;

describe("emulated gateway over raw HTTP", () => {
  let e: Emulator;
  afterEach(async () => e?.close());

  async function token(): Promise<string> {
    const r = await call(e, "GET", "/api/login", { auth: basic(e.username, e.password) });
    assert.equal(r.status, 200);
    assert.match(r.text, /^".+"$/, "the token is a JSON-quoted string");
    return r.json();
  }

  it("GET /api/version is a quoted string per profile; systemNqn per profile", async () => {
    for (const api of ["3.6", "4.5", "5.0"] as const) {
      e = await startEmulator({ api });
      const v = await call(e, "GET", "/api/version");
      assert.equal(v.text, `"${api}"`);
      const sys = (await call(e, "GET", "/api/types/System/instances", { auth: `Bearer ${await token()}` })).json();
      assert.equal("systemNqn" in sys[0], api === "5.0");
      await e.close();
    }
  });

  it("accepts Bearer and Basic <any user>:<token>; refuses bad credentials with the JSON 401", async () => {
    e = await startEmulator({ api: "4.5" });
    const t = await token();
    assert.equal((await call(e, "GET", "/api/types/Sdt/instances", { auth: `Bearer ${t}` })).status, 200);
    assert.equal((await call(e, "GET", "/api/types/Sdt/instances", { auth: basic("whoever", t) })).status, 200);
    assert.equal((await call(e, "GET", "/api/types/Sdt/instances", { auth: basic("", t) })).status, 200);
    const bad = await call(e, "GET", "/api/login", { auth: basic(e.username, "wrong") });
    assert.equal(bad.status, 401);
    assert.deepEqual(bad.json(), { message: "Unauthorized", httpStatusCode: 401, errorCode: 0 });
  });

  it("expired token: HTML 401 on 4.5/5.0, JSON 401 on 3.6", async () => {
    e = await startEmulator({ api: "4.5" });
    let t = await token();
    e.expireTokens();
    const html = await call(e, "GET", "/api/types/System/instances", { auth: `Bearer ${t}` });
    assert.equal(html.status, 401);
    assert.match(html.contentType, /text\/html/);
    assert.throws(() => html.json());
    await e.close();
    e = await startEmulator({ api: "3.6" });
    t = await token();
    e.expireTokens();
    const js = await call(e, "GET", "/api/types/System/instances", { auth: basic("", t) });
    assert.deepEqual(js.json(), { message: "Unauthorized", httpStatusCode: 401, errorCode: 0 });
  });

  it("PowerFlex Manager login and logout (204); 3.6 answers {} without access_token", async () => {
    e = await startEmulator({ api: "5.0" });
    const r = await call(e, "POST", "/rest/auth/login", { json: { username: e.username, password: e.password } });
    const body = r.json();
    assert.ok(body.access_token && body.refresh_token);
    assert.equal((await call(e, "GET", "/api/types/System/instances", { auth: `Bearer ${body.access_token}` })).status, 200);
    const out = await call(e, "POST", "/rest/auth/logout", { auth: `Bearer ${body.access_token}`, json: { refresh_token: body.refresh_token } });
    assert.equal(out.status, 204);
    assert.equal((await call(e, "GET", "/api/types/System/instances", { auth: `Bearer ${body.access_token}` })).status, 401);
    assert.equal((await call(e, "POST", "/rest/auth/login", { json: { username: e.username, password: "no" } })).status, 401);
    await e.close();
    e = await startEmulator({ api: "3.6" });
    assert.deepEqual((await call(e, "POST", "/rest/auth/login", { json: { username: e.username, password: e.password } })).json(), {});
  });

  it("a POST without Content-Type: application/json gets 400", async () => {
    e = await startEmulator();
    const t = await token();
    const r = await call(e, "POST", "/api/types/Host/instances", { auth: `Bearer ${t}`, json: { nqn: "nqn.2014-08.org.example:h" }, contentType: "text/plain" });
    assert.equal(r.status, 400);
    assert.deepEqual(r.json(), { message: "Request header Content-Type should be application/json", httpStatusCode: 400, errorCode: 0 });
  });

  it("real error bodies and codes: 79 volume, 142 protection domain, 4039 mapping, removeSdc refused while mapped", async () => {
    e = await startEmulator();
    const auth = `Bearer ${await token()}`;
    const vol = await call(e, "GET", "/api/instances/Volume::00000000000000ab", { auth });
    assert.deepEqual(vol.json(), { message: "Could not find the volume", httpStatusCode: 500, errorCode: 79 });
    const pd = await call(e, "POST", "/api/types/ProtectionDomain/instances/action/queryIdByKey", { auth, json: { name: "gold" } });
    assert.equal(pd.json().errorCode, 142);
    assert.equal((await call(e, "POST", "/api/types/ProtectionDomain/instances/action/queryIdByKey", { auth, json: { name: "pd1" } })).json(), "7a1e9d0000000001");
    const { id } = (await call(e, "POST", "/api/types/Host/instances", { auth, json: { nqn: "nqn.2014-08.org.example:h1", name: "h1" } })).json();
    const sdcs = (await call(e, "GET", "/api/types/Sdc/instances", { auth })).json();
    assert.deepEqual(
      sdcs.map((h: any) => h.hostType),
      ["SdcHost", "NVMeHost"],
    );
    const unmap = await call(e, "POST", "/api/instances/Volume::3bd1f78800000001/action/removeMappedHost", { auth, json: { hostId: id } });
    assert.deepEqual(unmap.json(), { message: "The volume is not mapped to SDC", httpStatusCode: 500, errorCode: 4039 });
    // Cinder's spelling of the mapping works on the same list.
    assert.equal((await call(e, "POST", "/api/instances/Volume::3bd1f78800000001/action/addMappedSdc", { auth, json: { sdcId: id, allowMultipleMappings: "True" } })).status, 200);
    const v = (await call(e, "GET", "/api/instances/Volume::3bd1f78800000001", { auth })).json();
    assert.equal(v.mappedSdcInfo[0].hostType, "NVMeHost");
    assert.equal(v.mappedSdcInfo[0].nqn, "nqn.2014-08.org.example:h1");
    assert.equal((await call(e, "GET", `/api/instances/Sdc::${id}/relationships/Volume`, { auth })).json().length, 1);
    const rm = await call(e, "POST", `/api/instances/Sdc::${id}/action/removeSdc`, { auth, json: {} });
    assert.equal(rm.status, 500);
    assert.match(rm.json().message, /SDC has mapped volume/);
    const long = await call(e, "POST", "/api/types/Host/instances", { auth, json: { nqn: "nqn.2014-08.org.example:h2", name: "n".repeat(32) } });
    assert.equal(long.json().errorCode, 226);
  });

  it("admin API: counts, faults (regex, reset, status), latency, expire-tokens, state changes", async () => {
    e = await startEmulator();
    const auth = `Bearer ${await token()}`;
    await call(e, "GET", "/api/instances/ProtectionDomain::7a1e9d0000000001/relationships/Sdt", { auth });
    const counts = (await call(e, "GET", "/__emulator/counts")).json();
    assert.deepEqual(counts, { "GET /api/login": 1, "GET /api/instances/ProtectionDomain::{id}/relationships/Sdt": 1 });
    assert.equal((await call(e, "POST", "/__emulator/faults", { json: { path: "^/api/types/Sdt/", regex: true, status: 502, times: 1 } })).status, 204);
    assert.equal((await call(e, "GET", "/api/types/Sdt/instances", { auth })).status, 502);
    assert.equal((await call(e, "GET", "/api/types/Sdt/instances", { auth })).status, 200);
    await call(e, "POST", "/__emulator/faults", { json: { path: "/api/types/Sdt/instances", reset: true } });
    await assert.rejects(call(e, "GET", "/api/types/Sdt/instances", { auth }));
    await call(e, "POST", "/__emulator/latency", { json: { ms: 60 } });
    const t0 = Date.now();
    await call(e, "GET", "/api/version");
    assert.ok(Date.now() - t0 >= 55);
    await call(e, "POST", "/__emulator/latency", { json: { ms: 0 } });
    const added = (await call(e, "POST", "/__emulator/state/sdts", { json: { name: "sdt-9", ipList: [{ ip: "127.0.0.1", role: "HostOnly" }], nvmePort: 14420 } })).json();
    const sdts = (await call(e, "GET", "/api/instances/ProtectionDomain::7a1e9d0000000001/relationships/Sdt", { auth })).json();
    assert.equal(sdts.find((s: any) => s.id === added.id).nvmePort, 14420);
    assert.equal((await call(e, "DELETE", `/__emulator/state/sdts/${added.id}`)).status, 204);
    assert.equal((await call(e, "POST", "/__emulator/expire-tokens")).status, 204);
    assert.equal((await call(e, "GET", "/api/types/Sdt/instances", { auth })).status, 401);
    assert.equal((await call(e, "DELETE", "/__emulator/counts")).status, 204);
    assert.deepEqual((await call(e, "GET", "/__emulator/counts")).json(), {});
  });

  it("a real payload drops into a topology (Cinder's 4.x system and SDTs)", async () => {
    const ref = fixturesDir("powerflex");
    const systems = JSON.parse(fs.readFileSync(path.join(ref, "system_instances_4x_with_systemNqn__cinder.json"), "utf8"));
    const sdts = JSON.parse(fs.readFileSync(path.join(ref, "sdt_list_4_5__cinder.json"), "utf8"));
    e = await startEmulator({
      api: "4.5",
      topology: { systems, protectionDomains: [{ id: "898f75c900000003", name: "cinder-pd", systemId: "1250de83018c2d0f" }], sdts },
    });
    const auth = `Bearer ${await token()}`;
    const served = (await call(e, "GET", "/api/instances/ProtectionDomain::898f75c900000003/relationships/Sdt", { auth })).json();
    assert.deepEqual(served, sdts); // served back exactly, links included
    const sys = (await call(e, "GET", "/api/instances/System::1250de83018c2d0f", { auth })).json();
    assert.equal(sys.systemNqn, "nqn.1988-11.com.dell:powerflex:00:1250de83018c2d0f");
  });

  it("topology validation names the wrong entry and unknown references", () => {
    assert.throws(() => parseTopology({ systems: [] }), /systems: needs at least one system/);
    assert.throws(
      () => parseTopology({ systems: [{ id: "s" }], protectionDomains: [{ id: "p", name: "pd" }], sdts: [{ id: "t1", protectionDomainId: "nope", ipList: [] }] }),
      /sdts\[0\] \(id t1\): unknown protectionDomainId nope/,
    );
    assert.throws(() => parseTopology({ systems: [{ id: "s" }], volumes: [{ id: "v" }] }), /volumes\[0\]\.name \(id v\)/);
    assert.throws(() => parseTopology({ systems: [{ id: "s" }], extra: [] }), /Unrecognized key/);
  });
  it("topology errors name the field as README writes it (sdts[0].nvmePort) with a reason, never a bare \"Invalid input\"", () => {
    const topo = { systems: [{ id: "s" }], protectionDomains: [{ id: "p", name: "pd" }], sdts: [{ id: "t1", protectionDomainId: "p", ipList: [], nvmePort: "port" }] };
    assert.throws(
      () => parseTopology(topo),
      (err: Error) => /sdts\[0\]\.nvmePort \(id t1\): must be an integer or a decimal string/.test(err.message) && !/Invalid input$|Invalid input;/.test(err.message),
    );
  });

  it("a topology with two hosts of one NQN (any case) is refused, naming both", () => {
    const hosts = [
      { id: "h1", hostType: "NVMeHost", nqn: "nqn.2014-08.org.example:a" },
      { id: "h2", hostType: "NVMeHost", nqn: "NQN.2014-08.org.example:A" },
    ];
    assert.throws(() => parseTopology({ systems: [{ id: "s" }], hosts }), /hosts\[1\] \(id h2\): NQN nqn\.2014-08\.org\.example:a is also hosts\[0\] \(id h1\)/i);
  });

  it("serves what gateways send: ipList entries with null ip or role, and mappedSdcInfo: null (older arrays)", async () => {
    e = await startEmulator({
      topology: {
        systems: [{ id: "1111111111111111" }],
        protectionDomains: [{ id: "p1", name: "pd" }],
        storagePools: [{ id: "sp1", name: "pool", protectionDomainId: "p1" }],
        sdts: [{ id: "t1", protectionDomainId: "p1", ipList: [{ ip: null, role: "StorageAndHost" }, { ip: "192.0.2.1", role: null }] }],
        volumes: [{ id: "00000000000000a1", name: "old", storagePoolId: "sp1", mappedSdcInfo: null }],
      },
    });
    const auth = `Bearer ${await token()}`;
    assert.deepEqual((await call(e, "GET", "/api/instances/ProtectionDomain::p1/relationships/Sdt", { auth })).json()[0].ipList, [
      { ip: null, role: "StorageAndHost" },
      { ip: "192.0.2.1", role: null },
    ]);
    assert.equal((await call(e, "GET", "/api/instances/Volume::00000000000000a1", { auth })).json().mappedSdcInfo, null);
    assert.equal((await call(e, "GET", "/api/types/Volume/instances", { auth })).json()[0].mappedSdcInfo, null);
  });

  it("the 3.6 profile has no NVMe/TCP: no SDTs, no NVMe hosts, no addMappedHost (answers as for any unknown type)", async () => {
    e = await startEmulator({ api: "3.6" });
    e.state.addHost({ nqn: "nqn.2014-08.org.example:h" });
    const auth = basic("", await token());
    for (const p of ["/api/types/Sdt/instances", "/api/instances/ProtectionDomain::7a1e9d0000000001/relationships/Sdt", "/api/types/Host/instances"]) {
      const r = await call(e, "GET", p, { auth });
      assert.equal(r.status, 404, p);
      assert.match(r.json().message, /Unknown (type|relationship)/);
    }
    const sdcs = (await call(e, "GET", "/api/types/Sdc/instances", { auth })).json();
    assert.deepEqual(sdcs.map((h: { hostType?: string }) => h.hostType), ["SdcHost"]);
    assert.equal((await call(e, "POST", "/api/types/Host/instances", { auth, json: { nqn: "nqn.2014-08.org.example:x" } })).status, 404);
    const map = await call(e, "POST", "/api/instances/Volume::3bd1f78800000001/action/addMappedHost", { auth, json: { hostId: "c0ffee0000000001" } });
    assert.equal(map.status, 404);
  });
});
