import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { NvmeCli } from "../../../provider/host/nvme/cli";
import { connectOptionsMarkdown, connectOptionsSchema, expectedSysfs, optionDrift, validateConnectOptions } from "../../../provider/host/nvme/connect-options";
import { inputsSchema } from "../../../provider/pulumi/inputs";
import type { ConnectArgs } from "../../../provider/pulumi/resource";
import { repoRoot } from "../../support/paths";
import { tsFiles } from "../../support/sources";

const NAMES = ["hostTraddr", "hostIface", "ctrlLossTmo", "reconnectDelay", "keepAliveTmo", "nrIoQueues", "fastIoFailTmo", "headerDigest", "dataDigest"];
const LONG_FLAGS = ["--host-traddr", "--host-iface", "--ctrl-loss-tmo", "--reconnect-delay", "--keep-alive-tmo", "--nr-io-queues", "--fast_io_fail_tmo", "--hdr-digest", "--data-digest"];

describe("connect options: one rule in one place", () => {
  it("the resource's `connect` input is the adapter's schema object itself", () => {
    const connect = inputsSchema.shape.connect;
    assert.equal(connect.unwrap(), connectOptionsSchema, "inputs.ts must use connectOptionsSchema, not a schema of its own");
    assert.deepEqual(Object.keys(connectOptionsSchema.shape).sort(), [...NAMES].sort());
  });

  it("ConnectArgs (the program's type) is derived from the schema", () => {
    const args: ConnectArgs = { ctrlLossTmo: Promise.resolve(30), headerDigest: true, hostIface: "eth1" };
    // @ts-expect-error a connect option the schema does not have
    const unknown: ConnectArgs = { duplicateConnect: true };
    // @ts-expect-error the schema's type for it
    const wrong: ConnectArgs = { dataDigest: "yes" };
    assert.ok(args && unknown && wrong);
  });

  it("the docs table is the same table: one row per option with its limits and flag", () => {
    const rows = connectOptionsMarkdown().split("\n").slice(2);
    assert.deepEqual(rows.map((r) => /^\| `(\w+)`/.exec(r)?.[1]), NAMES);
    assert.ok(rows.some((r) => r.startsWith("| `keepAliveTmo` | 1..4294967 | 5 | `-k` | `kato` |")), rows.join("\n"));
  });

  // A second place that declares a connect option's limits or nvme-cli spelling could drift from the
  // table (issue 12: keepAliveTmo was 1-3600 in one schema and 0-65535 in the other).
  const root = path.join(repoRoot(), "provider");
  const table = path.join(root, "host", "nvme", "connect-table.ts");
  for (const file of tsFiles(root).filter((f) => f !== table)) {
    it(`${path.relative(repoRoot(), file)} declares no connect option of its own`, () => {
      const text = readFileSync(file, "utf8");
      // hostTraddr/hostIface also name recorded path identities (state, ledger): those are no limits.
      for (const name of NAMES.slice(2)) {
        assert.doesNotMatch(text, new RegExp(`\\b${name}\\??\\s*:\\s*(z\\.|[A-Za-z_]+\\()`), `a schema or limit for ${name}`);
      }
      for (const flag of LONG_FLAGS) assert.ok(!text.includes(`"${flag}"`), `spells ${flag}`);
    });
  }
});

describe("connect option limits are the kernel's (nvmf_parse_options, dev_valid_name)", () => {
  const ok = (o: Record<string, unknown>) => assert.ok(connectOptionsSchema.safeParse(o).success, JSON.stringify(o));
  const bad = (o: Record<string, unknown>, message: RegExp) => {
    const r = connectOptionsSchema.safeParse(o);
    assert.ok(!r.success, `${JSON.stringify(o)} was accepted`);
    assert.match(r.error.issues[0].message, message);
  };

  it("ctrlLossTmo: -1 (forever) or 0..INT_MAX", () => {
    for (const v of [-1, 0, 600, 2_147_483_647]) ok({ ctrlLossTmo: v });
    bad({ ctrlLossTmo: -2 }, /-1 \(reconnect forever\)/);
    bad({ ctrlLossTmo: 2_147_483_648 }, />= 0/);
    bad({ ctrlLossTmo: 1.5 }, /whole number/);
  });

  it("reconnectDelay >= 1; keepAliveTmo 1..4294967; nrIoQueues 1..65535; fastIoFailTmo -1 (off) or >= 0", () => {
    ok({ reconnectDelay: 1, keepAliveTmo: 4_294_967, nrIoQueues: 65_535, fastIoFailTmo: -1 });
    ok({ reconnectDelay: 2_147_483_647, keepAliveTmo: 1, nrIoQueues: 1, fastIoFailTmo: 0 });
    bad({ reconnectDelay: 0 }, />= 1/);
    bad({ keepAliveTmo: 0 }, /1 to 4294967/);
    bad({ keepAliveTmo: 4_294_968 }, /1 to 4294967/);
    bad({ nrIoQueues: 65_536 }, /1 to 65535/);
    bad({ fastIoFailTmo: -2 }, /-1 \(off\)/);
  });

  it("hostIface: an interface name the kernel takes, never an option nor a second kernel option", () => {
    for (const v of ["eth0", "enp2s0f1", "br+lan", "vlan.100", "a", "x".repeat(15)]) ok({ hostIface: v });
    for (const v of ["-eth0", "eth0:1", "eth0,hdr_digest", "eth 0", "x".repeat(16), ".", "..", "", "eth0/1"]) bad({ hostIface: v }, /interface name/);
  });

  it("hostTraddr: an IP address, kept canonical; digests are booleans; unknown options refused", () => {
    assert.deepEqual(connectOptionsSchema.parse({ hostTraddr: "2001:0db8::0001" }), { hostTraddr: "2001:db8::1" });
    bad({ hostTraddr: "host.example" }, /IPv4 or IPv6/);
    bad({ headerDigest: "yes" }, /true or false/);
    assert.throws(() => validateConnectOptions({ duplicateConnect: true } as never), /unknown option duplicateConnect/);
    assert.throws(() => validateConnectOptions({ timeoutMs: 0 }), /timeoutMs/);
  });
});

