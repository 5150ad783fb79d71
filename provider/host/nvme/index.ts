/**
 * `pulumi-powerflex-nvme/nvme`: the host side of NVMe/TCP — nvme-cli adapter, output parsers, failure
 * classes, sysfs reader and host identity.
 */
export { parseSysfsAddress } from "./address";
export { parseListSubsys } from "./list-subsys";
export type { ListSubsysHost, ListSubsysSubsystem, ListSubsysPath } from "./list-subsys";
export { parseDiscover, subsystemRecords } from "./discover";
export type { DiscoveryLog, DiscoveryRecord } from "./discover";
export { parseConnectOutput } from "./connect-output";
export type { ConnectOutput } from "./connect-output";
export { parseNvmeVersion, versionAtLeast } from "./version";
export type { NvmeVersion } from "./version";
export { classifyNvmeFailure } from "./failure";
export type { NvmeFailureClass, NvmeFailureClassification, ClassifyInput } from "./failure";
export { NvmeOutputError } from "./output-error";
export { NvmeCli, NvmeCommandError } from "./cli";
export type { ConnectResult, NvmeFailure, NvmeCliTuning } from "./cli";
export { deleteControllerObject, objectAttributes } from "./delete";
export { connectOptionsMarkdown, connectOptionsSchema, validateConnectOptions } from "./connect-options";
export type { ConnectInputs, ConnectOptions } from "./connect-options";
export { CONNECT_OPTIONS } from "./connect-table";
export { readControllers, readController, findControllers } from "./sysfs";
export type { ReadControllersOptions } from "./sysfs";
export { parseMounts } from "./mounts";
export type { MountEntry } from "./mounts";
export { readHostIdentity, hostIdForNqn, HOSTID_NAMESPACE, validateNqn, validateHostId } from "./hostid";
export type { HostIdentity, HostIdentityOverride } from "./hostid";
export { canonicalIp, isIp, identityKey, isPath, describePath, InvalidAddressError } from "./identity";
export type { PathIdentity } from "./identity";
export type { FabricsController, NamespaceUse, ControllerState } from "./controller";
export { LocalHost, LockTimeoutError } from "../access/local";
export { SshHost } from "../access/ssh/ssh-host";
export type { SshTuning } from "../access/ssh/ssh-host";
export { SshError } from "../access/ssh/errors";
export type { SshFailureKind } from "../access/ssh/errors";
export type { SshTarget, SshCredentials } from "../access/ssh/target";
export { hostAccessFor } from "../access/for-settings";
export { OldKernelError, hostAttributesOf, readHostAttributes, type HostAttributes } from "./kernel-support";
