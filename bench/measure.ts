import * as fs from "node:fs";
import type { SimHost } from "../provider/tools/simhost";

/**
 * What a benchmark reads besides the clock: how long the simulated nvme ran (to subtract it: a real
 * nvme-cli is a C binary, ours is a node process), and the provider process's peak memory.
 */

/** Milliseconds within [from, to] during which at least one simulated nvme command was running. */
export function simulatedMs(sim: SimHost, from: number, to: number): number {
  const spans = sim
    .commandTimes()
    .map((c) => [Math.max(c.start, from), Math.min(c.end, to)] as const)
    .filter(([s, e]) => e > s)
    .sort((a, b) => a[0] - b[0]);
  let total = 0;
  let end = -Infinity;
  for (const [s, e] of spans) {
    if (e <= end) continue;
    total += e - Math.max(s, end);
    end = e;
  }
  return total;
}

/** Mean duration (ms) of the simulated `command` invocations that started within [from, to]. */
export function meanCommandMs(sim: SimHost, command: string, from: number, to: number): number {
  const runs = sim.commandTimes().filter((c) => c.command === command && c.start >= from && c.start <= to);
  if (runs.length === 0) throw new Error(`no simulated "${command}" ran between ${from} and ${to}`);
  return runs.reduce((a, c) => a + (c.end - c.start), 0) / runs.length;
}

/** Peak resident memory of a process (VmHWM), in MB. */
export function peakRssMb(pid: number): number {
  const m = fs.readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmHWM:\s+(\d+) kB$/m);
  if (!m) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(m[1]) / 1024;
}

/** A host identity of its own for attachment `i` (so that attachments do not share controllers). */
export function hostOf(i: number): { nqn: string; id: string } {
  const id = `b3e1c0de-0000-4000-8000-${i.toString(16).padStart(12, "0")}`;
  return { nqn: `nqn.2014-08.org.nvmexpress:uuid:${id}`, id };
}

export function round(x: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Wall time of `fn` in ms (performance.now clock, epoch-aligned bounds for {@link simulatedMs}). */
export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; from: number; to: number; value: T }> {
  const from = performance.timeOrigin + performance.now();
  const value = await fn();
  const to = performance.timeOrigin + performance.now();
  return { ms: to - from, from, to, value };
}
