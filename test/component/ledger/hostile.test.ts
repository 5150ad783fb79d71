import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { NvmeEngine } from "../../../provider/host/engine";
import { LocalHost } from "../../../provider/host/access/local";
import type { PathIdentity } from "../../../provider/host/nvme/identity";
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
});
