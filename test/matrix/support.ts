import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { ProviderHost } from "../../provider/tools/demo/provider-host";
import { Stack } from "../../provider/tools/demo/stack";
import { PROVIDER_SOURCE } from "../../provider/pulumi/resource";
import type { SimController, SimHost } from "../../provider/tools/simhost";

/**
 * What every matrix case checks afterwards: the controllers on the host, the ledger, and that nothing
 * foreign was touched (no broad disconnect, foreign controllers unchanged).
 */

export const PURE = "nqn.2010-06.com.purestorage:flasharray.6b1a2f0c1d2e3f40";
export const OTHER_TOOL = "nqn.2014-08.org.example:another-tool";
const OTHER_TOOL_ID = "0d4e8a7c-2f61-4b5e-9d3a-7c1e5b2a9f00";

export const snapshot = (cs: readonly SimController[]) => cs.map((c) => `${c.device} ${c.traddr}:${c.trsvcid} ${c.subsysnqn} ${c.hostnqn} ${c.state}`).sort();

/** Another array's controller and another tool's controller on our subsystem; returns the snapshot. */
export function addForeign(sim: SimHost, subsysnqn: string, traddr: string): string[] {
  sim.addForeignController({ traddr: "10.9.9.9", subsysnqn: PURE });
  sim.addForeignController({ traddr, trsvcid: 4421, subsysnqn, hostnqn: OTHER_TOOL, hostid: OTHER_TOOL_ID });
  return snapshot(sim.controllers());
}

/** The foreign controllers are exactly as before, no nvme disconnect ran, and every deletion went through delete_controller. */
export function assertForeignUntouched(sim: SimHost, foreign: readonly string[]): void {
  const now = snapshot(sim.controllers());
  for (const line of foreign) assert.ok(now.includes(line), `foreign controller gone or changed: ${line}\nnow:\n${now.join("\n")}`);
  for (const argv of sim.calls()) assert.ok(!argv[0].startsWith("disconnect"), `ran nvme ${argv.join(" ")}`);
  for (const d of sim.deletes()) assert.equal(d.by, "delete_controller");
}

/** Our controllers (not foreign): `traddr:port state`, sorted. */
export function ours(sim: SimHost): string[] {
  return sim.controllers().filter((c) => c.subsysnqn !== PURE && c.hostnqn !== OTHER_TOOL).map((c) => `${c.traddr}:${c.trsvcid} ${c.state}`).sort();
}

export interface LedgerView {
  /** `traddr:port` -> sorted owners, createdBy, pending owner. */
  readonly [path: string]: { owners: string[]; createdBy: string; pending?: string };
}

/** The ledger as `traddr:port -> {owners, createdBy}` (an absent file is an empty ledger). */
export function ledgerOf(sim: SimHost): LedgerView {
  const file = path.join(sim.settings.stateDir, "ledger.json");
  if (!fs.existsSync(file)) return {};
  const ledger = JSON.parse(fs.readFileSync(file, "utf8")) as { paths: Record<string, any> };
  const out: Record<string, { owners: string[]; createdBy: string; pending?: string }> = {};
  for (const rec of Object.values(ledger.paths)) {
    out[`${rec.identity.traddr}:${rec.identity.trsvcid}`] = {
      owners: [...rec.owners].sort(),
      createdBy: rec.createdBy,
      ...(rec.pending ? { pending: rec.pending.owner } : {}),
    };
  }
  return out;
}

/** Wait until `cond` holds (polling); fails after `ms`. Only for waiting on another process, never for timing. */
export async function until(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * The next `pulumi` command: a new provider host process on the same project, configured with `config`,
 * and a Stack that shares `stack`'s resources (the state file). The caller stops the host.
 */
export async function nextCommand(projectDir: string, config: Record<string, string>, stack: Stack): Promise<{ host: ProviderHost; stack: Stack }> {
  const host = await ProviderHost.start(projectDir);
  await host.configure(config);
  const next = new Stack(host, PROVIDER_SOURCE);
  Object.defineProperty(next, "resources", { value: stack.resources });
  return { host, stack: next };
}

/** Ids of host objects the ledger says an attachment on this host registered. */
export function registeredHostsOf(sim: SimHost): string[] {
  const file = path.join(sim.settings.stateDir, "ledger.json");
  if (!fs.existsSync(file)) return [];
  return Object.keys((JSON.parse(fs.readFileSync(file, "utf8")) as { hosts?: Record<string, unknown> }).hosts ?? {}).sort();
}
