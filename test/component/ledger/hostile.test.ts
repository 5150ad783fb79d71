import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { NvmeEngine } from "../../../provider/host/engine";
import { LocalHost } from "../../../provider/host/access/local";
import { z } from "zod";
import { identityKey, type PathIdentity } from "../../../provider/host/nvme/identity";
import { createSimHost, DEFAULT_SIM_HOSTID, DEFAULT_SIM_HOSTNQN, type SimHost } from "../../../provider/tools/simhost";

/**
 * The ledger store under hostile conditions (issue 15): files that lie about what they are, writers of
 * other releases, and state dirs others can write. The engine on the simulated host, as the provider runs it.
 */

const NQN = "nqn.1988-11.com.dell:powerflex:00:4a54e9f1000000ab";
const sdt = (traddr: string): PathIdentity => ({
  transport: "tcp", traddr, trsvcid: 4420, subsysnqn: NQN, hostnqn: DEFAULT_SIM_HOSTNQN, hostid: DEFAULT_SIM_HOSTID,
});
const SDT1 = sdt("10.0.0.1");
const SDT2 = sdt("10.0.0.2");

describe("ledger store under hostile conditions (simulated host)", function () {
  this.timeout(30_000);
  let dir: string;
  let sim: SimHost;
  let ledgerFile: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(tmpdir(), "ledger-hostile-"));
    sim = createSimHost(dir, { version: "2.11" });
    ledgerFile = path.join(sim.settings.stateDir, "ledger.json");
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe("2: an empty ledger is not a new one", () => {
    for (const [what, content] of [["0-byte", ""], ["whitespace-only", "  \n\n"]] as const) {
      it(`a ${what} ledger is refused by destroy and attach, naming the file and what to do; no controller is cut or adopted`, async () => {
        const engine = NvmeEngine.on(new LocalHost(), sim.settings);
        const a = await engine.attach("A", [SDT1, SDT2]);
        fs.writeFileSync(ledgerFile, content);
        const refusal = (err: unknown) => {
          assert.equal((err as Error).name, "LedgerRefusedError");
          assert.ok((err as Error).message.includes(ledgerFile), (err as Error).message);
          assert.match((err as Error).message, /empty \(0 bytes\)|only whitespace/);
          assert.match((err as Error).message, /powerflex-nvme status.*remove the file.*restore it/);
          return true;
        };
        await assert.rejects(engine.release("A", [SDT1, SDT2]), refusal);
        await assert.rejects(engine.attach("B", [SDT1]), refusal);
        assert.deepEqual(sim.controllers().map((c) => c.device).sort(), a.paths.map((p) => p.device).sort(), "every controller stays");
        assert.equal(fs.readFileSync(ledgerFile, "utf8"), content, "the file is left as it was for the operator");
      });
    }

    it("a missing ledger is a new one", async () => {
      assert.equal(fs.existsSync(ledgerFile), false);
      const a = await NvmeEngine.on(new LocalHost(), sim.settings).attach("A", [SDT1]);
      assert.deepEqual(a.paths.map((p) => p.origin), ["created"]);
      assert.ok(JSON.parse(fs.readFileSync(ledgerFile, "utf8")).paths);
    });
  });

  describe("3: writers of other releases", () => {
    /** What a release that writes ledger format 1 accepts (ae4a08a's ledgerSchema, top level): it drops the rest. */
    const formatOneReader = z.object({ version: z.literal(1), paths: z.record(z.string(), z.object({ identity: z.unknown(), createdBy: z.string(), owners: z.array(z.string()) })) });
    const read = () => JSON.parse(fs.readFileSync(ledgerFile, "utf8"));

    it("a newer release's keys (top level, record, identity, volume hold, host) survive our attach and release", async () => {
      const other = sdt("10.0.0.3");
      sim.addForeignController({ traddr: "10.0.0.3", subsysnqn: NQN });
      fs.writeFileSync(ledgerFile, JSON.stringify({
        version: 3, minWriter: 2, intents: { x: 1 },
        paths: { [identityKey(other)]: { identity: { ...other, fabric: "tcp2" }, createdBy: "Z", owners: ["Z"], holdUntil: "never" } },
        volumes: { "h/v": { createdBy: "Z", owners: ["Z"], accessMode: "ReadOnly" } },
        hosts: { h: { nqn: "nqn.x", registeredAt: "2026" } },
      }));
      const engine = NvmeEngine.on(new LocalHost(), sim.settings);
      await engine.attach("A", [SDT1]);
      await engine.holdVolume("A", "h/v", async () => "adopted");
      await engine.release("A", [SDT1]);
      const after = read();
      assert.equal(after.version, 3, "never lowered");
      assert.equal(after.minWriter, 2);
      assert.deepEqual(after.intents, { x: 1 });
      assert.equal(after.paths[identityKey(other)].holdUntil, "never");
      assert.equal(after.paths[identityKey(other)].identity.fabric, "tcp2");
      assert.equal(after.volumes["h/v"].accessMode, "ReadOnly");
      assert.deepEqual(after.volumes["h/v"].owners, ["Z", "A"]);
      assert.equal(after.hosts.h.registeredAt, "2026");
    });

    it("migration: a format-1 ledger (before volumes) is read and written as format 2, which format-1 releases refuse", async () => {
      const engine = NvmeEngine.on(new LocalHost(), sim.settings);
      const a = await engine.attach("A", [SDT1]);
      const v1 = read();
      v1.version = 1;
      delete v1.minWriter;
      delete v1.volumes;
      delete v1.hosts;
      fs.writeFileSync(ledgerFile, JSON.stringify(v1));
      assert.ok(formatOneReader.safeParse(read()).success, "the fixture is what format 1 wrote");

      await engine.holdVolume("A", "h/v", async () => "created");
      const v2 = read();
      assert.deepEqual([v2.version, v2.minWriter], [2, 2]);
      assert.deepEqual(v2.paths[identityKey(SDT1)].owners, ["A"], "format-1 records kept");
      assert.deepEqual(v2.volumes["h/v"], { createdBy: "A", owners: ["A"] });
      assert.equal(formatOneReader.safeParse(v2).success, false, "a format-1 release refuses to read, so to write, the ledger");

      const r = await engine.release("A", [SDT1]);
      assert.deepEqual(r.disconnected.map((d) => d.devices), [[a.paths[0].device]]);
    });

    it("a ledger whose minWriter is above our format is refused, for reads and writes, and left as it is", async () => {
      const engine = NvmeEngine.on(new LocalHost(), sim.settings);
      const a = await engine.attach("A", [SDT1]);
      const future = { ...read(), version: 5, minWriter: 4 };
      fs.writeFileSync(ledgerFile, JSON.stringify(future));
      const refusal = (err: unknown) => {
        assert.equal((err as Error).name, "LedgerRefusedError");
        assert.ok((err as Error).message.includes(ledgerFile));
        assert.match((err as Error).message, /newer release \(ledger format 5\) that allows only writers of format 4 or later; this release writes format 2\. Upgrade pulumi-powerflex-nvme/);
        return true;
      };
      await assert.rejects(engine.release("A", [SDT1]), refusal);
      await assert.rejects(engine.ownersOfHostNqn(DEFAULT_SIM_HOSTNQN), refusal);
      assert.deepEqual(read(), future);
      assert.ok(sim.controllers().some((c) => c.device === a.paths[0].device));
    });
  });
});
