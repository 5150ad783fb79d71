/**
 * A PowerFlex array inside the test VM: the project's gateway emulator (TLS, in this process) whose SDT
 * addresses are real nvmet-tcp ports, with the nvmet subsystem's NQN as the system NQN, and the real
 * dynamic-provider host serving the provider for the machine itself (real nvme-cli, /sys, /etc/nvme;
 * ledger under /tmp). A volume mapped to an NVMe host in the emulator becomes an nvmet namespace of the
 * subsystem with PowerFlex's NGUID, and goes again on unmap, as the array's NVMe target does.
 *
 * Discovery answers the emulator's load-balancer plan, as PowerFlex's does: each SDT address has a discovery
 * controller at its `discoveryPort` (8009) whose log refers (nvmet referrals) to the planned I/O ports
 * (address:4420); nvmet's discovery log at an I/O port lists the subsystem at that port, so a host that
 * follows the referrals reads exactly the planned ports. Referrals, not subsystem links, because nvmet's log
 * at a port lists only the subsystems linked to that port, with that port's address and service id: linking
 * the subsystem to 8009 would list `address:8009` as an I/O port. A discovery port listens once some
 * subsystem is linked (nvmet listens on the first link), so each links an anchor subsystem that allows no
 * host: it is in no host's log, and nvmet lets any host talk to its discovery controller. The I/O ports
 * serve every SDT address, planned or not, because PowerFlex accepts a connection it did not plan (and
 * marks it `isAssigned: false`). nvmet has one log per port, not per host: the referrals are the union of
 * the plans of every NVMe host (one planned host in a test gives exactly its plan).
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
import type { BalancerPlan } from "../../provider/tools/emulator/balancer";
import {
  addNamespace, addPort, addReferral, createSubsystem, DISCOVERY_PORT, linkSubsystem, NVME_TCP_PORT, referrals, removeNamespace, removeReferral, SDT2, SDT3,
  type NamespaceInfo,
} from "./targets";

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

/** Addresses of the SDTs at start (one StorageAndHost address each); their I/O ports get nvmet port ids 1, 2, … */
const DEFAULT_SDTS: readonly string[] = [SDT2, SDT3];
/** nvmet port id of an SDT address's discovery controller: this plus its I/O port's id. */
const DISCOVERY_PORT_BASE = 100;
/** Keeps the discovery ports listening; allows no host, so it is in no host's discovery log. */
export const DISCOVERY_ANCHOR_NQN = "nqn.2014-08.org.example:kt-discovery-anchor";

/** An NVMe host object an admin made before the attachment (e.g. with a port budget). */
export interface ArrayHost {
  readonly id: string;
  readonly nqn: string;
  readonly maxNumSysPorts?: number;
}

export interface KernelArrayOptions {
  /** SDT addresses at start, one SDT each (ids a1b2c3d400000011, …12, …; names sdt-1, sdt-2, …). Default 127.0.0.2, .3. */
  readonly sdts?: readonly string[];
  /** NVMe host objects in the array at start. */
  readonly hosts?: readonly ArrayHost[];
}

