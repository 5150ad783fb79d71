import { strict as assert } from "node:assert";
import { execFile, spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { request } from "undici";
import { repoRoot } from "../../support/paths";
import { HOST, NQN, SUBNQN, VOLUME, sixPorts } from "../../support/six-ports";
import { createSimHost } from "../../../provider/tools/simhost";
import { startEmulator, type Emulator, type TopologyInput } from "../../../provider/tools/emulator";

const root = repoRoot();
const bin = path.join(root, "bin", "powerflex-nvme.js");

interface Running {
  child: ChildProcessWithoutNullStreams;
  info: { url: string; username: string; password: string; caCert?: string };
}

function startCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Running> {
  const child = spawn(process.execPath, [bin, "emulator", ...args], { cwd: root, env: { ...process.env, ...env } });
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf("\n");
      if (nl >= 0) resolve({ child, info: JSON.parse(out.slice(0, nl)) });
    });
    child.once("exit", (code) => reject(new Error(`emulator exited ${code} before listening: ${err}`)));
  });
}

function stop(r: Running): Promise<number | null> {
  return new Promise((resolve) => {
    r.child.removeAllListeners("exit");
    r.child.once("exit", (code) => resolve(code));
    r.child.kill("SIGTERM");
  });
}

function paths(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, "paths", ...args], { cwd: root, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

function lastJson(stdout: string): any {
  const lines = stdout.trim().split("\n");
  return JSON.parse(lines[lines.length - 1]!);
}

describe("CLI: powerflex-nvme emulator + powerflex-nvme paths", function () {
  this.timeout(20_000);

  it("prints one JSON line, serves paths, exits 0 on SIGTERM", async () => {
    const r = await startCli(["--listen", "127.0.0.1:0"], { POWERFLEX_EMULATOR_PASSWORD: "" });
    try {
      assert.match(r.info.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      assert.equal(r.info.username, "admin");
      assert.ok(r.info.password.length >= 12, "a random password is generated");
      const res = await paths(["--endpoint", r.info.url, "--username", r.info.username, "--protection-domain", "pd1", "--json"], {
        POWERFLEX_PASSWORD: r.info.password,
      });
      assert.equal(res.code, 0, res.stderr);
      const out = lastJson(res.stdout);
      assert.match(out.subsystemNqn, /^nqn\.1988-11\.com\.dell:powerflex:00:[0-9a-f]{16}$/);
      assert.deepEqual(
        out.paths.map((p: any) => [p.sdtName, p.traddr, p.trsvcid]),
        [
          ["sdt-1", "192.0.2.11", 4420],
          ["sdt-1", "198.51.100.11", 4420],
          ["sdt-2", "192.0.2.12", 4420],
        ],
      );
      assert.ok(!res.stdout.includes("203.0.113.12"), "a StorageOnly address was listed");
      assert.equal(out.skipped.length, 1);
      assert.equal(out.skipped[0].sdtId, "a1b2c3d400000003");
      assert.match(out.skipped[0].reason, /maintenance/);

      const human = await paths(["--protection-domain", "pd1"], {
        POWERFLEX_ENDPOINT: r.info.url,
        POWERFLEX_USERNAME: r.info.username,
        POWERFLEX_PASSWORD: r.info.password,
      });
      assert.equal(human.code, 0, human.stderr);
      assert.match(human.stdout, /192\.0\.2\.11\s+4420/);
      assert.match(human.stdout, /every usable SDT address \(pathSource "all-sdts"\)\. With pathSource "plan" \(the default\)/);
      assert.equal(out.source, "all-sdts");
      assert.match(human.stdout, /sdt-3 \(a1b2c3d400000003\): in maintenance/);

      const bad = await paths(["--endpoint", r.info.url, "--username", "admin", "--protection-domain", "gold"], { POWERFLEX_PASSWORD: r.info.password });
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /Unknown protection domain "gold".*"pd1"/);
      assert.ok(!bad.stderr.includes(r.info.password));
    } finally {
      assert.equal(await stop(r), 0);
    }
  });

  it("--initiator-sysfs: the array sees that host's connections (NvmeController), marked against its plan", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pfnvme-emu-cli-"));
    const topo = path.join(dir, "topology.json");
    fs.writeFileSync(topo, JSON.stringify(sixPorts()));
    const sim = createSimHost(path.join(dir, "host"), { version: "2.11" });
    const r = await startCli(["--topology", topo, "--initiator-sysfs", sim.settings.sysfsRoot]);
    try {
      const post = (p: string, body: unknown) => request(r.info.url + p, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      const login = await request(`${r.info.url}/api/login`, { headers: { authorization: `Basic ${Buffer.from(`${r.info.username}:${r.info.password}`).toString("base64")}` } });
      const auth = `Bearer ${JSON.parse(await login.body.text())}`;
      const mapped = await request(`${r.info.url}/api/instances/Volume::${VOLUME}/action/addMappedHost`, { method: "POST", headers: { authorization: auth, "content-type": "application/json" }, body: JSON.stringify({ hostId: HOST }) });
      assert.equal(mapped.statusCode, 200);
      await mapped.body.text();
      sim.addForeignController({ traddr: "192.0.2.13", subsysnqn: SUBNQN, hostnqn: NQN });
      const res = await request(`${r.info.url}/api/instances/Host::${HOST}/relationships/NvmeController`, { headers: { authorization: auth } });
      const list = (await res.body.json()) as { sysPortIp: string; isAssigned: boolean }[];
      assert.deepEqual(list.map((c) => [c.sysPortIp, c.isAssigned]), [["192.0.2.13", false]]);
      const plan = (await (await post("/__emulator/rebalance", {})).body.json()) as { hosts: unknown[] };
      assert.equal(plan.hosts.length, 1);
    } finally {
      assert.equal(await stop(r), 0);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  describe("paths against an in-process emulator", () => {
    let e: Emulator | undefined;
    afterEach(async () => {
      await e?.close();
      e = undefined;
    });
    const run = (args: string[]) =>
      paths(["--endpoint", e!.url, "--username", e!.username, "--protection-domain", "pd1", ...args], { POWERFLEX_PASSWORD: e!.password });

    it("--api 3.6: says NVMe/TCP needs PowerFlex 4.0 or later", async () => {
      e = await startEmulator({ api: "3.6" });
      const res = await run([]);
      assert.equal(res.code, 1);
      assert.match(res.stderr, /reports API 3\.6, which has no NVMe\/TCP.*needs PowerFlex 4\.0 or later/);
    });

    it("--role takes what the resource's check takes: StorageOnly is refused, naming the flag", async () => {
      e = await startEmulator();
      const res = await run(["--role", "StorageOnly"]);
      assert.equal(res.code, 2);
      assert.match(res.stderr, /--role "StorageOnly": must be "StorageAndHost" or "HostOnly" \(StorageOnly IPs carry SDS-to-SDT traffic/);
      assert.equal(e.count("GET /api/types/System/instances"), 0, "refused before asking the gateway");
      assert.equal((await run(["--role", "HostOnly", "--json"])).code, 0);
    });

    it("--help documents every --json field (sdtName, discoverySvcid, subsystemNqnReason)", async () => {
      const res = await paths(["--help"], {});
      assert.equal(res.code, 0);
      for (const field of ["sdtId", "sdtName", "traddr", "trsvcid", "discoverySvcid", "subsystemNqnReason", "reason", "source"]) assert.match(res.stdout, new RegExp(`"${field}"`), field);
      assert.match(res.stdout, /pathSource input.*"plan" \(the default\).*nvme discover` on the host/s);
      assert.doesNotMatch(res.stdout, /"address"/);
    });

    it("SDT names and reasons with ESC sequences or newlines are escaped in the table; --json keeps them as data", async () => {
      e = await startEmulator();
      e.state.updateSdt("a1b2c3d400000001", { name: "sdt\u001b[2J\nfake  10.6.6.6  4420" });
      e.state.updateSdt("a1b2c3d400000003", { maintenanceState: "In\u001b[31mMaintenance" });
      const human = await run([]);
      assert.equal(human.code, 0, human.stderr);
      assert.ok(!human.stdout.includes("\u001b"), "an ESC reached the terminal");
      assert.ok(!human.stdout.split("\n").some((l) => l.startsWith("fake")), "a newline made a fake row");
      assert.match(human.stdout, /sdt\\x1b\[2J\\nfake/);
      assert.match(human.stdout, /maintenanceState=In\\x1b\[31mMaintenance/);
      const json = lastJson((await run(["--json"])).stdout);
      assert.equal(json.paths[0].sdtName, "sdt\u001b[2J\nfake  10.6.6.6  4420");
    });
  });

  it("never accepts a password on the command line", async () => {
    const res = await paths(["--endpoint", "http://127.0.0.1:1", "--username", "u", "--password", "pw", "--protection-domain", "pd1"], {});
    assert.equal(res.code, 2);
    assert.match(res.stderr, /--password is not accepted/);
  });

  it("--tls with --ca-cert; the --api 4.5 profile has no systemNqn", async () => {
    const r = await startCli(["--listen", "127.0.0.1:0", "--tls", "--api", "4.5"], { POWERFLEX_EMULATOR_PASSWORD: "tls-pass-123" });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pfx-ca-"));
    try {
      assert.match(r.info.url, /^https:\/\//);
      assert.equal(r.info.password, "tls-pass-123");
      const ca = path.join(dir, "ca.pem");
      fs.writeFileSync(ca, r.info.caCert!);
      const env = { POWERFLEX_PASSWORD: "tls-pass-123" };
      const res = await paths(["--endpoint", r.info.url, "--username", "admin", "--protection-domain", "pd1", "--ca-cert", ca, "--json"], env);
      assert.equal(res.code, 0, res.stderr);
      const out = lastJson(res.stdout);
      assert.equal(out.subsystemNqn, null);
      assert.equal(out.paths.length, 3);
      const noCa = await paths(["--endpoint", r.info.url, "--username", "admin", "--protection-domain", "pd1", "--json"], env);
      assert.equal(noCa.code, 1);
      assert.match(noCa.stderr, /caCert/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      assert.equal(await stop(r), 0);
    }
  });

  it("--topology: a wrong entry is named", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "pfx-topo-"));
    try {
      const file = path.join(dir, "t.json");
      fs.writeFileSync(file, JSON.stringify({ systems: [{ id: "1111111111111111" }], protectionDomains: [{ id: "p1", name: "pd" }], sdts: [{ id: "s1", protectionDomainId: "p1", ipList: "nope" }] }));
      await assert.rejects(startCli(["--topology", file]), /sdts\[0\]\.ipList \(id s1\)/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
