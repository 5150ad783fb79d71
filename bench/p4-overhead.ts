import { startWorld } from "../provider/tools/demo/world";
import { hostOf, peakRssMb, simulatedMs, timed } from "./measure";

/**
 * P4: N attachments up, then destroyed, through the real dynamic-provider host on a simulated host whose
 * commands take no added latency. Overhead is the wall time minus the time a simulated nvme was running
 * (a node process per call here, a few ms of C on a real host), per resource; memory is the provider
 * process's peak RSS.
 */

export interface P4 {
  readonly resources: number;
  readonly wallMs: number;
  readonly simulatedMs: number;
  readonly overheadMsPerResource: number;
  readonly rssMb: number;
  /** Peak RSS of the same process after Configure, before any resource: the SDK's provider host alone. */
  readonly idleRssMb: number;
}

export async function p4(resources: number): Promise<P4> {
  const w = await startWorld();
  try {
    const idleRssMb = peakRssMb(w.host.pid);
    // One path each (sdt-2 has one host-facing address) and a host identity each: N controllers at the top.
    const program = Object.fromEntries(
      Array.from({ length: resources }, (_, i) => [`a${i}`, { protectionDomain: "pd1", sdts: ["sdt-2"], host: { ...hostOf(i), register: true }, hostAccess: w.hostAccess }]),
    );
    const t = await timed(async () => {
      await w.stack.up(program);
      const live = w.sim.controllers().length;
      if (live !== resources) throw new Error(`p4: ${live} controllers after up, expected ${resources}`);
      await w.stack.destroy();
    });
    const left = w.sim.controllers().length;
    if (left !== 0) throw new Error(`p4: ${left} controllers left after destroy`);
    const sim = simulatedMs(w.sim, t.from, t.to);
    return { resources, wallMs: t.ms, simulatedMs: sim, overheadMsPerResource: (t.ms - sim) / resources, rssMb: peakRssMb(w.host.pid), idleRssMb };
  } finally {
    await w.close();
  }
}
