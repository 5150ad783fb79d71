import { strict as assert } from "node:assert";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { startWorld, type World } from "../../provider/demo/world";
import { TYPE } from "../../provider/resource";
import { repoRoot } from "../support/paths";

/**
 * examples/attach-host, the program the root Pulumi.yaml runs, under pulumi.runtime.setMocks: its
 * registrations go to the real dynamic-provider host (as the engine would route them), with the
 * engine's step logic from provider/demo/stack.ts. Covers the program side (closure of the resource
 * class, token, inputs, options, outputs) that the gRPC tests cannot see.
 */

const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const program = path.join(repoRoot(), "dist", "examples", "attach-host", "index.js");

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

interface Run {
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

async function runProgram(w: World, config: Record<string, string>, mode: "up" | "preview"): Promise<Run> {
  const registrations: Run["registrations"] = [];
  const names: string[] = [];
  secretOutputs.length = 0;
  pulumi.runtime.setAllConfig(config, ["powerflex:password"]);
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
          await w.stack.previewOne(args.name, userArgs);
          const prior = [...w.stack.resources.values()].find((r) => r.urn.endsWith(`::${args.name}`));
          return { id: prior?.id ?? "", state: prior?.outputs ?? inputs };
        }
        await w.stack.upOne(args.name, userArgs);
        const done = [...w.stack.resources.values()].find((r) => r.urn.endsWith(`::${args.name}`))!;
        return { id: done.id, state: done.outputs };
      },
      call: async () => ({}),
    },
    "attach-host",
    "dev",
    mode === "preview",
  );
  delete require.cache[program];
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(program) as Record<string, pulumi.Output<unknown>>;
  const exports: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(mod)) exports[k] = await (v as any).promise();
  if (mode === "up") await w.stack.deleteAllBut(names);
  return { exports, registrations };
}

describe("program examples/attach-host under setMocks, provider in the real host", function () {
  this.timeout(60_000);
  let w: World;
  let config: Record<string, string>;
  beforeEach(async () => {
    w = await startWorld();
    config = {
      ...w.config,
      "attach-host:protectionDomain": "pd1",
      "attach-host:registerHost": "true",
      "attach-host:hostAccess": JSON.stringify(w.hostAccess),
      "attach-host:volumes": JSON.stringify([{ volume: "vol1" }]),
    };
  });
  afterEach(() => w.close());

  it("up, change, preview, destroy", async () => {
    const foreign = w.sim.addForeignController({ traddr: "10.9.9.9", subsysnqn: "nqn.2010-06.com.purestorage:flasharray.1" });

    const up = await runProgram(w, config, "up");
    const [reg] = up.registrations;
    assert.equal(reg.type, "pulumi-nodejs:dynamic/powerflex:NvmeAttachment");
    assert.equal(reg.name, "this-host");
    assert.deepEqual(reg.secretOutputs, ["gateway"]);
    assert.ok(Buffer.byteLength(String(reg.inputs.__provider)) < 1024);
    assert.ok(!JSON.stringify(reg.inputs).includes(w.emulator.password), "the program never sees the password");
    assert.equal(up.exports.subsystemNqn, "nqn.1988-11.com.dell:powerflex:00:5fd1a0c900000001");
    assert.deepEqual(up.exports.paths, [
      "sdt-1 192.0.2.11:4420 created live",
      "sdt-1 198.51.100.11:4420 created live",
      "sdt-2 192.0.2.12:4420 created live",
    ]);
    assert.equal(w.sim.controllers().length, 4);
    assert.deepEqual(up.exports.devices, ["vol1 /dev/disk/by-id/nvme-eui.3bd1f7880000000164b94ec900000001"]);

    // A change of connect options: an update that cycles our paths one at a time.
    const changed = { ...config, "attach-host:ctrlLossTmo": "-1" };
    const preview = await runProgram(w, changed, "preview");
    assert.equal(preview.registrations.length, 1);
    assert.equal(w.sim.calls().filter((c) => c[0] === "disconnect").length, 0, "preview changes nothing");
    await runProgram(w, changed, "up");
    const connects = w.sim.calls().filter((c) => c[0] === "connect");
    assert.equal(connects.length, 6, "three first connects, three reconnects with the new option");
    assert.deepEqual(connects.slice(3).map((c) => c[c.indexOf("-l") + 1]), ["-1", "-1", "-1"]);

    const again = await runProgram(w, changed, "preview");
    assert.equal(again.registrations.length, 1);
    assert.deepEqual(await w.stack.preview({ "this-host": (w.stack.resources.values().next().value!.inputs) }), [{ name: "this-host", op: "same" }]);

    await w.stack.destroy();
    assert.deepEqual(w.sim.controllers().map((c) => c.device), [foreign]);
  });
});
