import type { TopologyInput } from "../../provider/tools/emulator";
import { DEFAULT_SIM_HOSTNQN } from "../../provider/tools/simhost";

export const SYS = "5fd1a0c900000001";
export const PD = "7a1e9d0000000001";
/** The NVMe host of {@link sixPorts} (maxNumSysPorts 2), with the simulated host's NQN. */
export const HOST = "c0ffee00000000a1";
export const NQN = DEFAULT_SIM_HOSTNQN;
export const SUBNQN = `nqn.1988-11.com.dell:powerflex:00:${SYS}`;
export const VOLUME = "3bd1f78800000001";

/** SDT `n` (1-9) of {@link PD}: healthy, two StorageAndHost addresses 192.0.2.1n and 198.51.100.1n; `extra` overrides. */
export function healthySdt(n: number, extra: Record<string, unknown> = {}) {
  return {
    id: `a1b2c3d40000000${n}`,
    name: `sdt-${n}`,
    protectionDomainId: PD,
    systemId: SYS,
    nvmePort: 4420,
    discoveryPort: 8009,
    sdtState: "Normal",
    mdmConnectionState: "Connected",
    membershipState: "Joined",
    maintenanceState: "NoMaintenance",
    ipList: [
      { ip: `192.0.2.1${n}`, role: "StorageAndHost" },
      { ip: `198.51.100.1${n}`, role: "StorageAndHost" },
    ],
    ...extra,
  };
}

/** 3 SDTs x 2 StorageAndHost addresses (6 ports), SDT 3 also a StorageOnly one; one host with maxNumSysPorts 2. */
export function sixPorts(): TopologyInput {
  return {
    systems: [{ id: SYS, systemNqn: SUBNQN }],
    protectionDomains: [{ id: PD, name: "pd1", systemId: SYS }],
    storagePools: [{ id: "b0c1d2e300000001", name: "pool1", protectionDomainId: PD }],
    sdts: [healthySdt(1), healthySdt(2), healthySdt(3, { ipList: [...healthySdt(3).ipList, { ip: "203.0.113.13", role: "StorageOnly" }] })],
    hosts: [{ id: HOST, name: "host-a", nqn: NQN, hostType: "NVMeHost", maxNumSysPorts: 2, maxNumPaths: 4 }],
    volumes: [{ id: VOLUME, name: "vol1", storagePoolId: "b0c1d2e300000001", mappedSdcInfo: [] }],
  };
}

