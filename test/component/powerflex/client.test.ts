import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { request } from "undici";
import { startEmulator, type Emulator, type EmulatorOptions } from "../../../provider/tools/emulator";
import { createSimHost } from "../../../provider/tools/simhost";
import { HOST, NQN, SUBNQN, VOLUME, sixPorts } from "../../support/six-ports";
import { PowerFlexClient, PowerFlexError, planPaths, subsystemNqnOf, type GatewayOptions, type Logger } from "../../../provider/powerflex";

const silent: Logger = { warn: () => undefined };
const HOST_NQN = "nqn.2014-08.org.nvmexpress:uuid:0b9e1a3c-5d7f-4e2a-8c6b-1f0e9d8c7b6a";

function clientFor(e: Emulator, extra: Partial<GatewayOptions> = {}, logger: Logger = silent): PowerFlexClient {
  return new PowerFlexClient(
    { endpoint: e.url, username: e.username, password: e.password, ...(e.caCert ? { caCert: e.caCert } : {}), retryDelayMs: 1, ...extra },
    logger,
  );
}

async function rejectsWith(p: Promise<unknown>, check: (e: PowerFlexError) => void): Promise<PowerFlexError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof PowerFlexError, `expected a PowerFlexError, got ${String(err)}`);
    check(err);
    return err;
  }
  assert.fail("expected a rejection");
}