function topology(addresses: readonly string[], hosts: readonly ArrayHost[]): TopologyInput {
  const sdt = (id: string, name: string, ip: string) => ({
    id, name, protectionDomainId: "7a1e9d0000000011", ipList: [{ ip, role: "StorageAndHost" }], nvmePort: NVME_TCP_PORT, discoveryPort: 8009,
    sdtState: "Normal", mdmConnectionState: "Connected", membershipState: "Joined", maintenanceState: "NoMaintenance",
  });
  return {
    systems: [{ id: SYSTEM_ID, name: "vm-powerflex", systemNqn: SUBSYS_NQN }],
    protectionDomains: [{ id: "7a1e9d0000000011", name: "pd1", systemId: SYSTEM_ID, protectionDomainState: "Active" }],
    storagePools: [{ id: "b0c1d2e300000011", name: "pool1", protectionDomainId: "7a1e9d0000000011" }],
    sdts: addresses.map((ip, i) => sdt(`a1b2c3d4000000${11 + i}`, `sdt-${i + 1}`, ip)),
    hosts: hosts.map((h) => ({ id: h.id, name: `host-${h.id.slice(-4)}`, nqn: h.nqn, hostType: "NVMeHost", maxNumSysPorts: h.maxNumSysPorts ?? null, maxNumPaths: 4 })),
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
  /**
   * A new SDT: an nvmet port on `traddr`:4420 serving the subsystem and a discovery controller on
   * `traddr`:8009, then the SDT object in the emulator (whose plan is recalculated).
   */
  addSdt(name: string, traddr: string, id?: string): void;
  /** Referrals each discovery controller serves now ("traddr:trsvcid"), by SDT address. */
  discoveryReferrals(): Map<string, string[]>;
  close(): Promise<void>;
}

/** Sets up the subsystem (allowing exactly `allowedHosts`), its SDT ports and the gateway world. */
export async function startKernelArray(allowedHosts: readonly string[], opts: KernelArrayOptions = {}): Promise<KernelArray> {
  const addresses = opts.sdts ?? DEFAULT_SDTS;
  createSubsystem(SUBSYS_NQN, { allowedHosts, serial: "4d2c1b0a9e8f7061", model: "PowerFlex" });
  createSubsystem(DISCOVERY_ANCHOR_NQN, { allowedHosts: [] });
  /** nvmet I/O port id by SDT address. */
  const ioPorts = new Map<string, number>();
  const addSdtPorts = (traddr: string) => {
    const id = ioPorts.size + 1;
    addPort(id, traddr, NVME_TCP_PORT);
    linkSubsystem(id, SUBSYS_NQN);
    addPort(DISCOVERY_PORT_BASE + id, traddr, DISCOVERY_PORT);
    linkSubsystem(DISCOVERY_PORT_BASE + id, DISCOVERY_ANCHOR_NQN);
    ioPorts.set(traddr, id);
  };
  for (const addr of addresses) addSdtPorts(addr);
  // Every discovery controller refers to every planned port (the union over hosts: nvmet has one log per port).
  const referralName = (traddr: string, trsvcid: number | string) => `${traddr}-${trsvcid}`;
  const servePlan = (plan: BalancerPlan) => {
    const wanted = new Map(plan.flatMap((e) => e.ports).map((p) => [referralName(p.traddr, p.trsvcid), p]));
    for (const id of ioPorts.values()) {
      const disc = DISCOVERY_PORT_BASE + id;
      const have = new Set(referrals(disc));
      for (const name of have) if (!wanted.has(name)) removeReferral(disc, name);
      for (const [name, p] of wanted) if (!have.has(name)) addReferral(disc, name, p.traddr, p.trsvcid);
    }
  };
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "kt-pfnvme-ledger-"));
  const namespaces = new Map<number, NamespaceInfo>();
  const world = await startGatewayWorld({
    // The array sees the VM's own connections (NvmeController, a host's first connection recalculates its plan).
    emulator: { topology: topology(addresses, opts.hosts ?? []), initiatorSysfs: ["/sys"] },
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
  world.emulator.state.planListeners.push((p) => servePlan(p.hosts));
  servePlan(world.emulator.state.plan().hosts);
  return {
    world,
    stateDir,
    namespaces,
    addSdt(name, traddr, id) {
      addSdtPorts(traddr);
      world.emulator.state.addSdt({ ...(id ? { id } : {}), name, ipList: [{ ip: traddr, role: "StorageAndHost" }], nvmePort: NVME_TCP_PORT });
    },
    discoveryReferrals() {
      return new Map([...ioPorts].map(([traddr, id]) => [traddr, referrals(DISCOVERY_PORT_BASE + id).map((n) => n.replace(/-(\d+)$/, ":$1")).sort()]));
    },
    async close() {
      await world.close();
      fs.rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
