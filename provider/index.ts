/** pulumi-powerflex-nvme: the PowerFlexNvmeAttachment resource and the path identity helpers. */
export { PowerFlexNvmeAttachment } from "./resource";
export type {
  PowerFlexNvmeAttachmentArgs,
  GatewayArgs,
  HostArgs,
  ConnectArgs,
  HostAccessArgs,
  SshArgs,
  AddressArgs,
  AttachmentPath,
  AttachmentDevice,
  VolumeArgs,
} from "./resource";
export { canonicalIp, identityKey, describePath } from "./nvme/identity";
export type { PathIdentity } from "./nvme/identity";
