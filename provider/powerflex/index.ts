/** PowerFlex REST client (both login flows, shared tokens, retries) and NVMe/TCP path planning. */
export { PowerFlexClient, MAX_HOST_NAME_LENGTH } from "./rest/client";
export type { MapOptions } from "./rest/client";
export { GatewayOptions, AuthFlow, resolveGatewayOptions } from "./rest/options";
export type { ResolvedGatewayOptions } from "./rest/options";
export { PowerFlexError, ErrorCodes } from "./rest/errors";
export type { PowerFlexErrorKind, PowerFlexErrorInit } from "./rest/errors";
export { stderrLogger } from "./rest/logger";
export type { Logger } from "./rest/logger";
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
} from "./rest/types";
export type { NvmeHost, SdtIpRole } from "./rest/types";
