import { startWorld } from "../provider/tools/demo/world";
import { hostOf } from "./measure";

/**
 * P2: 50 attachments created in one provider process, counted by the emulator: REST requests per create
 * beyond logging in, and logins. P3 comes along: the size of the `__provider` Pulumi stores with each.
 */

export interface P2 {
  readonly creates: number;
  readonly restCallsPerCreate: number;
  readonly logins: number;
  /** Requests per route during the creates (login requests included), for the table. */
  readonly byRoute: Record<string, number>;
  /** P3: bytes of the serialized provider in a created resource's state. */
  readonly providerBytes: number;
}

/** Requests that belong to logging in: the release probe of `authFlow: auto`, and both login flows. */
const LOGIN = ["GET /api/version", "POST /rest/auth/login", "GET /api/login"];

export async function p2(creates: number): Promise<P2> {
  const w = await startWorld();
  try {
    const program = Object.fromEntries(
      Array.from({ length: creates }, (_, i) => [`a${i}`, { protectionDomain: "pd1", host: { ...hostOf(i), register: true }, hostAccess: w.hostAccess }]),
    );
    w.emulator.resetCounts();
    const steps = await w.stack.up(program);
    if (steps.filter((s) => s.op === "create").length !== creates) throw new Error(`p2: expected ${creates} creates, got ${JSON.stringify(steps)}`);
    const byRoute = w.emulator.counts();
    const total = Object.values(byRoute).reduce((a, b) => a + b, 0);
    const loginish = LOGIN.reduce((a, k) => a + (byRoute[k] ?? 0), 0);
    const logins = (byRoute["POST /rest/auth/login"] ?? 0) + (byRoute["GET /api/login"] ?? 0);
    const providerBytes = Buffer.byteLength(String([...w.stack.resources.values()][0].outputs["__provider"]));
    await w.stack.destroy();
    return { creates, restCallsPerCreate: (total - loginish) / creates, logins, byRoute, providerBytes };
  } finally {
    await w.close();
  }
}
