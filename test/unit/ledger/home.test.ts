import { strict as assert } from "node:assert";
import { dirKey, homeOf } from "../../../provider/host/ledger/home";

describe("the host's fixed ledger place", () => {
  it("is /run/pulumi-powerflex-nvme next to the host's sysfs: the real root, or a simulated one", () => {
    assert.equal(homeOf({ sysfsRoot: "/sys" }), "/run/pulumi-powerflex-nvme");
    assert.equal(homeOf({ sysfsRoot: "/sys/" }), "/run/pulumi-powerflex-nvme");
    assert.equal(homeOf({ sysfsRoot: "/tmp/sim-1/sys" }), "/tmp/sim-1/run/pulumi-powerflex-nvme");
  });

  it("compares state dirs without trailing slashes or dot segments", () => {
    assert.equal(dirKey("/run/pulumi-powerflex-nvme/"), "/run/pulumi-powerflex-nvme");
    assert.equal(dirKey("/var/lib/../lib/pf//"), "/var/lib/pf");
    assert.equal(dirKey("/"), "/");
  });
});