describe("PowerFlex client <-> emulator over HTTP", function () {
  let e: Emulator;
  let c: PowerFlexClient;
  const start = async (o: EmulatorOptions = {}, extra: Partial<GatewayOptions> = {}) => {
    e = await startEmulator(o);
    c = clientFor(e, extra);
  };
  afterEach(async () => {
    await c?.close();
    await e?.close();
  });

  describe("login flows", () => {
    it("auto on 5.0 uses PowerFlex Manager (POST /rest/auth/login), then Bearer", async () => {
      await start({ api: "5.0" });
      assert.equal(await c.version(), "5.0");
      assert.equal(e.count("POST /rest/auth/login"), 1);
      assert.equal(e.count("GET /api/login"), 0);
    });

    it("auto on 3.6 uses GET /api/login with Basic :token and never tries the Manager login", async () => {
      await start({ api: "3.6" });
      const sys = await c.getSystem();
      assert.equal(subsystemNqnOf(sys).nqn, null);
      assert.equal(e.count("GET /api/login"), 1);
      assert.equal(e.count("POST /rest/auth/login"), 0);
    });

    it("explicit gateway flow on 4.5 (Bearer token from GET /api/login)", async () => {
      await start({ api: "4.5" }, { authFlow: "gateway" });
      await c.listSystems();
      assert.equal(e.count("GET /api/login"), 1);
      assert.equal(e.count("POST /rest/auth/login"), 0);
    });

    it("explicit manager flow against a 3.6 gateway says the Manager login is not available", async () => {
      await start({ api: "3.6" }, { authFlow: "manager" });
      await rejectsWith(c.listSystems(), (err) => {
        assert.equal(err.kind, "auth");
        assert.match(err.message, /Manager login .* not available/);
      });
    });

    it("wrong password: an auth error that never contains the password", async () => {
      e = await startEmulator({ password: "right-horse-battery-staple" });
      for (const authFlow of ["gateway", "manager"] as const) {
        c = new PowerFlexClient({ endpoint: e.url, username: e.username, password: "s3cret-Wrong-pass", authFlow }, silent);
        const err = await rejectsWith(c.listSystems(), (x) => {
          assert.equal(x.kind, "auth");
          assert.equal(x.status, 401);
          assert.match(x.message, /username and password/);
        });
        assert.ok(!err.message.includes("s3cret-Wrong-pass"));
        assert.ok(!JSON.stringify(err).includes("s3cret-Wrong-pass"));
        assert.ok(!String(err.stack).includes("s3cret-Wrong-pass"));
        await c.close();
      }
    });

    it("logout ends the session; the next call logs in again", async () => {
      await start();
      await c.listSystems();
      assert.equal(e.validTokens().length, 2); // access + refresh
      await c.logout();
      assert.equal(e.count("POST /rest/auth/logout"), 1);
      assert.equal(e.validTokens().length, 0);
      await c.listSystems();
      assert.equal(e.count("POST /rest/auth/login"), 2);
    });
  });

  describe("one token per process", () => {
    it("PowerFlexClient.shared returns one client per endpoint + user + settings", async () => {
      e = await startEmulator();
      const o = { endpoint: e.url, username: e.username, password: e.password, retryDelayMs: 1 };
      c = PowerFlexClient.shared(o, silent);
      assert.equal(PowerFlexClient.shared({ ...o }, silent), c);
      const other = PowerFlexClient.shared({ ...o, requestTimeoutMs: 1234 }, silent);
      assert.notEqual(other, c);
      await other.close();
    });

    it("20 parallel first calls share ONE login", async () => {
      e = await startEmulator();
      const o = { endpoint: e.url, username: e.username, password: e.password, retryDelayMs: 1 };
      await Promise.all(Array.from({ length: 20 }, () => PowerFlexClient.shared(o, silent).listSystems()));
      c = PowerFlexClient.shared(o, silent);
      assert.equal(e.count("POST /rest/auth/login"), 1);
      assert.equal(e.count("GET /api/version"), 1);
      assert.equal(e.count("GET /api/types/System/instances"), 20);
    });

    for (const api of ["3.6", "4.5", "5.0"] as const) {
      it(`expired token (${api}): 20 parallel callers cause exactly one re-login`, async () => {
        await start({ api });
        await c.listSystems();
        const loginKey = api === "5.0" || api === "4.5" ? "POST /rest/auth/login" : "GET /api/login";
        assert.equal(e.count(loginKey), 1);
        e.expireTokens();
        await Promise.all(Array.from({ length: 20 }, () => c.listSystems()));
        assert.equal(e.count(loginKey), 2);
        assert.equal(e.count("GET /api/types/System/instances"), 1 + 20 + 20);
      });
    }

    it("token TTL: a token older than --token-ttl is refused and replaced once", async () => {
      await start({ tokenTtlSeconds: 0.2 });
      await c.listSystems();
      // Counted from here: on a loaded machine the first call alone may outlive the TTL.
      const logins = e.count("POST /rest/auth/login");
      assert.ok(logins >= 1);
      await new Promise((r) => setTimeout(r, 300));
      await c.listSystems();
      assert.equal(e.count("POST /rest/auth/login"), logins + 1);
    });

    it("a 401 right after a fresh login is an error, not a loop", async () => {
      await start({ api: "4.5" });
      await c.listSystems();
      e.injectFault({ path: "/api/types/System/instances", status: 401, times: 5 });
      await rejectsWith(c.listSystems(), (err) => {
        assert.equal(err.kind, "auth");
        assert.equal(err.status, 401);
      });
      assert.equal(e.count("GET /api/types/System/instances"), 3); // first call + one retry
      assert.equal(e.count("POST /rest/auth/login"), 2);
    });
  });

  describe("retries", () => {
    it("a GET is retried on 503", async () => {
      await start();
      const pd = await c.getProtectionDomain("pd1");
      e.injectFault({ path: "/relationships/Sdt", status: 503, times: 2 });
      const sdts = await c.listSdts(pd.id);
      assert.equal(sdts.length, 3);
      assert.equal(e.count("GET /api/instances/ProtectionDomain::{id}/relationships/Sdt"), 3);
    });

    it("a GET is retried on a connection reset", async () => {
      await start();
      await c.listSystems();
      e.injectFault({ path: "/api/types/System/instances", reset: true });
      await c.listSystems();
      assert.equal(e.count("GET /api/types/System/instances"), 3);
    });

    it("a GET is retried after a timeout (the gateway hangs once)", async () => {
      await start({}, { requestTimeoutMs: 150 });
      await c.listSystems();
      e.injectFault({ path: "/api/types/System/instances", hang: true });
      await c.listSystems();
      assert.equal(e.count("GET /api/types/System/instances"), 3);
    });

    it("a GET answered 500 with errorCode 79 (volume not found) is sent once, not retried as if the gateway were down", async () => {
      await start({}, { retryDelayMs: 200 });
      await c.listSystems();
      const t0 = Date.now();
      await rejectsWith(c.getVolume("00000000000000ab"), (err) => {
        assert.equal(err.kind, "notFound");
        assert.match(err.message, /HTTP 500, errorCode 79/);
      });
      assert.equal(e.count("GET /api/instances/Volume::{id}"), 1);
      assert.ok(Date.now() - t0 < 5_000);
    });

    it("a GET answered 500 with errorCode 3 (not found) is sent once and keeps status and errorCode in its text", async () => {
      await start();
      await c.listSystems();
      await rejectsWith(c.listVolumesOfHost("00000000000000ff"), (err) => {
        assert.equal(err.status, 500);
        assert.equal(err.errorCode, 3);
        assert.match(err.message, /HTTP 500, errorCode 3: Could not find the/);
      });
      assert.equal(e.count("GET /api/instances/Sdc::{id}/relationships/Volume"), 1);
    });

    it("a 503 without an error body is still retried; so is a 500 without one", async () => {
      await start();
      await c.listSystems();
      e.injectFault({ path: "/api/types/System/instances", status: 503, text: "", times: 1 });
      e.injectFault({ path: "/api/types/System/instances", status: 500, text: "", times: 1 });
      await c.listSystems();
      assert.equal(e.count("GET /api/types/System/instances"), 1 + 3);
    });

    it("retries stop after `retries`; the last 5xx surfaces with its body", async () => {
      await start({}, { retries: 2 });
      await c.listSystems();
      e.injectFault({ path: "/api/types/System/instances", status: 503, times: 10, body: { message: "Service busy", httpStatusCode: 503, errorCode: 7 } });
      await rejectsWith(c.listSystems(), (err) => {
        assert.equal(err.status, 503);
        assert.equal(err.errorCode, 7);
        assert.match(err.message, /Service busy/);
      });
      assert.equal(e.count("GET /api/types/System/instances"), 1 + 3);
    });

    it("a POST is never retried: on 503 exactly one request reached the gateway", async () => {
      await start();
      const vol = await c.getVolume("vol1");
      const host = await c.createNvmeHost({ nqn: HOST_NQN });
      e.injectFault({ path: "/action/addMappedHost", status: 503 });
      await rejectsWith(c.mapVolumeToHost(vol.id, host.id), (err) => assert.equal(err.status, 503));
      assert.equal(e.count("POST /api/instances/Volume::{id}/action/addMappedHost"), 1);
    });

    it("a POST is never retried: on a connection reset exactly one request reached the gateway", async () => {
      await start();
      await c.listSystems();
      e.injectFault({ path: "/api/types/Host/instances", method: "POST", reset: true });
      await rejectsWith(c.createNvmeHost({ nqn: HOST_NQN }), (err) => assert.equal(err.kind, "network"));
      assert.equal(e.count("POST /api/types/Host/instances"), 1);
      assert.equal(e.state.hosts.size, 1); // only the topology's SDC
    });

    it("a POST that hangs times out with a clear error, once", async () => {
      await start({}, { requestTimeoutMs: 150 });
      await c.listSystems();
      e.injectFault({ path: "/api/types/Host/instances", method: "POST", hang: true });
      await rejectsWith(c.createNvmeHost({ nqn: HOST_NQN }), (err) => {
        assert.equal(err.kind, "timeout");
        assert.match(err.message, /timed out/);
      });
      assert.equal(e.count("POST /api/types/Host/instances"), 1);
    });
  });

  describe("secrets echoed back by a gateway or proxy", () => {
    const leaks = (err: PowerFlexError, secrets: string[]) => {
      const text = `${err.message} ${JSON.stringify(err)} ${String(err.stack)}`;
      return secrets.filter((s) => text.includes(s));
    };
    const basicOf = (u: string, p: string) => Buffer.from(`${u}:${p}`).toString("base64");

    for (const api of ["3.6", "5.0"] as const) {
      it(`${api}: an echoed Authorization header (token) never reaches our error text`, async () => {
        await start({ api, username: "admin" });
        await c.listSystems();
        const tokens = e.validTokens();
        e.injectFault({ path: "/api/types/System/instances", status: 400, echo: true });
        const err = await rejectsWith(c.listSystems(), (x) => assert.equal(x.status, 400));
        assert.match(err.message, /Bad request GET/, "the echo still reads as the gateway's message");
        const secrets = [...tokens, ...tokens.map((t) => Buffer.from(`:${t}`).toString("base64")), e.password];
        assert.deepEqual(leaks(err, secrets), []);
      });
    }

    it("an echoed Basic user:password (GET /api/login) and an echoed password body (POST /rest/auth/login) are scrubbed", async () => {
      await start({ api: "4.5", username: "admin" }, { authFlow: "gateway" });
      e.injectFault({ path: "/api/login", status: 400, echo: true });
      const basic = await rejectsWith(c.listSystems(), (x) => assert.equal(x.status, 400));
      assert.deepEqual(leaks(basic, [e.password, basicOf("admin", e.password)]), []);
      await c.close();
      c = clientFor(e, { authFlow: "manager" });
      e.injectFault({ path: "/rest/auth/login", status: 400, echo: true });
      const manager = await rejectsWith(c.listSystems(), (x) => assert.equal(x.status, 400));
      assert.match(manager.message, /"username":"admin"/);
      assert.deepEqual(leaks(manager, [e.password]), []);
    });
  });

  describe("objects", () => {
    it("Content-Type: the client's POSTs pass; a raw POST without it gets the gateway's 400", async () => {
      await start();
      const host = await c.createNvmeHost({ nqn: HOST_NQN, name: "web-1" });
      const token = e.validTokens()[0]!;
      const res = await request(`${e.url}/api/instances/Sdc::${host.id}/action/removeSdc`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}` },
        body: "{}",
      });
      assert.equal(res.statusCode, 400);
      assert.deepEqual(await res.body.json(), { message: "Request header Content-Type should be application/json", httpStatusCode: 400, errorCode: 0 });
      await c.removeHost(host.id);
      assert.equal(e.state.hosts.has(host.id), false);
    });

    it("unknown protection domain: notFound listing the known names", async () => {
      await start();
      await rejectsWith(c.getProtectionDomain("gold"), (err) => {
        assert.equal(err.kind, "notFound");
        assert.match(err.message, /Unknown protection domain "gold".*Known protection domains: "pd1" \(7a1e9d0000000001\), "pd2"/);
      });
      assert.equal((await c.getProtectionDomain("7a1e9d0000000002")).name, "pd2");
    });

    it("gateway errors carry errorCode, method and path, and never the password or a token", async () => {
      await start();
      await c.listSystems();
      const err = await rejectsWith(c.getVolume("00000000000000ab"), (x) => {
        assert.equal(x.kind, "notFound");
        assert.equal(x.errorCode, 79);
      });
      const err2 = await rejectsWith(c.listSdts("ffffffffffffffff"), (x) => {
        assert.equal(x.errorCode, 142);
        assert.equal(x.status, 500);
        assert.equal(x.method, "GET");
        assert.equal(x.path, "/api/instances/ProtectionDomain::ffffffffffffffff/relationships/Sdt");
      });
      const secrets = [e.password, ...e.validTokens()];
      assert.ok(secrets.length >= 2);
      for (const x of [err, err2]) {
        const text = `${x.message} ${JSON.stringify(x)} ${String(x.stack)}`;
        for (const s of secrets) assert.ok(!text.includes(s), "a secret leaked into an error");
      }
    });

    for (const body of [{ httpStatusCode: 500, errorCode: 79 }, { message: null, httpStatusCode: 500, errorCode: 79 }]) {
      it(`an error body without a message (${JSON.stringify(body)}) keeps its errorCode and is not called non-JSON`, async () => {
        await start();
        const vol = await c.getVolume("vol1");
        e.injectFault({ path: `/api/instances/Volume::${vol.id}`, method: "GET", status: 500, body });
        await rejectsWith(c.getVolume(vol.id), (err) => {
          assert.equal(err.kind, "notFound");
          assert.equal(err.errorCode, 79);
          assert.doesNotMatch(err.message, /non-JSON/);
          assert.match(err.message, /HTTP 500, errorCode 79/);
        });
      });
    }

    it("names and gateway messages with control characters are escaped in error messages", async () => {
      await start({
        topology: {
          systems: [{ id: "1111111111111111" }],
          protectionDomains: [{ id: "p1", name: "pd\u001b[2J\nfake" }],
          storagePools: [{ id: "sp1", name: "pool", protectionDomainId: "p1" }],
          volumes: [
            { id: "00000000000000aa", name: "db\u001b]0;owned\u0007", storagePoolId: "sp1" },
            { id: "00000000000000bb", name: "00000000000000aa", storagePoolId: "sp1" },
          ],
        },
      });
      const errors = [
        await rejectsWith(c.getProtectionDomain("gold"), () => undefined),
        await rejectsWith(c.getVolume("00000000000000aa"), () => undefined),
      ];
      e.injectFault({ path: "/api/types/System/instances", status: 400, body: { message: "bad\u001b[31m\nrow", httpStatusCode: 400, errorCode: 0 } });
      errors.push(await rejectsWith(c.listSystems(), () => undefined));
      for (const err of errors) {
        assert.doesNotMatch(err.message, /[\u0000-\u001f\u007f]/, err.message);
        assert.doesNotMatch(err.gatewayMessage ?? "", /[\u0000-\u001f\u007f]/);
      }
      assert.match(errors[0]!.message, /"pd\\x1b\[2J\\nfake"/);
      assert.match(errors[1]!.message, /"db\\x1b\]0;owned\\x07"/);
      assert.match(errors[2]!.message, /bad\\x1b\[31m\\nrow/);
    });

    it("getSystem without id: exactly one system, else an error listing the ids", async () => {
      await start({
        topology: { systems: [{ id: "1111111111111111" }, { id: "2222222222222222" }] },
      });
      await rejectsWith(c.getSystem(), (err) => assert.match(err.message, /2 systems \(1111111111111111, 2222222222222222\)/));
      assert.equal((await c.getSystem("2222222222222222")).id, "2222222222222222");
    });

    it("NVMe hosts: create, find by NQN case-insensitively, names at most 31 characters", async () => {
      await start();
      const { id } = await c.createNvmeHost({ nqn: HOST_NQN, name: "web-1" });
      const found = await c.findNvmeHostByNqn(HOST_NQN.toUpperCase().replace("NQN.", "nqn."));
      assert.equal(found?.id, id);
      assert.equal((await c.listNvmeHosts()).length, 1); // the SdcHost of the topology is not an NVMe host
      assert.equal(await c.findNvmeHostByNqn("nqn.2014-08.org.example:other"), undefined);
      await rejectsWith(c.createNvmeHost({ nqn: HOST_NQN, name: "x".repeat(32) }), (err) => assert.equal(err.kind, "usage"));
      assert.equal(e.count("POST /api/types/Host/instances"), 1);
      await rejectsWith(c.createNvmeHost({ nqn: HOST_NQN.toUpperCase().replace("NQN.", "nqn.") }), (err) => assert.equal(err.status, 500));
    });

    it("map / unmap: mappedSdcInfo, one host unless allowMultipleMappings, 4039 unmap treated as done", async () => {
      await start();
      const vol = await c.getVolume("vol1");
      assert.deepEqual(vol.mappedSdcInfo, []);
      const h1 = await c.createNvmeHost({ nqn: HOST_NQN });
      const h2 = await c.createNvmeHost({ nqn: "nqn.2014-08.org.nvmexpress:uuid:22222222-2222-4222-8222-222222222222" });
      await c.mapVolumeToHost(vol.id, h1.id, { accessMode: "ReadWrite" });
      await c.mapVolumeToHost(vol.id, h1.id); // already mapped to this host: done
      await rejectsWith(c.mapVolumeToHost(vol.id, h2.id), (err) => assert.match(err.message, /may not be mapped to additional/));
      await c.mapVolumeToHost(vol.id, h2.id, { allowMultipleMappings: true });
      const mapped = await c.getVolume(vol.id);
      assert.deepEqual(
        mapped.mappedSdcInfo.map((m) => [m.sdcId, m.hostType, m.nqn]),
        [
          [h1.id, "NVMeHost", HOST_NQN],
          [h2.id, "NVMeHost", "nqn.2014-08.org.nvmexpress:uuid:22222222-2222-4222-8222-222222222222"],
        ],
      );
      assert.deepEqual((await c.listVolumesOfHost(h1.id)).map((v) => v.id), [vol.id]);
      await rejectsWith(c.removeHost(h1.id), (err) => assert.match(err.message, /SDC has mapped volume/));
      await c.unmapVolumeFromHost(vol.id, h1.id);
      await c.unmapVolumeFromHost(vol.id, h1.id); // 4039 at the gateway: done
      assert.equal(e.count("POST /api/instances/Volume::{id}/action/removeMappedHost"), 2);
      await c.removeHost(h1.id);
    });

    it("an SDT whose ipList has ip: null or role: null: listSdts still reads the domain; that entry is skipped with a reason", async () => {
      await start();
      const sys = await c.getSystem();
      const pd = await c.getProtectionDomain("pd1");
      e.state.updateSdt("a1b2c3d400000002", { ipList: [{ ip: null, role: "StorageAndHost" }, { ip: "192.0.2.12", role: null }] as never });
      const plan = planPaths({ system: sys, sdts: await c.listSdts(pd.id) });
      assert.deepEqual(plan.paths.map((p) => p.traddr), ["192.0.2.11", "198.51.100.11"]);
      const skipped = plan.skipped.filter((s) => s.sdtName === "sdt-2");
      assert.equal(skipped.length, 1);
      assert.match(skipped[0]!.reason, /without ip.*192\.0\.2\.12 has no role/);
    });

    it("3.6: SDTs and NVMe hosts are refused with 'NVMe/TCP needs PowerFlex 4.0 or later'", async () => {
      await start({ api: "3.6" });
      const pd = await c.getProtectionDomain("pd1");
      for (const p of [c.listSdts(pd.id), c.listNvmeHosts(), c.createNvmeHost({ nqn: HOST_NQN }), c.listNvmeControllersOfHost("c0ffee0000000001")]) {
        await rejectsWith(p, (err) => {
          assert.equal(err.status, 404);
          assert.match(err.message, /reports API 3\.6, which has no NVMe\/TCP.*needs PowerFlex 4\.0 or later/);
        });
      }
    });

    it("NvmeController of a host: PowerFlex's view of its connections, isAssigned per the plan; maxNumSysPorts/maxNumPaths on the host", async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pfnvme-client-ctrl-"));
      try {
        const sim = createSimHost(path.join(dir, "host"), { version: "2.11" });
        await start({ topology: sixPorts(), initiatorSysfs: [sim.settings.sysfsRoot] });
        assert.deepEqual(await c.listNvmeControllersOfHost(HOST), []);
        e.state.mapVolume(VOLUME, HOST);
        sim.addForeignController({ traddr: "192.0.2.11", subsysnqn: SUBNQN, hostnqn: NQN });
        sim.addForeignController({ traddr: "198.51.100.13", subsysnqn: SUBNQN, hostnqn: NQN });
        const list = await c.listNvmeControllersOfHost(HOST);
        assert.deepEqual(
          list.map((x) => [x.sysPortIp, x.sdtId, x.isConnected, x.isAssigned, x.hostId, x.subsystem]),
          [
            ["192.0.2.11", "a1b2c3d400000001", true, true, HOST, "Io"],
            ["198.51.100.13", "a1b2c3d400000003", true, false, HOST, "Io"],
          ],
        );
        const host = (await c.listNvmeHosts()).find((h) => h.id === HOST);
        assert.deepEqual([host?.maxNumSysPorts, host?.maxNumPaths], [2, 4]);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it("a volume with mappedSdcInfo: null (older arrays) reads as unmapped and maps", async () => {
      await start({
        topology: {
          systems: [{ id: "1111111111111111" }],
          protectionDomains: [{ id: "p1", name: "pd" }],
          storagePools: [{ id: "sp1", name: "pool", protectionDomainId: "p1" }],
          volumes: [{ id: "00000000000000a1", name: "old", storagePoolId: "sp1", mappedSdcInfo: null }],
        },
      });
      const vol = await c.getVolume("old");
      assert.deepEqual(vol.mappedSdcInfo, []);
      const host = await c.createNvmeHost({ nqn: HOST_NQN });
      await c.mapVolumeToHost(vol.id, host.id);
      assert.deepEqual((await c.listVolumesOfHost(host.id)).map((v) => v.id), [vol.id]);
    });

    describe("naming a volume", () => {
      // payroll-db's id is also another volume's name: the bare value must not silently pick one.
      const topology = {
        systems: [{ id: "1111111111111111" }],
        protectionDomains: [{ id: "p1", name: "pd" }],
        storagePools: [{ id: "sp1", name: "pool", protectionDomainId: "p1" }],
        volumes: [
          { id: "00000000000000aa", name: "payroll-db", storagePoolId: "sp1" },
          { id: "00000000000000bb", name: "00000000000000aa", storagePoolId: "sp1" },
          { id: "00000000000000cc", name: "logs", storagePoolId: "sp1" },
        ],
      };

      it("a bare value that is one volume's id and another's name is refused, naming both", async () => {
        await start({ topology });
        await rejectsWith(c.getVolume("00000000000000aa"), (err) => {
          assert.equal(err.kind, "usage");
          assert.match(err.message, /"00000000000000aa" names two volumes: the id of "payroll-db" \(00000000000000aa\) and the name of 00000000000000bb/);
          assert.match(err.message, /id:00000000000000aa.*name:00000000000000aa/);
        });
      });

      it("id:<id> and name:<name> say which; a bare id or name that names one volume still works", async () => {
        await start({ topology });
        assert.equal((await c.getVolume("id:00000000000000aa")).name, "payroll-db");
        assert.equal((await c.getVolume("name:00000000000000aa")).id, "00000000000000bb");
        assert.equal((await c.getVolume("name:logs")).id, "00000000000000cc");
        assert.equal((await c.getVolume("00000000000000cc")).name, "logs");
        assert.equal((await c.getVolume("logs")).id, "00000000000000cc");
        await rejectsWith(c.getVolume("id:00000000000000dd"), (err) => {
          assert.equal(err.kind, "notFound");
          assert.match(err.message, /no volume with id 00000000000000dd.*HTTP 500, errorCode 79/);
        });
        await rejectsWith(c.getVolume("name:00000000000000cc"), (err) => assert.equal(err.kind, "notFound"));
      });
    });

    it("SDTs of a protection domain plan into paths (maintenance skipped, StorageOnly never)", async () => {
      await start();
      const sys = await c.getSystem();
      const pd = await c.getProtectionDomain("pd1");
      const plan = planPaths({ system: sys, sdts: await c.listSdts(pd.id) });
      assert.deepEqual(plan.paths.map((p) => p.traddr), ["192.0.2.11", "198.51.100.11", "192.0.2.12"]);
      assert.deepEqual(plan.skipped.map((s) => s.sdtName), ["sdt-3"]);
      assert.equal(subsystemNqnOf(sys).nqn, `nqn.1988-11.com.dell:powerflex:00:${sys.id}`);
      e.state.addSdt({ name: "sdt-4", ipList: [{ ip: "2001:DB8::44", role: "HostOnly" }], nvmePort: "4421" });
      const again = planPaths({ system: sys, sdts: await c.listSdts(pd.id) });
      const added = again.paths.find((p) => p.sdtName === "sdt-4");
      assert.deepEqual(added && { ...added, sdtId: "?" }, { sdtId: "?", sdtName: "sdt-4", traddr: "2001:db8::44", trsvcid: 4421, discoverySvcid: 8009 });
    });
  });
});

describe("PowerFlex client <-> emulator over HTTPS", function () {
  let e: Emulator;
  let c: PowerFlexClient | undefined;
  before(async () => {
    e = await startEmulator({ tls: true });
  });
  afterEach(async () => {
    await c?.close();
    c = undefined;
  });
  after(async () => e.close());

  it("verifies the server with caCert", async () => {
    assert.ok(e.url.startsWith("https://"));
    assert.ok(e.caCert?.includes("BEGIN CERTIFICATE"));
    c = clientFor(e);
    assert.equal((await c.getProtectionDomain("pd1")).name, "pd1");
  });

  it("a wrong CA fails with a TLS error that says to set caCert", async () => {
    const other = await startEmulator({ tls: true });
    try {
      c = clientFor(e, { caCert: other.caCert! });
      await rejectsWith(c.listSystems(), (err) => {
        assert.equal(err.kind, "tls");
        assert.match(err.message, /caCert/);
      });
      assert.equal(e.count("GET /api/types/System/instances"), 0);
    } finally {
      await other.close();
    }
  });

  it("no caCert: the system trust store refuses the emulator's CA", async () => {
    c = new PowerFlexClient({ endpoint: e.url, username: e.username, password: e.password, retryDelayMs: 1 }, silent);
    await rejectsWith(c.listSystems(), (err) => assert.equal(err.kind, "tls"));
  });

  it("insecure: true works and warns through the injected logger", async () => {
    const warnings: string[] = [];
    c = new PowerFlexClient({ endpoint: e.url, username: e.username, password: e.password, insecure: true }, { warn: (m) => warnings.push(m) });
    await c.listSystems();
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /insecure: true/);
    assert.ok(!warnings[0]!.includes(e.password));
  });
});

describe("GatewayOptions validation", () => {
  it("names the field and never echoes the password", () => {
    assert.throws(
      () => new PowerFlexClient({ endpoint: "ftp://x", username: "", password: "hunter2-secret" } as GatewayOptions, silent),
      (err: Error) => {
        assert.ok(err instanceof PowerFlexError);
        assert.match(err.message, /endpoint: must be an https:\/\/ or http:\/\/ URL/);
        assert.match(err.message, /username: must not be empty/);
        assert.ok(!err.message.includes("hunter2-secret"));
        return true;
      },
    );
    assert.throws(() => new PowerFlexClient({ endpoint: "https://x", username: "u", password: "p", caCert: "nope" }, silent), /caCert: must be PEM/);
  });
});
