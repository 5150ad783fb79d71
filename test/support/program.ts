import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import type { Stack } from "../../provider/tools/demo/stack";
import { TYPE } from "../../provider/pulumi/resource";

/**
 * Run an examples/ program under pulumi.runtime.setMocks with its registrations routed to the real
 * dynamic-provider host (as the engine would route them), with the engine's step logic from
 * provider/tools/demo/stack.ts.
 */

const SECRET_SIG = "4dabf18193072939515e22adb298388d";

/** Secret envelopes in mock inputs, unwrapped as the engine would before calling the provider. */
function unwrap(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(unwrap);
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    if (o[SECRET_SIG] !== undefined) return unwrap(o.value);
    return Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined).map(([k, x]) => [k, unwrap(x)]));
  }
  return v;
}

export interface ProgramRun {
  readonly exports: Record<string, unknown>;
  readonly registrations: { type: string; name: string; inputs: Record<string, unknown>; secretOutputs: string[] }[];
}

// The options the program set on each registration (the mocks API does not show them).
const secretOutputs: string[][] = [];
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { MockMonitor } = require("@pulumi/pulumi/runtime/mocks");
const register = MockMonitor.prototype.registerResource;
MockMonitor.prototype.registerResource = function (req: any, cb: unknown) {
  secretOutputs.push(req.getAdditionalsecretoutputsList());
  return register.call(this, req, cb);
};

export interface ProgramOptions {
  /** Compiled program (dist/examples/<name>/index.js). */
  readonly program: string;
  /** Pulumi project name (the config namespace of the program). */
  readonly project: string;
  readonly config: Record<string, string>;
  /** Config keys that are secrets. */
  readonly secretKeys?: readonly string[];
}

export async function runProgram(stack: Stack, options: ProgramOptions, mode: "up" | "preview"): Promise<ProgramRun> {
  const registrations: ProgramRun["registrations"] = [];
  const names: string[] = [];
  secretOutputs.length = 0;
  pulumi.runtime.setAllConfig(options.config, [...(options.secretKeys ?? [])]);
  pulumi.runtime.setMocks(
    {
      newResource: async (args) => {
        const inputs = unwrap(args.inputs) as Record<string, unknown>;
        registrations.push({ type: args.type, name: args.name, inputs, secretOutputs: secretOutputs.shift() ?? [] });
        if (args.type !== TYPE) return { id: `${args.name}-id`, state: args.inputs };
        names.push(args.name);
        const { __provider, ...userArgs } = inputs;
        assert.equal(typeof __provider, "string");
        if (mode === "preview") {
          await stack.previewOne(args.name, userArgs);
          const prior = [...stack.resources.values()].find((r) => r.urn.endsWith(`::${args.name}`));
          return { id: prior?.id ?? "", state: prior?.outputs ?? inputs };
        }
        await stack.upOne(args.name, userArgs);
        const done = [...stack.resources.values()].find((r) => r.urn.endsWith(`::${args.name}`))!;
        return { id: done.id, state: done.outputs };
      },
      call: async () => ({}),
    },
    options.project,
    "dev",
    mode === "preview",
  );
  delete require.cache[options.program];
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(options.program) as Record<string, pulumi.Output<unknown>>;
  const exports: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(mod)) exports[k] = await (v as any).promise();
  if (mode === "up") await stack.deleteAllBut(names);
  return { exports, registrations };
}
