import { parseArgs } from "node:util";
import { round } from "./measure";
import { p1 } from "./p1-connects";
import { p2 } from "./p2-rest";
import { p4 } from "./p4-overhead";
import { p5 } from "./p5-foreign";

/**
 * `npm run bench`: the performance figures of issue 5 on an emulated array and a simulated host, each a
 * ratio or a count within one run (the machine is shared and noisy). A table for people; with `--json`
 * the last line is one object for machines. Goals are printed, not asserted: a benchmark is not a test.
 */

const USAGE = `usage: npm run bench -- [--json] [--p4-sizes 10,100] [--p5-sizes 10,100,1000] [--latency-ms 200] [--repeat 3] [--creates 50] [--only p1,p2,p4,p5]

  --json          the last line of stdout is one JSON object with every figure
  --p4-sizes LIST resource counts for P4 (default 10,100; 1000 takes long: two nvme processes each)
  --p5-sizes LIST foreign-controller counts for P5 (default 10,100,1000)
  --latency-ms L  how long each simulated nvme connect takes in P1 (default 200)
  --repeat N      P1 runs each create this often and keeps the least disturbed run (default 3)
  --creates N     attachments created in one provider process for P2 (default 50)
  --only LIST     run only these figures (P3 comes with P2; default all)
`;

interface Row {
  readonly figure: string;
  readonly value: string;
  readonly goal: string;
  readonly met?: boolean;
}

function sizesOf(text: string, name: string): number[] {
  const sizes = text.split(",").map((s) => Number(s.trim()));
  if (sizes.length === 0 || sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`${name}: expected whole numbers >= 1 separated by commas, got "${text}"`);
  return sizes;
}

const FIGURES = ["p1", "p2", "p4", "p5"] as const;

function onlyOf(text: string): Set<string> {
  const only = new Set(text.split(",").map((s) => s.trim().toLowerCase()));
  const unknown = [...only].filter((f) => !(FIGURES as readonly string[]).includes(f));
  if (unknown.length > 0) throw new Error(`--only: unknown figure(s) ${unknown.join(", ")}; choose from ${FIGURES.join(", ")}`);
  return only;
}

