import * as fs from "node:fs";
import { makeConsumerProject, ProviderHost } from "../provider/tools/demo/provider-host";
import { Stack } from "../provider/tools/demo/stack";
import { startEmulator, systemNqnOf } from "../provider/tools/emulator";
import { PROVIDER_SOURCE } from "../provider/pulumi/resource";
import { resetKernel } from "../test/kernel/hooks";
import { connectOk, controllers, machineHostIdentity, nvme } from "../test/kernel/host";
import { addPort, createSubsystem, linkSubsystem, NVME_TCP_PORT, SDT1, SDT2 } from "../test/kernel/targets";
import { round, timed } from "./measure";

/**
 * P6 (`npm run bench:kernel`, inside the test VM): create + delete of an attachment with 2 real NVMe/TCP
 * paths through the real provider host, divided by what an operator's bare nvme-cli commands take for
 * the same paths (connect each, then `disconnect -d` each). Both against the VM's kernel targets.
 */

const REPEAT = 3;

async function main(json: boolean): Promise<void> {
  if (process.env.KERNEL_TEST_VM !== "1") throw new Error("P6 runs only inside the test VM: npm run bench:kernel (as root)");
  await resetKernel();
  const emulator = await startEmulator({ tls: true });
  const projectDir = makeConsumerProject();
  const host = await ProviderHost.start(projectDir);
  try {
    const system = [...emulator.state.systems.values()][0];
    const nqn = systemNqnOf(system);
    const pd = [...emulator.state.protectionDomains.values()].find((p) => p["name"] === "pd2")!;
    // pd2 holds no SDT of the built-in topology: its two SDTs are the VM's kernel targets.
    for (const [i, ip] of [SDT1, SDT2].entries()) {
      emulator.state.addSdt({ name: `kernel-sdt-${i + 1}`, protectionDomainId: pd.id, ipList: [{ ip, role: "StorageAndHost" }], nvmePort: NVME_TCP_PORT });
    }
    createSubsystem(nqn, { allowAnyHost: true });
    for (const [i, ip] of [SDT1, SDT2].entries()) {
      addPort(i + 1, ip, NVME_TCP_PORT);
      linkSubsystem(i + 1, nqn);
    }
    await host.configure({
      "powerflex:endpoint": emulator.url,
      "powerflex:username": emulator.username,
      "powerflex:password": emulator.password,
      ...(emulator.caCert ? { "powerflex:caCert": emulator.caCert } : {}),
    });
    const stack = new Stack(host, PROVIDER_SOURCE);
    // The machine's own nvme-cli, sysfs and /etc/nvme; the ledger in the VM's /run (a tmpfs).
    const program = { k: { protectionDomain: "pd2", host: { register: true } } };
    const providerRun = async () => {
      const t = await timed(async () => {
        await stack.up(program);
        const ours = controllers().filter((c) => c.subsysnqn === nqn);
        if (ours.length !== 2) throw new Error(`P6: ${ours.length} controllers after create, expected 2`);
        await stack.destroy();
      });
      if (controllers().length !== 0) throw new Error("P6: controllers left after delete");
      return t.ms;
    };
    const me = machineHostIdentity();
    const bareRun = async () => {
      const t = await timed(async () => {
        const devices = [SDT1, SDT2].map((traddr) => connectOk({ traddr, trsvcid: NVME_TCP_PORT, nqn, host: me }));
        for (const d of devices) {
          const r = nvme("disconnect", "-d", d);
          if (r.rc !== 0) throw new Error(`nvme disconnect -d ${d}: ${r.stderr}`);
        }
      });
      if (controllers().length !== 0) throw new Error("P6: controllers left after bare disconnects");
      return t.ms;
    };
    await providerRun(); // warm: module loading, login, version probe
    await bareRun();
    let provider = Infinity;
    let bare = Infinity;
    // Interleaved, best of each: the least disturbed runs of both.
    for (let r = 0; r < REPEAT; r++) {
      provider = Math.min(provider, await providerRun());
      bare = Math.min(bare, await bareRun());
    }
    const ratio = provider / bare;
    const rows = [
      ["P6 provider create+delete / bare nvme-cli, 2 real paths", String(round(ratio)), "<= 1.3", ratio <= 1.3 ? "yes" : "NO"],
      ["P6   provider create+delete (ms)", String(round(provider, 0)), "", ""],
      ["P6   nvme connect x2 + disconnect -d x2 (ms)", String(round(bare, 0)), "", ""],
    ];
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    for (const r of rows) process.stdout.write(`${r.map((x, i) => x.padEnd(widths[i])).join("  ").trimEnd()}\n`);
    if (json) process.stdout.write(`${JSON.stringify({ p6_kernel_ratio: round(ratio), p6_provider_ms: round(provider, 0), p6_bare_ms: round(bare, 0) })}\n`);
  } finally {
    await host.stop();
    await emulator.close();
    fs.rmSync(projectDir, { recursive: true, force: true });
    await resetKernel();
  }
}

main(process.argv.includes("--json")).then(
  () => undefined,
  (err: Error) => {
    process.stderr.write(`bench:kernel: ${err.stack ?? err.message}\n`);
    process.exitCode = 1;
  },
);
