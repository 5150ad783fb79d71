/**
 * The host engine on the real kernel, reached over SSH: a real sshd on loopback inside the VM, the
 * engine behind SshHost (nvme-cli, sysfs, ledger and flock all over SSH), real nvmet targets. A
 * foreign controller (another array) is connected first and must survive.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { NvmeEngine } from "../../provider/host/engine";
import { hostSettings } from "../../provider/host/access/access";
import { SshHost } from "../../provider/host/access/ssh/ssh-host";
import { startSshd, type Sshd } from "../support/sshd";
import { resetKernel } from "./hooks";
import { connectOk, controller, controllers, keepsOthers, machineHostIdentity, NVME } from "./host";
import { addNamespace, addPort, createSubsystem, linkSubsystem, NVME_TCP_PORT, SDT1 } from "./targets";

const POWERFLEX_NQN = "nqn.1988-11.com.dell:powerflex:00:55a0cafe";
const PURE_NQN = "nqn.2010-06.com.purestorage:flasharray.55a0c0ffee";
const PURE_ADDR = "127.0.0.10";

describe("engine over SSH on the real kernel", function () {
  // Under TCG (no KVM) every ssh round trip costs seconds: crypto and process starts are emulated.
  this.timeout(480_000);
  const me = machineHostIdentity();
  let sshd: Sshd;
  let access: SshHost;
  let stateDir: string;

  before(async () => {
    createSubsystem(POWERFLEX_NQN, { allowAnyHost: true });
    addNamespace(POWERFLEX_NQN, 1, { sizeMiB: 16, memoryBacked: true });
    createSubsystem(PURE_NQN, { allowAnyHost: true });
    addNamespace(PURE_NQN, 1, { sizeMiB: 16, memoryBacked: true });
    addPort(1, SDT1, NVME_TCP_PORT);
    linkSubsystem(1, POWERFLEX_NQN);
    addPort(4, PURE_ADDR, NVME_TCP_PORT);
    linkSubsystem(4, PURE_NQN);
    connectOk({ traddr: PURE_ADDR, trsvcid: NVME_TCP_PORT, nqn: PURE_NQN, host: me });
    sshd = await startSshd();
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "kt-ssh-state-"));
    access = new SshHost({ host: "127.0.0.1", port: sshd.port, user: sshd.user, hostKey: sshd.hostFingerprint, agent: false, sudo: false }, { privateKey: sshd.privateKey }, { connectTimeoutS: 60, idleS: 600, fileTimeoutMs: 240_000 });
  });
  after(async () => {
    await access?.close();
    await sshd?.stop();
    await resetKernel();
  });

  it("attach and release a path; only ours goes, the ledger is on the host", () =>
    keepsOthers(async () => {
      const engine = NvmeEngine.on(access, hostSettings({ nvmeCli: NVME, stateDir }));
      const ids = [SDT1].map((traddr) => ({ transport: "tcp" as const, traddr, trsvcid: NVME_TCP_PORT, subsysnqn: POWERFLEX_NQN, hostnqn: me.hostnqn, hostid: me.hostid }));
      const attached = await engine.attach("owner-ssh", ids);
      assert.deepEqual(attached.paths.map((p) => p.origin), ["created"]);
      const devices = attached.paths.map((p) => p.device);
      for (const d of devices) assert.equal(controller(d)?.subsysnqn, POWERFLEX_NQN);
      const ledger = JSON.parse(fs.readFileSync(path.join(stateDir, "ledger.json"), "utf8"));
      assert.equal(Object.keys(ledger.paths).length, 1);
      const released = await engine.release("owner-ssh", ids);
      assert.deepEqual(released.disconnected.map((d) => d.device).sort(), [...devices].sort());
      assert.ok(controllers().every((c) => c.subsysnqn !== POWERFLEX_NQN));
      return devices;
    }));
});
