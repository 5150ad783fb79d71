/** pulumi-powerflex-nvme: the PowerFlexNvmeAttachment resource and the path identity helpers. */
export { PowerFlexNvmeAttachment } from "./pulumi/resource";
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
} from "./pulumi/resource";
export { canonicalIp, identityKey, describePath } from "./host/nvme/identity";
export type { PathIdentity } from "./host/nvme/identity";
