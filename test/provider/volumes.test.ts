import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { ProviderCallError } from "../../provider/tools/demo/provider-host";
import { startWorld, type World } from "../../provider/tools/demo/world";
import { volumeNguid } from "../../provider/powerflex/volumes";

/**
 * Volumes through the real dynamic-provider host: the emulator keeps the mappings, and (as the array's
 * NVMe target would) each mapping to our host shows up as a namespace on the simulated host with the
 * volume's NGUID. Devices are matched by NGUID only.
 */

const SYSTEM = "5fd1a0c900000001";
const VOL1 = "3bd1f78800000001";
const VOL2 = "3bd1f78800000002";

type Out = Record<string, any>;
const outputs = (w: World): Out => [...w.stack.resources.values()][0].outputs as Out;
const mappings = (w: World, volumeId: string) => (w.emulator.state.volumes.get(volumeId)!["mappedSdcInfo"] as Record<string, unknown>[]);
const heads = (w: World) => fs.readdirSync(path.join(w.sim.settings.sysfsRoot, "block")).filter((n) => /^nvme\d+n\d+$/.test(n)).sort();
const nguidOf = (w: World, head: string) => fs.readFileSync(path.join(w.sim.settings.sysfsRoot, "block", head, "nguid"), "utf8").trim().replace(/-/g, "");

