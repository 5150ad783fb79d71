import { strict as assert } from "node:assert";
import {
  parseConnectOutput,
  parseDiscover,
  parseListSubsys,
  parseNvmeVersion,
  parseSysfsAddress,
  subsystemRecords,
  NvmeOutputError,
} from "../../../provider/host/nvme";
import { debianRuns, harnessRuns, kernelVmRuns, type RecordedRun } from "./reference";

/** Each list must be non-empty: a reference reorganisation must not silently turn these tests into no-ops. */
function nonEmpty(runs: RecordedRun[], what: string): RecordedRun[] {
  assert.ok(runs.length > 0, `no reference outputs for ${what}`);
  return runs;
}

describe("parseListSubsys over every reference list-subsys -o json output", () => {
  const runs = nonEmpty(
    [
      ...harnessRuns((s) => /^(list|listdev)-subsys-json/.test(s)),
      ...kernelVmRuns((c) => /^nvme list-subsys .*-o json/.test(c)),
      ...debianRuns((n) => n === "list-subsys-json"),
    ],
    "list-subsys",
  );
  for (const run of runs) {
    it(`${run.label} (rc ${run.rc})`, () => {
      if (run.rc === 0) {
        const hosts = parseListSubsys(run.stdout);
        for (const h of hosts) {
          for (const s of h.subsystems) {
            assert.match(s.nqn, /^nqn\./, "every subsystem has an NQN");
            for (const p of s.paths) {
              assert.match(p.name, /^nvme\d+$/);
              assert.ok(p.addressFields.traddr, `${p.name} has a traddr`);
              assert.ok(!p.address.includes(",") || !p.address.includes(" "), "one separator style per version");
            }
          }
        }
        if (run.version === "1.16") assert.ok(hosts.every((h) => h.hostnqn === undefined));
        else assert.ok(hosts.every((h) => h.hostnqn?.startsWith("nqn.")));
      } else {
        assert.throws(() => parseListSubsys(run.stdout), NvmeOutputError);
      }
    });
  }

  it("reads 1.x spaced addresses and 2.x comma addresses the same way", () => {
    const v1 = harnessRuns((s) => s === "list-subsys-json__ipv6-iface").find((r) => r.version === "1.16")!;
    const v2 = harnessRuns((s) => s === "list-subsys-json__ipv6-iface").find((r) => r.version === "2.11")!;
    const p1 = parseListSubsys(v1.stdout)[0].subsystems[0].paths[0];
    const p2 = parseListSubsys(v2.stdout)[0].subsystems[0].paths[0];
    assert.deepEqual(p1.addressFields, p2.addressFields);
    assert.deepEqual(p2.addressFields, { traddr: "fd00:1::10", trsvcid: "4420", host_traddr: "fd00:1::1", host_iface: "eth0", src_addr: "fd00:1::1" });
  });

  it("sees both paths of a duplicate connect on the real kernel", () => {
    const dup = kernelVmRuns((c) => c === "nvme list-subsys -o json").find((r) => r.label.includes("tcg_30"))!;
    const paths = parseListSubsys(dup.stdout)[0].subsystems[0].paths;
    assert.deepEqual(paths.map((p) => p.name), ["nvme1", "nvme2"]);
    assert.equal(paths[0].address, paths[1].address);
  });

  it("accepts the pre-1.9 split Paths element and a subsystem without Paths", () => {
    const text = `{ "Subsystems" : [ { "Name" : "nvme-subsys0", "NQN" : "nqn.2016-06.io.spdk:cnode1" },
      { "Paths" : [ { "Name" : "nvme0", "Transport" : "tcp", "Address" : "traddr=10.0.2.15 trsvcid=4420" } ] },
      { "Name" : "nvme-subsys5", "NQN" : "nqn.2014-08.org.example:orphan" } ] }`;
    const [host] = parseListSubsys(text);
    assert.equal(host.subsystems.length, 2);
    assert.equal(host.subsystems[0].paths[0].addressFields.trsvcid, "4420");
    assert.deepEqual(host.subsystems[1].paths, []);
  });

  it("accepts the json-c escaped slash form", () => {
    const [host] = parseListSubsys(`{"Subsystems":[{"Name":"nvme-subsys0","NQN":"nqn.2014-08.org.example:a\\/b","Paths":[]}]}`);
    assert.equal(host.subsystems[0].nqn, "nqn.2014-08.org.example:a/b");
  });

  it("names the field when the shape is wrong", () => {
    assert.throws(() => parseListSubsys(`[{"HostNQN":"x","Subsystems":[{"Name":"s","NQN":"n","Paths":[{"Name":3}]}]}]`), /Paths\[\]\.Name/);
  });
});

