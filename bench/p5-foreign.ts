import { startWorld } from "../provider/tools/demo/world";
import { systemNqnOf } from "../provider/tools/emulator";
import { simulatedMs, timed } from "./measure";

/**
 * P5: delete one attachment on a host that carries K controllers of other NVMe users (other arrays, other
 * host NQNs on our own SDT address, discovery controllers). Delete must not slow down much with K, and
 * must touch none of them.
 */

export interface P5 {
  readonly foreign: number;
  /** Wall time of the Delete call, minus the time the simulated nvme was running. */
  readonly deleteMs: number;
  /** Wall time of the Delete call. */
  readonly deleteWallMs: number;
  /** Foreign controllers gone, changed state, or named in any nvme command. */
  readonly foreignTouched: number;
}

export async function p5(foreign: number): Promise<P5> {
  const w = await startWorld();
  try {
    const ours = systemNqnOf([...w.emulator.state.systems.values()][0]);
    for (let i = 0; i < foreign; i++) {
      const kind = i % 4;
      const octets = `${(i >> 8) & 255}.${i & 255}`;
      if (kind === 0) w.sim.addForeignController({ traddr: `10.77.${octets}`, subsysnqn: `nqn.2010-06.com.purestorage:flasharray.${i.toString(16).padStart(16, "0")}` });
      else if (kind === 1) w.sim.addForeignController({ traddr: "192.0.2.12", subsysnqn: ours, hostnqn: `nqn.2014-08.org.example:tool-${i}`, hostid: `0d4e8a7c-2f61-4b5e-9d3a-${i.toString(16).padStart(12, "0")}` });
      else if (kind === 2) w.sim.addForeignController({ traddr: `10.78.${octets}`, trsvcid: 8009, subsysnqn: "nqn.2014-08.org.nvmexpress.discovery", cntrltype: "discovery" });
      else w.sim.addForeignController({ traddr: `10.79.${octets}`, subsysnqn: `nqn.2024-01.io.example:csi-${i}`, state: "connecting" });
    }
    const before = new Map(w.sim.controllers().map((c) => [c.device, JSON.stringify(c)]));
    await w.stack.up({ one: { protectionDomain: "pd1", sdts: ["sdt-2"], host: { register: true }, hostAccess: w.hostAccess } });
    const r = [...w.stack.resources.values()][0];
    const t = await timed(() => w.host.delete(r.urn, r.id, r.outputs, r.inputs));
    w.stack.resources.clear();
    const after = new Map(w.sim.controllers().map((c) => [c.device, JSON.stringify(c)]));
    const named = new Set(w.sim.calls().flat());
    let touched = 0;
    for (const [device, desc] of before) if (after.get(device) !== desc || named.has(device) || named.has(`/dev/${device}`)) touched++;
    if (after.size !== before.size) throw new Error(`p5: ${after.size - before.size} controllers of ours left after delete`);
    return { foreign, deleteMs: t.ms - simulatedMs(w.sim, t.from, t.to), deleteWallMs: t.ms, foreignTouched: touched };
  } finally {
    await w.close();
  }
}