describe("volumes (provider over gRPC, emulator mappings -> simulated namespaces)", function () {
  this.timeout(60_000);
  let w: World;
  let args: Record<string, unknown>;
  afterEach(() => w.close());

  describe("on PowerFlex 5.0", () => {
    beforeEach(async () => {
      w = await startWorld();
      args = { protectionDomain: "pd1", host: { register: true }, hostAccess: w.hostAccess, volumes: [{ volume: "vol1" }, { volume: "vol2", accessMode: "ReadOnly" }] };
    });

    it("maps both, outputs devices found by NGUID; unmaps one while the other stays; destroy leaves nothing", async () => {
      await w.stack.up({ a: args });
      const out = outputs(w);
      assert.deepEqual(
        out.devices.map((d: any) => [d.volumeName, d.devicePath, d.origin]),
        [
          ["vol1", `/dev/disk/by-id/nvme-eui.${volumeNguid(VOL1, SYSTEM)}`, "created"],
          ["vol2", `/dev/disk/by-id/nvme-eui.${volumeNguid(VOL2, SYSTEM)}`, "created"],
        ],
      );
      for (const d of out.devices) assert.equal(nguidOf(w, d.kernelName), d.devicePath.split("nvme-eui.")[1], "the kernel name really carries that NGUID");
      const m1 = mappings(w, VOL1);
      assert.deepEqual(m1.map((m) => [m.sdcId, m.hostType, m.nqn, m.accessMode]), [[out.hostObjectId, "NVMeHost", out.hostNqn, "ReadWrite"]]);
      assert.equal(mappings(w, VOL2)[0].accessMode, "ReadOnly");
      assert.deepEqual(await w.stack.preview({ a: args }), [{ name: "a", op: "same" }]);

      const calls = w.sim.calls().length;
      const deletes = w.sim.deletes().length;
      await w.stack.up({ a: { ...args, volumes: [{ volume: "vol1" }] } });
      assert.deepEqual(mappings(w, VOL2), []);
      assert.deepEqual(outputs(w).devices.map((d: any) => d.volumeName), ["vol1"]);
      assert.equal(heads(w).length, 1);
      assert.deepEqual(w.sim.calls().slice(calls).filter((c) => c[0] === "connect"), [], "paths untouched");
      assert.equal(w.sim.deletes().length, deletes, "paths untouched");

      await w.stack.destroy();
      assert.deepEqual(mappings(w, VOL1), []);
      assert.deepEqual(heads(w), []);
      assert.deepEqual(w.sim.controllers(), []);
      assert.ok(!w.emulator.state.hosts.has(out.hostObjectId), "host object removed: we registered it and nothing is mapped");
    });

    it("refuses to unmap a mounted volume without force; force does", async () => {
      await w.stack.up({ a: args });
      const vol2 = outputs(w).devices.find((d: any) => d.volumeName === "vol2");
      w.sim.mount(vol2.kernelName, "/srv/data");
      await assert.rejects(w.stack.up({ a: { ...args, volumes: [{ volume: "vol1" }] } }), (err: unknown) => {
        assert.ok(err instanceof ProviderCallError);
        assert.match(err.details, new RegExp(`refusing to unmap: volume vol2 \\(/dev/${vol2.kernelName}\\) is mounted on /srv/data.*force: true.*Nothing was changed`, "s"));
        return true;
      });
      assert.equal(mappings(w, VOL2).length, 1, "still mapped");
      await assert.rejects(w.stack.destroy(), /refusing to unmap/);
      assert.equal(mappings(w, VOL2).length, 1);
      await w.stack.up({ a: { ...args, volumes: [{ volume: "vol1" }], force: true } });
      assert.deepEqual(mappings(w, VOL2), []);
      await w.stack.destroy();
    });

    it("adopts a mapping that was there before and never removes it", async () => {
      const hostnqn = fs.readFileSync(path.join(w.sim.settings.etcNvmeDir, "hostnqn"), "utf8").trim();
      const h = w.emulator.state.addHost({ nqn: hostnqn, name: "ops-registered" });
      w.emulator.state.mapVolume(VOL1, h.id);
      await w.stack.up({ a: { ...args, volumes: [{ volume: "vol1" }] } });
      assert.deepEqual(outputs(w).devices.map((d: any) => [d.volumeName, d.origin]), [["vol1", "adopted"]]);
      assert.equal(outputs(w).hostRegistered, false);
      await w.stack.destroy();
      assert.equal(mappings(w, VOL1).length, 1, "not ours to unmap");
      assert.ok(w.emulator.state.hosts.has(h.id), "not ours to remove");
    });

    it("a mapping removed behind our back is drift: refresh drops it, preview shows it, up maps it again", async () => {
      await w.stack.up({ a: args });
      const hostId = outputs(w).hostObjectId;
      w.emulator.state.unmapVolume(VOL2, hostId);
      await w.stack.refresh();
      assert.deepEqual(outputs(w).devices.map((d: any) => d.volumeName), ["vol1"]);
      assert.deepEqual(await w.stack.preview({ a: args }), [{ name: "a", op: "update" }]);
      await w.stack.up({ a: args });
      assert.deepEqual(outputs(w).devices.map((d: any) => d.volumeName), ["vol1", "vol2"]);
      assert.equal(mappings(w, VOL2).length, 1);
      await w.stack.destroy();
    });

    it("two attachments hold one mapping; it goes only with the last; --replace keeps it", async () => {
      await w.stack.up({ a: args, b: { ...args, sdts: ["sdt-2"], volumes: [{ volume: "vol1" }] } });
      const b = [...w.stack.resources.values()].find((r) => r.urn.endsWith("::b"))!.outputs as Out;
      assert.deepEqual(b.devices.map((d: any) => [d.volumeName, d.origin]), [["vol1", "adopted"]]);
      await w.stack.up({ b: { ...args, sdts: ["sdt-2"], volumes: [{ volume: "vol1" }] } }, { replace: ["b"] }); // a goes, b replaced
      assert.equal(mappings(w, VOL1).length, 1, "b still holds vol1");
      assert.deepEqual(mappings(w, VOL2), [], "only a held vol2");
      assert.equal(heads(w).length, 1);
      await w.stack.destroy();
      assert.deepEqual(mappings(w, VOL1), []);
      assert.deepEqual(w.sim.controllers(), []);
    });

    it("a new host NQN with volumes replaces delete-first: the volume moves to the new host object", async () => {
      await w.stack.up({ a: args });
      const oldHost = outputs(w).hostObjectId;
      const next = { ...args, host: { register: true, nqn: "nqn.2014-08.org.nvmexpress:uuid:5e3c1b2a-0f9d-4c8b-a7e6-d5c4b3a29180", id: "5e3c1b2a-0f9d-4c8b-a7e6-d5c4b3a29180" } };
      assert.deepEqual(await w.stack.up({ a: next }), [{ name: "a", op: "replace", replaces: ["host"] }]);
      const now = outputs(w);
      assert.notEqual(now.hostObjectId, oldHost);
      assert.deepEqual(mappings(w, VOL1).map((m) => m.sdcId), [now.hostObjectId]);
      assert.deepEqual(now.devices.map((d: any) => d.volumeName), ["vol1", "vol2"]);
      await w.stack.destroy();
      assert.deepEqual(w.sim.controllers(), []);
    });

    it("an unknown volume fails create cleanly: no mapping, no path, no host object left", async () => {
      const hosts = [...w.emulator.state.hosts.keys()].sort();
      await assert.rejects(w.stack.up({ a: { ...args, volumes: [{ volume: "vol1" }, { volume: "no-such-volume" }] } }), (err: unknown) => {
        assert.ok(err instanceof ProviderCallError);
        assert.match(err.details, /no-such-volume/);
        return true;
      });
      assert.deepEqual(mappings(w, VOL1), []);
      assert.deepEqual(w.sim.controllers(), []);
      assert.deepEqual([...w.emulator.state.hosts.keys()].sort(), hosts);
    });
  });

  it("on PowerFlex 4.5 (no systemNqn): maps first, then learns the subsystem by discovery", async () => {
    w = await startWorld({ emulator: { api: "4.5" } });
    args = { protectionDomain: "pd1", host: { register: true }, hostAccess: w.hostAccess, volumes: [{ volume: "vol1" }] };
    await w.stack.up({ a: args });
    const calls = w.sim.calls();
    const firstDiscover = calls.findIndex((c) => c[0] === "discover");
    const firstConnect = calls.findIndex((c) => c[0] === "connect");
    assert.ok(firstDiscover >= 0 && firstDiscover < firstConnect, "discover before connect");
    assert.equal(outputs(w).subsystemNqn, `nqn.1988-11.com.dell:powerflex:00:${SYSTEM}`);
    assert.equal(outputs(w).devices.length, 1);
    await w.stack.destroy();
    assert.deepEqual(w.sim.controllers(), []);
  });
});
