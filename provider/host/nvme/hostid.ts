import * as path from "node:path";
import type { HostAccess, HostSettings } from "../access/access";

/** The host NQN and host ID this host connects as. */
export interface HostIdentity {
  readonly hostnqn: string;
  /** Lower-case UUID. */
  readonly hostid: string;
}

/** NVMF_NQN_SIZE is 223 including the terminating NUL in some kernels' checks: stay strictly below. */
const NQN_MAX_BYTES = 223;
const NQN = /^nqn\.\d{4}-(0[1-9]|1[0-2])\.[A-Za-z0-9][A-Za-z0-9.-]*(:.+)?$/;
const UUID_NQN = /^nqn\.2014-08\.org\.nvmexpress:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Check an NQN (`nqn.yyyy-mm.reverse-domain[:anything]`, or the `nqn.2014-08.org.nvmexpress:uuid:<uuid>`
 * form), under 223 bytes, no whitespace or comma (the kernel option string is comma separated).
 * Returns it unchanged; throws naming `field`.
 */
export function validateNqn(value: string, field: string): string {
  if (typeof value !== "string" || value === "") throw new Error(`${field} is empty; expected an NQN like nqn.2014-08.org.nvmexpress:uuid:<uuid>`);
  if (/[\s,]/.test(value)) throw new Error(`${field} "${value}" contains whitespace or a comma, which an NQN may not`);
  if (Buffer.byteLength(value, "utf8") >= NQN_MAX_BYTES) {
    throw new Error(`${field} is ${Buffer.byteLength(value, "utf8")} bytes; the kernel accepts NQNs shorter than ${NQN_MAX_BYTES} bytes`);
  }
  if (!UUID_NQN.test(value) && !NQN.test(value)) {
    throw new Error(`${field} "${value}" is not an NQN: expected nqn.yyyy-mm.<reverse domain>:<name> (NVMe base spec 4.5)`);
  }
  return value;
}

/** Check a host ID (a UUID, any case) and return it lower-cased; throws naming `field`. */
export function validateHostId(value: string, field: string): string {
  const v = typeof value === "string" ? value.trim().toLowerCase() : "";
  if (!UUID.test(v)) throw new Error(`${field} "${String(value)}" is not a UUID (expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)`);
  return v;
}

/**
 * The identity to connect as: explicit inputs first, else `<etcNvmeDir>/hostnqn` and `<etcNvmeDir>/hostid`.
 * Never invents one: a random identity would change on the next run and orphan every controller we made.
 */
export async function readHostIdentity(
  host: HostAccess,
  settings: HostSettings,
  override: { readonly nqn?: string; readonly id?: string } = {},
): Promise<HostIdentity> {
  const nqnFile = path.posix.join(settings.etcNvmeDir, "hostnqn");
  const idFile = path.posix.join(settings.etcNvmeDir, "hostid");
  let hostnqn = override.nqn;
  let nqnSource = "input hostNqn";
  if (hostnqn === undefined || hostnqn === "") {
    hostnqn = (await host.readFile(nqnFile))?.trim();
    nqnSource = nqnFile;
    if (!hostnqn) {
      throw new Error(
        `no host NQN on ${host.description}: ${nqnFile} is missing or empty and no hostNqn input was given. ` +
          `Create it once with \`nvme gen-hostnqn > ${nqnFile}\` (or set the hostNqn input).`,
      );
    }
  }
  let hostid = override.id;
  let idSource = "input hostId";
  if (hostid === undefined || hostid === "") {
    hostid = (await host.readFile(idFile))?.trim();
    idSource = idFile;
    if (!hostid) {
      throw new Error(
        `no host ID on ${host.description}: ${idFile} is missing or empty and no hostId input was given. ` +
          `Create it once with \`uuidgen > ${idFile}\` (or set the hostId input).`,
      );
    }
  }
  return { hostnqn: validateNqn(hostnqn, nqnSource), hostid: validateHostId(hostid, idSource) };
}