describe("nvme connect argv from the table", () => {
  const cli = new NvmeCli({} as never, { nvmeCli: "nvme" } as never);
  const id = {
    transport: "tcp",
    traddr: "192.0.2.11",
    trsvcid: 4420,
    subsysnqn: "nqn.1988-11.com.dell:powerflex:00:5fd1a0c900000001",
    hostnqn: "nqn.2014-08.org.nvmexpress:uuid:db6c0bed-3fda-4bda-ad73-51b8d29506ab",
    hostid: "d24b6553-aa97-4c7c-aa4c-b51c022d8b7b",
  } as const;
  const head = ["nvme", "connect", "-t", "tcp", "-a", "192.0.2.11", "-s", "4420", "-n", id.subsysnqn, "-q", id.hostnqn, "-I", id.hostid];

  it("every option, in table order; flags only when true; -o json last", () => {
    const argv = cli.connectArgv(id, {
      hostTraddr: "192.0.2.1",
      hostIface: "eth1",
      ctrlLossTmo: -1,
      reconnectDelay: 2,
      keepAliveTmo: 7,
      nrIoQueues: 4,
      fastIoFailTmo: 20,
      headerDigest: true,
      dataDigest: false,
      timeoutMs: 5000,
    });
    assert.deepEqual(argv, [
      ...head,
      "-w", "192.0.2.1", "-f", "eth1", "-l", "-1", "-c", "2", "-k", "7", "-i", "4", "--fast_io_fail_tmo", "20", "-g", "-o", "json",
    ]);
  });

  it("nothing but the path without options; the identity's host interface goes through the same schema", () => {
    assert.deepEqual(cli.connectArgv(id), [...head, "-o", "json"]);
    assert.deepEqual(cli.connectArgv({ ...id, hostIface: "eth2" }, { dataDigest: true }), [...head, "-f", "eth2", "-G", "-o", "json"]);
    assert.throws(() => cli.connectArgv({ ...id, hostIface: "eth0:1" }), /hostIface/);
  });
});

describe("what a controller should show in sysfs, and drift from it", () => {
  it("the kernel's defaults; ctrl_loss_tmo in whole reconnect delays; off for -1", () => {
    assert.deepEqual(expectedSysfs({}), { ctrl_loss_tmo: "600", reconnect_delay: "10", fast_io_fail_tmo: "off", kato: "5" });
    assert.deepEqual(expectedSysfs({ ctrlLossTmo: 30, reconnectDelay: 4, fastIoFailTmo: 0, keepAliveTmo: 9 }), { ctrl_loss_tmo: "32", reconnect_delay: "4", fast_io_fail_tmo: "0", kato: "9" });
    assert.equal(expectedSysfs({ ctrlLossTmo: -1 }).ctrl_loss_tmo, "off");
    assert.equal(expectedSysfs({ ctrlLossTmo: 0 }).ctrl_loss_tmo, "0");
  });

  it("names each option shown otherwise; attributes the kernel does not show are not compared", () => {
    assert.deepEqual(optionDrift({ ctrlLossTmo: 30, reconnectDelay: 4 }, { ctrl_loss_tmo: "32", reconnect_delay: "4", fast_io_fail_tmo: "off", kato: "5" }), []);
    assert.deepEqual(optionDrift({}, {}), [], "an old kernel without the attributes");
    assert.deepEqual(optionDrift({ ctrlLossTmo: 30, reconnectDelay: 4 }, { ctrl_loss_tmo: "off", reconnect_delay: "4", kato: "15" }), [
      { option: "ctrlLossTmo", attribute: "ctrl_loss_tmo", wanted: "32", live: "off" },
      { option: "keepAliveTmo", attribute: "kato", wanted: "5", live: "15" },
    ]);
  });
});
