/**
 * An emulated, stateful PowerFlex gateway (REST) for tests, demos and users' own CI: both login flows,
 * token expiry, the real error bodies and codes, NVMe hosts, SDTs, volumes and mappings, plus fault
 * injection and request counts.
 */
export { startEmulator } from "./server";
export type { Emulator, EmulatorOptions } from "./server";
export type { FaultSpec } from "./faults";
export type { ApiProfile } from "./gateway";
export { EmulatorState, newId, systemNqnOf } from "./state";
export type { AddSdtArgs, AddHostArgs, AddVolumeArgs, MapArgs, MappingEvent, Obj, UpdateHostArgs } from "./state";
export { GatewayError } from "./errors";
export { Topology, parseTopology, defaultTopology, DEFAULT_SYSTEM_ID } from "./topology";
export type { TopologyInput } from "./topology";
export { DEFAULT_MAX_NUM_SYS_PORTS, choosePorts, maxSysPortsOf, portKey, replan, sysPortsOf } from "./balancer";
export type { BalancedHost, BalancerPlan, HostDomainPlan, SysPort } from "./balancer";
export type { InitiatorConnection } from "./initiators";
export { controllersOfHost, discoveryLog } from "./nvme";
export type { DiscoveryAnswer, DiscoveryEntry } from "./nvme";