function positive(text: string, name: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}: expected a whole number >= 1, got "${text}"`);
  return n;
}

function table(rows: readonly Row[]): string {
  const cells = rows.map((r) => [r.figure, r.value, r.goal, r.met === undefined ? "" : r.met ? "yes" : "NO"]);
  const all = [["figure", "value", "goal", "met"], ...cells];
  const widths = all[0].map((_, i) => Math.max(...all.map((c) => c[i].length)));
  return all.map((c) => c.map((x, i) => x.padEnd(widths[i])).join("  ").trimEnd()).join("\n");
}

export async function main(argv: string[]): Promise<number> {
  let opts;
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        json: { type: "boolean", default: false },
        "p4-sizes": { type: "string", default: "10,100" },
        "p5-sizes": { type: "string", default: "10,100,1000" },
        "latency-ms": { type: "string", default: "200" },
        creates: { type: "string", default: "50" },
        repeat: { type: "string", default: "3" },
        only: { type: "string", default: "p1,p2,p4,p5" },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) {
      process.stdout.write(USAGE);
      return 0;
    }
    opts = {
      json: values.json,
      p4Sizes: sizesOf(values["p4-sizes"], "--p4-sizes"),
      p5Sizes: sizesOf(values["p5-sizes"], "--p5-sizes"),
      latencyMs: positive(values["latency-ms"], "--latency-ms"),
      creates: positive(values.creates, "--creates"),
      repeat: positive(values.repeat, "--repeat"),
      only: onlyOf(values.only),
    };
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const rows: Row[] = [];
  const figures: Record<string, number> = {};
  const started = Date.now();

  if (opts.only.has("p1")) {
    say(`P1: create with 8 paths, each connect taking ${opts.latencyMs} ms …`);
    const r1 = await p1(opts.latencyMs, opts.repeat);
    Object.assign(figures, {
      p1_serial_ratio: round(r1.serialRatio),
      p1_connect_ms: round(r1.connectMs, 0),
      p1_nominal_ratio: round(r1.nominalRatio),
      p1_latency_ms: r1.latencyMs,
    });
    rows.push(
      { figure: "P1 create with 8 paths / its 8 connects (one at a time)", value: String(round(r1.serialRatio)), goal: "<= 1.25", met: r1.serialRatio <= 1.25 },
      { figure: "P1   one connect took (ms; knob + node start-up)", value: String(round(r1.connectMs, 0)), goal: "" },
      { figure: `P1   create / 8 × latency knob of ${r1.latencyMs} ms`, value: String(round(r1.nominalRatio)), goal: "" },
    );
  }

  if (opts.only.has("p2")) {
    say(`P2: ${opts.creates} attachments created in one provider process …`);
    const r2 = await p2(opts.creates);
    Object.assign(figures, {
      p2_rest_calls_per_create: round(r2.restCallsPerCreate),
      p2_logins_for_50: r2.logins,
      p3_provider_bytes: r2.providerBytes,
    });
    rows.push(
      { figure: `P2 REST calls per create (after login), ${r2.creates} creates`, value: String(round(r2.restCallsPerCreate)), goal: "<= 3", met: r2.restCallsPerCreate <= 3 },
      { figure: `P2 logins for ${r2.creates} creates`, value: String(r2.logins), goal: "1", met: r2.logins === 1 },
      { figure: "P3 serialized __provider (bytes)", value: String(r2.providerBytes), goal: "<= 1024", met: r2.providerBytes <= 1024 },
    );
    for (const [route, n] of Object.entries(r2.byRoute).sort()) say(`   ${String(n).padStart(5)}  ${route}`);
  }

  for (const n of opts.only.has("p4") ? opts.p4Sizes : []) {
    say(`P4: ${n} attachments up, then destroy …`);
    const r = await p4(n);
    Object.assign(figures, {
      [`p4_overhead_ms_per_resource_${n}`]: round(r.overheadMsPerResource, 1),
      [`p4_rss_mb_${n}`]: round(r.rssMb, 1),
      p4_rss_idle_mb: round(r.idleRssMb, 1),
    });
    if (n === 100 || (n === Math.max(...opts.p4Sizes) && !opts.p4Sizes.includes(100))) {
      Object.assign(figures, { p4_overhead_ms_per_resource: round(r.overheadMsPerResource, 1), p4_rss_mb: round(r.rssMb, 1), p4_resources: n });
    }
    rows.push(
      { figure: `P4 overhead per resource, ${n} up+destroy (ms)`, value: String(round(r.overheadMsPerResource, 1)), goal: "<= 5", met: r.overheadMsPerResource <= 5 },
      { figure: `P4   wall / simulated nvme time (s)`, value: `${round(r.wallMs / 1000, 1)} / ${round(r.simulatedMs / 1000, 1)}`, goal: "" },
      { figure: `P4   provider peak RSS, ${n} resources (MB)`, value: String(round(r.rssMb, 1)), goal: "<= 150", met: r.rssMb <= 150 },
      { figure: `P4   same process idle, after Configure (MB)`, value: String(round(r.idleRssMb, 1)), goal: "" },
    );
  }

  let touched = 0;
  for (const n of opts.only.has("p5") ? opts.p5Sizes : []) {
    say(`P5: delete one attachment beside ${n} foreign controllers …`);
    const r = await p5(n);
    touched += r.foreignTouched;
    Object.assign(figures, { [`p5_delete_ms_${n}_foreign`]: round(r.deleteMs, 1), [`p5_delete_wall_ms_${n}_foreign`]: round(r.deleteWallMs, 1) });
    rows.push(
      { figure: `P5 delete beside ${n} foreign controllers (ms)`, value: String(round(r.deleteMs, 1)), goal: "<= 100", met: r.deleteMs <= 100 },
      { figure: `P5   wall, incl. simulated nvme (ms)`, value: String(round(r.deleteWallMs, 1)), goal: "" },
      { figure: `P5   foreign controllers touched`, value: String(r.foreignTouched), goal: "0", met: r.foreignTouched === 0 },
    );
  }
  if (opts.only.has("p5")) figures["p5_foreign_touched"] = touched;
  if (opts.only.has("p5") && figures["p5_delete_ms_1000_foreign"] === undefined) {
    // The headline figure is at 1,000; with other sizes report the largest measured.
    figures["p5_delete_ms_1000_foreign"] = figures[`p5_delete_ms_${Math.max(...opts.p5Sizes)}_foreign`];
    figures["p5_foreign"] = Math.max(...opts.p5Sizes);
  }

  say("");
  say(table(rows));
  say(`(${new Date().toISOString()}, ${Math.round((Date.now() - started) / 1000)} s)`);
  if (opts.json) say(JSON.stringify(figures));
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err: Error) => {
      process.stderr.write(`bench: ${err.stack ?? err.message}\n`);
      process.exitCode = 1;
    },
  );
}
