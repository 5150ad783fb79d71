/**
 * A PowerFlex array inside the test VM: the project's gateway emulator (TLS, in this process) whose SDT
 * addresses are real nvmet-tcp ports, with the nvmet subsystem's NQN as the system NQN, and the real
 * dynamic-provider host serving the provider for the machine itself (real nvme-cli, /sys, /etc/nvme;
 * ledger under /tmp). A volume mapped to an NVMe host in the emulator becomes an nvmet namespace of the
 * subsystem with PowerFlex's NGUID, and goes again on unmap, as the array's NVMe target does.
 *
 * nvmet has no per-host namespace masking (kernel 6.1: `allowed_hosts` is per subsystem), so a mapped
 * volume is visible to every host NQN the subsystem allows, not only to the one it is mapped to. The
 * subsystem allows only the host NQNs a test names (never any host).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { TopologyInput } from "../../provider/tools/emulator";
import { startGatewayWorld, type GatewayWorld } from "../../provider/tools/demo/world";
import { addNamespace, addPort, createSubsystem, linkSubsystem, NVME_TCP_PORT, removeNamespace, SDT2, SDT3, type NamespaceInfo } from "./targets";

export const SYSTEM_ID = "4d2c1b0a9e8f7061";
/** The subsystem every SDT serves; the emulator reports it as `systemNqn`. */
export const SUBSYS_NQN = `nqn.1988-11.com.dell:powerflex:00:${SYSTEM_ID}`;
export const VOL1 = "3bd1f78800000011";
export const VOL2 = "3bd1f78800000012";
/** Size of a volume's namespace (memory-backed null_blk: data written stays). */
const VOLUME_MIB = 64;
/**
 * PowerFlex namespaces carry an NGUID and no UUID (the host's `wwid` is `eui.<nguid>`, hence the
 * `/dev/disk/by-id/nvme-eui.<nguid>` links); nvmet invents a UUID unless told the null one.
 */
const NULL_UUID = "00000000-0000-0000-0000-000000000000";

/** nvmet port ids of the SDT addresses (1, 2 at start; more with {@link KernelArray.addSdt}). */
const SDT_PORTS: readonly (readonly [number, string])[] = [[1, SDT2], [2, SDT3]];

function topology(): TopologyInput {
  const sdt = (id: string, name: string, ip: string) => ({
    id, name, protectionDomainId: "7a1e9d0000000011", ipList: [{ ip, role: "StorageAndHost" }], nvmePort: NVME_TCP_PORT, discoveryPort: 8009,
    sdtState: "Normal", mdmConnectionState: "Connected", membershipState: "Joined", maintenanceState: "NoMaintenance",
  });
  return {
    systems: [{ id: SYSTEM_ID, name: "vm-powerflex", systemNqn: SUBSYS_NQN }],
    protectionDomains: [{ id: "7a1e9d0000000011", name: "pd1", systemId: SYSTEM_ID, protectionDomainState: "Active" }],
    storagePools: [{ id: "b0c1d2e300000011", name: "pool1", protectionDomainId: "7a1e9d0000000011" }],
    sdts: [sdt("a1b2c3d400000011", "sdt-1", SDT2), sdt("a1b2c3d400000012", "sdt-2", SDT3)],
    volumes: [
      { id: VOL1, name: "vol1", storagePoolId: "b0c1d2e300000011", sizeInKb: VOLUME_MIB * 1024, mappedSdcInfo: [] },
      { id: VOL2, name: "vol2", storagePoolId: "b0c1d2e300000011", sizeInKb: VOLUME_MIB * 1024, mappedSdcInfo: [] },
    ],
  };
}

export interface KernelArray {
  readonly world: GatewayWorld;
  /** Where the provider keeps its ledger (`hostAccess.stateDir`). */
  readonly stateDir: string;
  /** The subsystem's namespaces now, by nsid (with the target-side backing device). */
  readonly namespaces: Map<number, NamespaceInfo>;
  /** A new SDT: an nvmet port on `traddr`:4420 serving the subsystem, and the SDT object in the emulator. */
  addSdt(name: string, traddr: string): void;
  close(): Promise<void>;
}

/** Sets up the subsystem (allowing exactly `allowedHosts`), its SDT ports and the gateway world. */
export async function startKernelArray(allowedHosts: readonly string[]): Promise<KernelArray> {
  createSubsystem(SUBSYS_NQN, { allowedHosts, serial: "4d2c1b0a9e8f7061", model: "PowerFlex" });
  for (const [id, addr] of SDT_PORTS) {
    addPort(id, addr, NVME_TCP_PORT);
    linkSubsystem(id, SUBSYS_NQN);
  }
  let nextPort = SDT_PORTS.length + 1;
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "kt-pfnvme-ledger-"));
  const namespaces = new Map<number, NamespaceInfo>();
  const world = await startGatewayWorld({
    emulator: { topology: topology() },
    hostAccess: { stateDir },
    onNamespace: (c) => {
      if (c.subsysnqn !== SUBSYS_NQN) throw new Error(`mapping on ${c.subsysnqn}, not the VM's subsystem ${SUBSYS_NQN}`);
      if (c.kind === "map") {
        namespaces.set(c.nsid, addNamespace(SUBSYS_NQN, c.nsid, { sizeMiB: VOLUME_MIB, memoryBacked: true, nguid: c.nguid, uuid: NULL_UUID }));
      } else {
        removeNamespace(SUBSYS_NQN, c.nsid);
        namespaces.delete(c.nsid);
      }
    },
  });
  return {
    world,
    stateDir,
    namespaces,
    addSdt(name, traddr) {
      const id = nextPort++;
      addPort(id, traddr, NVME_TCP_PORT);
      linkSubsystem(id, SUBSYS_NQN);
      world.emulator.state.addSdt({ name, ipList: [{ ip: traddr, role: "StorageAndHost" }], nvmePort: NVME_TCP_PORT });
    },
    async close() {
      await world.close();
      fs.rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
