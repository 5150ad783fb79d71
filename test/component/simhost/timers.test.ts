import { strict as assert } from "node:assert";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { LocalHost } from "../../../provider/host/access/local";
import { readControllers } from "../../../provider/host/nvme";
import { createSimHost, type SimVersion } from "../../../provider/tools/simhost";
import { runSim } from "../../../provider/tools/simhost/sim";
import { harnessRun, referenceDir } from "../../unit/nvme/reference";

/**
 * The simulated kernel shows per controller the timing options the connect gave it, as the kernel does
 * (drivers/nvme/host/sysfs.c): checked against the option strings the real nvme-cli binaries wrote to
 * /dev/nvme-fabrics in the harness recordings (`<version>.fabrics-write`), so both spellings of every
 * flag and nvme-cli's own default (ctrl_loss_tmo=600) are covered.
 */

/** The kernel's rule, written out here on its own: nvmf_parse_options defaults, then the sysfs show functions. */
function kernelShows(fabricsWrite: string): Record<string, string> {
  const kv = Object.fromEntries(fabricsWrite.trim().split(",").map((p) => [p.split("=")[0], p.split("=")[1] ?? ""]));
  const reconnectDelay = Number(kv.reconnect_delay ?? 10);
  const ctrlLossTmo = Number(kv.ctrl_loss_tmo ?? 600);
  const maxReconnects = ctrlLossTmo < 0 ? -1 : Math.ceil(ctrlLossTmo / reconnectDelay);
  const fastIoFail = Number(kv.fast_io_fail_tmo ?? -1);
  return {
    ctrl_loss_tmo: maxReconnects === -1 ? "off" : String(maxReconnects * reconnectDelay),
    reconnect_delay: String(reconnectDelay),
    fast_io_fail_tmo: fastIoFail < 0 ? "off" : String(fastIoFail),
    kato: String(Number(kv.keep_alive_tmo ?? 0) || 5),
  };
}

const host = new LocalHost();
const versions: SimVersion[] = ["1.16", "2.3", "2.8", "2.11"];

describe("simulated host: the connect's options in sysfs", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), "sim-timers-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  for (const scenario of ["connect-ok-default", "connect-ok-shortopts", "connect-ok-longopts"]) {
    for (const v of versions) {
      it(`${scenario} ${v}: what the recorded option string makes the kernel show`, async () => {
        const sim = createSimHost(dir, { version: v });
        const run = harnessRun(scenario, v);
        const out = await runSim(sim.dir, run.command.split(/\s+/).slice(1));
        assert.equal(out.code, 0, out.stderr);
        const [c] = await readControllers(host, sim.settings);
        const written = readFileSync(path.join(referenceDir, "harness", scenario, `${v}.fabrics-write`), "utf8");
        assert.deepEqual(c.options, kernelShows(written));
      });
    }
  }

  it("ctrl_loss_tmo rounds up to whole reconnect delays, -1 shows off, fast I/O fail shows its seconds", async () => {
    const sim = createSimHost(dir, { version: "2.11" });
    const base = ["connect", "-t", "tcp", "-s", "4420", "-n", "nqn.2014-08.org.example:storage1"];
    await runSim(sim.dir, [...base, "-a", "10.0.0.1", "-l", "30", "-c", "4", "--fast_io_fail_tmo", "20", "-k", "9", "-g", "-G"]);
    await runSim(sim.dir, [...base, "-a", "10.0.0.2", "--ctrl-loss-tmo=-1", "--reconnect-delay=3", "-F", "0"]);
    const [a, b] = await readControllers(host, sim.settings);
    assert.deepEqual(a.options, { ctrl_loss_tmo: "32", reconnect_delay: "4", fast_io_fail_tmo: "20", kato: "9" });
    assert.deepEqual(b.options, { ctrl_loss_tmo: "off", reconnect_delay: "3", fast_io_fail_tmo: "0", kato: "5" });
  });
});
