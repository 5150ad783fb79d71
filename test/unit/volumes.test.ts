import { strict as assert } from "node:assert";
import { volumeNguid } from "../../provider/powerflex/volumes";

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
