import { strict as assert } from "node:assert";
import { arrayViewWarnings, compareWithArray } from "../../../provider/powerflex/array-view";
import type { NvmeController } from "../../../provider/powerflex/rest/types";

const entry = (sysPortIp: string, fields: Partial<NvmeController> = {}): NvmeController => ({
  id: `c-${sysPortIp}`,
  sysPortIp,
  sdtId: "sdt1",
  isConnected: true,
  isAssigned: true,
  ...fields,
});
const at = (traddr: string) => ({ traddr, trsvcid: 4420 });

describe("array view: the host's connections beside PowerFlex's NvmeController list", () => {
  it("all assigned and connected: nothing to say", () => {
    const v = compareWithArray([at("192.0.2.11"), at("192.0.2.12")], [entry("192.0.2.11"), entry("192.0.2.12")], { maxNumSysPorts: 2 });
    assert.deepEqual(v.notAssigned, []);
    assert.deepEqual(v.plannedNotConnected, []);
    assert.equal(v.overBudget, undefined);
    assert.deepEqual(v.connections.map((c) => c.array?.id), ["c-192.0.2.11", "c-192.0.2.12"]);
    assert.deepEqual(arrayViewWarnings(v, (c) => c.traddr), []);
  });

  it("a connection PowerFlex did not assign, and one it does not list", () => {
    const v = compareWithArray([at("192.0.2.11"), at("192.0.2.13"), at("192.0.2.14")], [entry("192.0.2.11"), entry("192.0.2.13", { isAssigned: false })]);
    assert.deepEqual(v.notAssigned, [at("192.0.2.13")]);
    assert.equal(v.connections[2]!.array, undefined, "not listed: unknown, not unassigned");
    assert.match(arrayViewWarnings(v, (c) => c.traddr)[0]!, /^PowerFlex did not assign 192\.0\.2\.13 to this host \(isAssigned false/);
  });

  it("an assigned port the host has no connection to, listed not connected or not at all; null fields tolerated", () => {
    const v = compareWithArray(
      [at("192.0.2.11")],
      [entry("192.0.2.11"), entry("192.0.2.12", { isConnected: false }), entry("192.0.2.12", { isConnected: false, id: "dup" }), entry("192.0.2.15", { isAssigned: null, sdtId: null }), { id: "bare" }],
    );
    assert.deepEqual(v.plannedNotConnected, [{ sysPortIp: "192.0.2.12", sdtId: "sdt1" }]);
    assert.deepEqual(arrayViewWarnings(v, (c) => c.traddr), ["PowerFlex assigned the system port 192.0.2.12 (SDT sdt1) to this host, but this attachment holds no path to it"]);
  });

  it("IPv6 address forms and an entry not connected: matched as the address means, not as text", () => {
    const v = compareWithArray([at("fd00::3")], [entry("FD00:0:0::3", { isAssigned: false }), entry("fd00::3", { isConnected: false, isAssigned: true, id: "old" })]);
    assert.deepEqual(v.notAssigned, [at("fd00::3")]);
    assert.deepEqual(v.plannedNotConnected, [], "assigned and connected by the host: not 'not connected'");
  });

  it("more connected ports than maxNumSysPorts in the protection domain's SDTs (others and disconnected ones not counted)", () => {
    const array = [entry("192.0.2.11"), entry("192.0.2.12", { isAssigned: false }), entry("192.0.2.13", { isAssigned: false, sdtId: "sdt2" }), entry("10.0.0.1", { sdtId: "other-pd" }), entry("192.0.2.14", { isConnected: false })];
    const host = ["192.0.2.11", "192.0.2.12", "192.0.2.13", "10.0.0.1"].map(at);
    const v = compareWithArray(host, array, { sdtIds: new Set(["sdt1", "sdt2"]), maxNumSysPorts: 2 });
    assert.deepEqual(v.overBudget, { ports: 3, maxNumSysPorts: 2 });
    assert.match(arrayViewWarnings(v, (c) => c.traddr).at(-1)!, /^this host is connected to 3 system ports of the protection domain, more than its maxNumSysPorts \(2\) in PowerFlex/);
    assert.equal(compareWithArray(host, array, { sdtIds: new Set(["sdt1", "sdt2"]), maxNumSysPorts: 3 }).overBudget, undefined);
    assert.equal(compareWithArray(host, array, { maxNumSysPorts: null }).overBudget, undefined, "no budget reported: no check");
    assert.deepEqual(compareWithArray(host, array, { maxNumSysPorts: 3 }).overBudget, { ports: 4, maxNumSysPorts: 3 }, "no SDT set: every entry counts");
    const elsewhere = [entry("10.0.0.2", { sdtId: "other-pd", isConnected: false })];
    assert.deepEqual(compareWithArray([], elsewhere, { sdtIds: new Set(["sdt1"]) }).plannedNotConnected, [], "another protection domain's plan is not this one's");
    assert.equal(compareWithArray([], elsewhere).plannedNotConnected.length, 1);
  });
});
