import { LocalHost } from "../provider/host/access/local";
import { NvmeEngine } from "../provider/host/engine";
import { identityOf, type StatePath } from "../provider/pulumi/state";
import { startWorld } from "../provider/tools/demo/world";
import { meanCommandMs, timed } from "./measure";

/**
 * P1: a create with 8 paths where every `nvme connect` takes L. Parallel connects make it cost about one
 * connect, sequential ones eight. Measured through the real provider host; the sequential contrast drives
 * the engine with one connect at a time on the same simulated host and paths.
 *
 * The simulated nvme is a node process: each connect takes the latency knob plus a node start-up, which
 * on a loaded machine is longer than the knob. So L is what each connect of that very run took (process
 * start to exit, from the simulator's times.log); the ratio to the knob is reported too.
 */

export interface P1 {
  /** The latency knob. */
  readonly latencyMs: number;
  /** Provider create divided by the mean time one of its connects took. */
  readonly parallelRatio: number;
  /** That mean connect time (the L of {@link parallelRatio}). */
  readonly connectMs: number;
  /** Provider create divided by the latency knob. */
  readonly nominalRatio: number;
  /** Engine attach, one connect at a time, divided by the mean time one of its connects took. */
  readonly sequentialRatio: number;
}

const PATHS = 8;
export async function p1(latencyMs: number, repeat: number): Promise<P1> {
  const w = await startWorld();
  try {
    const pd = [...w.emulator.state.protectionDomains.values()].find((p) => p["name"] === "pd1")!;
    const names: string[] = [];
    for (let i = 1; i <= PATHS; i++) {
      w.emulator.state.addSdt({ name: `bench-sdt-${i}`, protectionDomainId: pd.id, ipList: [{ ip: `198.18.0.${i}`, role: "HostOnly" }], nvmePort: 4420 });
      names.push(`bench-sdt-${i}`);
    }
    const latency = (ms: number) => {
      for (let i = 1; i <= PATHS; i++) w.sim.setPathKnobs(`198.18.0.${i}`, ms > 0 ? { latencyMs: ms } : undefined);
    };
    const args = { protectionDomain: "pd1", sdts: names, host: { register: true }, hostAccess: w.hostAccess };
    // Best of a few: the machine is shared, and the best run is the one least disturbed by others.
    latency(latencyMs);
    let best = { ratio: Infinity, connectMs: 0, ms: 0 };
    let paths: StatePath[] = [];
    await w.stack.up({ p1: args }); // warm: login, version probe, module loading
    await w.stack.destroy();
    for (let r = 0; r < repeat; r++) {
      const t = await timed(() => w.stack.up({ p1: args }));
      paths = [...w.stack.resources.values()][0].outputs["paths"] as StatePath[];
      if (paths.length !== PATHS) throw new Error(`p1: create held ${paths.length} paths, not ${PATHS}`);
      const connectMs = meanCommandMs(w.sim, "connect", t.from, t.to);
      if (t.ms / connectMs < best.ratio) best = { ratio: t.ms / connectMs, connectMs, ms: t.ms };
      await w.stack.destroy();
    }

    const engine = NvmeEngine.on(new LocalHost(), w.sim.settings, { connectConcurrency: 1 });
    const ids = paths.map(identityOf);
    let sequential = Infinity;
    for (let r = 0; r < repeat; r++) {
      const t = await timed(() => engine.attach("bench-p1", ids));
      if (t.value.paths.length !== PATHS) throw new Error(`p1: engine held ${t.value.paths.length} paths, not ${PATHS}`);
      sequential = Math.min(sequential, t.ms / meanCommandMs(w.sim, "connect", t.from, t.to));
      await engine.release("bench-p1", ids);
    }
    return { latencyMs, parallelRatio: best.ratio, connectMs: best.connectMs, nominalRatio: best.ms / latencyMs, sequentialRatio: sequential };
  } finally {
    await w.close();
  }
}
