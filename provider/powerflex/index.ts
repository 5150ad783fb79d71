/** PowerFlex REST client (both login flows, shared tokens, retries) and NVMe/TCP path planning. */
export { PowerFlexClient, MAX_HOST_NAME_LENGTH } from "./client";
export type { MapOptions } from "./client";
export { GatewayOptions, AuthFlow, resolveGatewayOptions } from "./options";
export type { ResolvedGatewayOptions } from "./options";
export { PowerFlexError, ErrorCodes } from "./errors";
export type { PowerFlexErrorKind, PowerFlexErrorInit } from "./errors";
export { stderrLogger } from "./logger";
export type { Logger } from "./logger";
export {
  planPaths,
  subsystemNqnOf,
  DEFAULT_HOST_ROLES,
  DEFAULT_NVME_PORT,
  DEFAULT_DISCOVERY_PORT,
  NO_SYSTEM_NQN_REASON,
} from "./paths";
export type { PlannedPath, SkippedSdt, PlanPathsInput, PathPlan, SubsystemNqn } from "./paths";
export {
  System,
  ProtectionDomain,
  StoragePool,
  Sdt,
  SdtIp,
  Host,
  Volume,
  MappedSdcInfo,
  NvmeController,
  ErrorBody,
  ManagerLogin,
  Created,
  parseBareString,
  parseApiVersion,
} from "./types";
export type { NvmeHost, SdtIpRole } from "./types";
