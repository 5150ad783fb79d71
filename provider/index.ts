export { canonicalIp, identityKey, describePath } from "./nvme/identity";
export type { PathIdentity } from "./nvme/identity";
