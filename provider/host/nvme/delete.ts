import * as path from "node:path";
import { pinnedText, type DeleteOutcome, type HostAccess, type HostSettings } from "../access/access";
import type { FabricsController } from "./controller";

const DEVICE = /^nvme\d+$/;

/**
 * The attributes that make `ctrl` the kernel object it is, as {@link HostAccess.deleteController} compares
 * them: transport, address (without the volatile `src_addr`), subsystem, host NQN and ID, controller ID.
 * Attributes the kernel does not show (old kernels) are left out rather than expected empty.
 */
export function objectAttributes(ctrl: FabricsController): Record<string, string> {
  const out: Record<string, string> = {
    transport: ctrl.transport,
    address: pinnedText("address", ctrl.address),
    subsysnqn: ctrl.subsysnqn,
  };
  if (ctrl.hostnqn !== "") out.hostnqn = ctrl.hostnqn;
  if (ctrl.hostid !== "") out.hostid = ctrl.hostid;
  if (ctrl.cntlid !== undefined) out.cntlid = String(ctrl.cntlid);
  return out;
}

/**
 * Delete exactly the controller object `ctrl` (as a scan saw it) through its `delete_controller`, pinned
 * (see {@link HostAccess.deleteController}): never whatever has its name now. This is what nvme-cli's
 * `disconnect -d` writes, without its gap between reading the name and writing.
 */
export async function deleteControllerObject(
  host: HostAccess,
  settings: HostSettings,
  ctrl: FabricsController,
  options: { readonly goneTimeoutMs?: number } = {},
): Promise<DeleteOutcome> {
  if (!DEVICE.test(ctrl.device)) throw new Error(`device ${JSON.stringify(ctrl.device)} is not a controller name (nvmeN); refusing to delete it`);
  return host.deleteController(path.posix.join(settings.sysfsRoot, "class", "nvme", ctrl.device), objectAttributes(ctrl), {
    ...options,
    ...(ctrl.inode !== undefined ? { inode: ctrl.inode } : {}),
  });
}