describe("parseDiscover over every reference discover -o json output", () => {
  const runs = nonEmpty(
    [
      ...harnessRuns((s) => /^discover-.*json|^discover-kernel/.test(s)),
      ...kernelVmRuns((c) => /^nvme discover .*-o json/.test(c)),
      ...debianRuns((n) => n === "discover-nomod-json"),
    ],
    "discover",
  );
  for (const run of runs) {
    it(`${run.label} (rc ${run.rc})`, () => {
      if (run.rc !== 0) {
        assert.throws(() => parseDiscover(run.stdout), NvmeOutputError);
        return;
      }
      const log = parseDiscover(run.stdout);
      assert.ok(log.records.length > 0);
      const subs = subsystemRecords(log);
      assert.ok(subs.length > 0, "at least one nvme subsystem record");
      for (const r of subs) {
        assert.match(r.subnqn, /^nqn\./);
        assert.doesNotMatch(r.subnqn, /discovery$/);
        assert.match(r.trsvcid, /^\d+$/);
      }
      if (run.version === "1.16") assert.match(log.device ?? "", /^nvme\d+$/);
    });
  }

  it("keeps only nvme subsystem records (not referrals or the current discovery subsystem)", () => {
    const real = kernelVmRuns((c) => c.startsWith("nvme discover -t tcp -a 127.0.0.1 -s 8009 -o json"))[0];
    const subs = subsystemRecords(parseDiscover(real.stdout));
    assert.deepEqual(subs.map((r) => r.subnqn), ["nqn.1988-11.com.dell:powerflex:00:abc123"]);
  });

  it("treats 'No discovery log entries to fetch.' as an empty log", () => {
    assert.deepEqual(parseDiscover("No discovery log entries to fetch.\n").records, []);
  });
});

describe("parseConnectOutput over every reference connect stdout", () => {
  const runs = nonEmpty(
    [
      ...harnessRuns((s) => s.startsWith("connect-") && s !== "connect-help"),
      ...kernelVmRuns((c) => c.startsWith("nvme connect")),
      ...debianRuns((n) => n.startsWith("connect-nomod")),
    ],
    "connect",
  );
  for (const run of runs) {
    it(`${run.label} (rc ${run.rc})`, () => {
      if (run.rc !== 0) {
        // Failures print nothing on stdout, or (1.16 usage errors) the usage text: never a device.
        let device: string | undefined;
        try {
          device = parseConnectOutput(run.stdout).device;
        } catch (err) {
          assert.ok(err instanceof NvmeOutputError);
        }
        assert.equal(device, undefined);
        return;
      }
      const out = parseConnectOutput(run.stdout);
      const printsDevice = run.rc === 0 && (/-o json|--output-format=json|-o normal/.test(run.command) || (run.version !== "1.16" && run.version !== "2.3" && !/-v$/.test(run.command)));
      if (printsDevice) assert.match(out.device ?? "", /^nvme\d+$/, `device expected in ${JSON.stringify(run.stdout)}`);
    });
  }

  it("reads the 1.x, 2.x, json-c, normal and 2.7+ default forms", () => {
    assert.deepEqual(parseConnectOutput('{\n  "device" : "nvme0"\n}\n'), { device: "nvme0" });
    assert.deepEqual(parseConnectOutput('{\n  "device":"nvme3"\n}\n'), { device: "nvme3" });
    assert.deepEqual(parseConnectOutput("device: nvme1\n"), { device: "nvme1" });
    assert.deepEqual(parseConnectOutput("connecting to device: nvme2\n"), { device: "nvme2" });
    assert.deepEqual(parseConnectOutput(""), {});
    assert.throws(() => parseConnectOutput('{"device":"../etc"}'), NvmeOutputError);
  });
});

describe("parseNvmeVersion", () => {
  const runs = nonEmpty(
    [...harnessRuns((s) => s === "version" || s === "dash-dash-version"), ...debianRuns((n) => n === "version" || n === "dash-dash-version")],
    "version",
  );
  for (const run of runs) {
    it(`${run.label}`, () => {
      const v = parseNvmeVersion(run.stdout);
      assert.equal(v.text, run.version);
      if (run.version.startsWith("2.")) assert.ok(v.libnvme);
    });
  }
  it("reads the kernel VM's version and distro suffixes", () => {
    const env = kernelVmRuns((c) => c.includes("nvme version"))[0];
    assert.equal(parseNvmeVersion(env.stdout).text, "2.3");
    assert.deepEqual(
      { ...parseNvmeVersion("nvme version 2.11 (git 2.11+)\nlibnvme version 1.11.1 (git 1.11.1)\n") },
      { major: 2, minor: 11, patch: undefined, text: "2.11", libnvme: "1.11.1" },
    );
    assert.equal(parseNvmeVersion("nvme version 2.9.1\n").patch, 1);
    assert.throws(() => parseNvmeVersion("bash: nvme: command not found"), /no version line/);
  });
});

describe("parseSysfsAddress", () => {
  it("splits on commas or spaces and ignores junk", () => {
    assert.deepEqual(parseSysfsAddress("traddr=127.0.0.1,trsvcid=4420,src_addr=127.0.0.1\n"), { traddr: "127.0.0.1", trsvcid: "4420", src_addr: "127.0.0.1" });
    assert.deepEqual(parseSysfsAddress("traddr=fd00:1::10 trsvcid=4420 host_iface=eth0"), { traddr: "fd00:1::10", trsvcid: "4420", host_iface: "eth0" });
    assert.deepEqual(parseSysfsAddress("traddr=fe80::1%eth0,trsvcid=4420,x"), { traddr: "fe80::1%eth0", trsvcid: "4420" });
    assert.deepEqual(parseSysfsAddress(""), {});
  });
});
