import * as path from "node:path/posix";
import type { HostSettings } from "../access/access";

/**
 * The host's one fixed place: `<host root>/run/pulumi-powerflex-nvme`, the host root being the directory
 * sysfs is mounted in (`/` on a real host, the simulated root of a simulated one). The host lock is always
 * here, and so is the ledger unless `hostAccess.stateDir` names another directory: then the `state-dir`
 * file here names it, and no attachment of the host may use a third one while either holds anything.
 * Without this, two state dirs were two truths: one attachment's destroy cut another's paths.
 */
export function homeOf(settings: Pick<HostSettings, "sysfsRoot">): string {
  return path.join(path.dirname(path.normalize(settings.sysfsRoot)), "run", "pulumi-powerflex-nvme");
}

/** In the home: the state dir holding the host's ledger, when it is not the home itself. */
export const POINTER_FILE = "state-dir";

/** A state dir as compared with another: normalized, no trailing slash. */
export function dirKey(dir: string): string {
  const n = path.normalize(dir);
  return n.length > 1 ? n.replace(/\/+$/, "") : n;
}
