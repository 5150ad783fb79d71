import { strict as assert } from "node:assert";
import { inUse, volumeNguid, waitForNamespaces, type HeldVolume } from "../../provider/powerflex/volumes";

describe("volume NGUID", () => {
  it("is the volume id, 64b94e, and the last 10 hex digits of the system id (Cinder's test vector)", () => {
    assert.equal(volumeNguid("3bd1f78800000019", "1250de83018c2d0f"), "3bd1f7880000001964b94e83018c2d0f");
    assert.equal(volumeNguid("3BD1F78800000019", "1250DE83018C2D0F"), "3bd1f7880000001964b94e83018c2d0f");
  });
  it("refuses ids it cannot be computed from", () => {
    assert.throws(() => volumeNguid("vol1", "1250de83018c2d0f"), /volume id "vol1" is not 16 hex digits/);
    assert.throws(() => volumeNguid("3bd1f78800000019", "xyz"), /system id "xyz" is not hex/);
  });
});

describe("volume messages", () => {
  const vol: HeldVolume = {
    spec: "id:3bd1f78800000019", volumeId: "3bd1f78800000019", volumeName: "db\u001b[2J\nfake", accessMode: "ReadWrite", origin: "created",
    nguid: "3bd1f7880000001964b94e83018c2d0f",
  };

  it("escape control characters in volume names (in use, namespace wait)", async () => {
    const ns = new Map([[vol.volumeId, { blockDevice: "nvme0n1", nsid: 1, mountpoints: ["/mnt/\u001b[31m"], holders: [], swaps: [], exclusive: "unknown" as const }]]);
    const [used] = inUse([vol], ns);
    assert.equal(used, "volume db\\x1b[2J\\nfake (/dev/nvme0n1) is mounted on /mnt/\\x1b[31m");
    await assert.rejects(waitForNamespaces(async () => [], "nqn.x", [vol], { present: true, timeoutMs: 0 }), (err: Error) => {
      assert.doesNotMatch(err.message, /[\u0000-\u001f]/);
      assert.match(err.message, /db\\x1b\[2J\\nfake/);
      return true;
    });
  });
});
