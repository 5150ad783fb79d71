/**
 * Mocha root hooks for the real-kernel suite (loaded through test/kernel/.mocharc.json "require").
 * - Refuses to run outside the test VM: these tests create and delete NVMe controllers and targets.
 * - Starts and ends the run with a clean kernel: no fabrics controllers, no nvmet targets, no
 *   helper processes. A test file that sets up targets calls `resetKernel` in its own `after`, so
 *   the next file starts clean too.
 */
import { disconnectAllForCleanup } from "./host";
import { stopAllServices } from "./services";
import { teardownTargets } from "./targets";

/** Stops helper processes, deletes every fabrics controller, removes every nvmet target. */
export async function resetKernel(): Promise<void> {
  await stopAllServices();
  await disconnectAllForCleanup();
  teardownTargets();
}

export const mochaHooks = {
  async beforeAll(this: Mocha.Context): Promise<void> {
    if (process.env.KERNEL_TEST_VM !== "1") {
      throw new Error("the real-kernel tests run only inside their VM: use `npm run test:kernel` (as root)");
    }
    this.timeout(60_000);
    await resetKernel();
  },
  async afterAll(this: Mocha.Context): Promise<void> {
    this.timeout(60_000);
    await resetKernel();
  },
};
