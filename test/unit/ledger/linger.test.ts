import { strict as assert } from "node:assert";
import type { HostAccess, Unlock } from "../../../provider/host/access/access";
import { lockLingering, MAX_HOLD_MS } from "../../../provider/host/ledger/linger";

/** A host whose lock only counts: taken, released, and (when told) lost. */
function countingHost(description: string) {
  const counts = { taken: 0, released: 0 };
  let lost: Error | undefined;
  const host = {
    description,
    lock: async (): Promise<Unlock> => {
      counts.taken++;
      lost = undefined;
      let done = false;
      const unlock = async () => {
        if (!done) counts.released++;
        done = true;
      };
      return Object.assign(unlock, { lost: () => lost });
    },
  } as unknown as HostAccess;
  return { host, counts, lose: () => (lost = new Error("holder ended")) };
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("the host lock between transactions (ledger/linger.ts)", () => {
  it("the next transaction right after takes the lock this process still holds; idle, it is released", async () => {
    const { host, counts } = countingHost("reuse");
    await (await lockLingering(host, "/run/x/lock", 1000))();
    await (await lockLingering(host, "/run/x/lock", 1000))(); // no timer can run between the two
    assert.deepEqual(counts, { taken: 1, released: 0 });
    await until(() => counts.released === 1, "the idle lock is released");
    await (await lockLingering(host, "/run/x/lock", 1000))();
    assert.equal(counts.taken, 2, "taken anew after it was released");
  });

  it("a lock whose holder ended is never reused: taken anew", async () => {
    const { host, counts, lose } = countingHost("lost");
    await (await lockLingering(host, "/run/x/lock", 1000))();
    lose();
    const unlock = await lockLingering(host, "/run/x/lock", 1000);
    assert.equal(counts.taken, 2);
    assert.equal(unlock.lost(), undefined);
    lose();
    await unlock(); // lost while held: released at once, not kept
    assert.equal(counts.released, 2);
  });

  it("a lock held for MAX_HOLD_MS is released and taken again, so other processes get a turn", async () => {
    const { host, counts } = countingHost("fair");
    const now = Date.now;
    try {
      let t = now();
      Date.now = () => t;
      await (await lockLingering(host, "/run/x/lock", 1000))();
      t += MAX_HOLD_MS;
      await (await lockLingering(host, "/run/x/lock", 1000))();
      assert.deepEqual(counts, { taken: 2, released: 1 });
    } finally {
      Date.now = now;
    }
    await until(() => counts.released === 2, "the idle lock is released");
  });
});
