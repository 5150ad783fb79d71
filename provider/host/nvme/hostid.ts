import { createHash } from "node:crypto";
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
 * Namespace of {@link hostIdForNqn}'s name-based host IDs (fixed forever: changing it would change every
 * derived host ID and so every identity recorded with one).
 */
export const HOSTID_NAMESPACE = "8d3e5b0c-6f1a-4c2e-9b7d-2a4f6c8e0d13";

/** RFC 9562 UUID version 5 (SHA-1) of `name`'s UTF-8 bytes in `namespace`. */
export function uuidV5(name: string, namespace: string): string {
  const hash = createHash("sha1").update(Buffer.from(namespace.replace(/-/g, ""), "hex")).update(name, "utf8").digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const h = hash.subarray(0, 16).toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * The host ID that goes with a host NQN other than the host's own: the kernel keeps one host ID per host
 * NQN and one host NQN per host ID, so pairing a second NQN with /etc/nvme/hostid fails (EINVAL, "found
 * same hostid … but different hostnqn"). Deterministic, so every run and every attachment agrees: the
 * UUID of a `nqn.2014-08.org.nvmexpress:uuid:<uuid>` NQN, else UUID v5 of the NQN in {@link HOSTID_NAMESPACE}.
 */
export function hostIdForNqn(hostnqn: string): string {
  const uuid = UUID_NQN.test(hostnqn) ? hostnqn.slice(hostnqn.lastIndexOf(":") + 1).toLowerCase() : undefined;
  return uuid ?? uuidV5(hostnqn, HOSTID_NAMESPACE);
}

/** Inputs of {@link readHostIdentity}. */
export interface HostIdentityOverride {
  readonly nqn?: string;
  readonly id?: string;
  /**
   * The identity an existing attachment connected as: without an `id` input, its host ID stays with its
   * host NQN (a state made before host IDs were derived keeps its own, so no replace comes of it).
   */
  readonly recorded?: HostIdentity;
  /**
   * Identities attachments on this host hold paths as (the ledger's): the kernel accepts a host NQN only
   * with the host ID it is connected with, so a new attachment under the same NQN takes that one.
   */
  readonly connected?: readonly HostIdentity[];
}

/**
 * The identity to connect as. Host NQN: the input, else `<etcNvmeDir>/hostnqn`. Host ID: the input; else
 * the recorded one for the same NQN; else the one attachments on this host are connected with under that
 * NQN; else `<etcNvmeDir>/hostid` for the host's own NQN, and {@link hostIdForNqn} for any other. Never random: a random identity would change on the next run and
 * orphan every controller we made.
 */
export async function readHostIdentity(host: HostAccess, settings: HostSettings, override: HostIdentityOverride = {}): Promise<HostIdentity> {
  const nqnFile = path.posix.join(settings.etcNvmeDir, "hostnqn");
  const idFile = path.posix.join(settings.etcNvmeDir, "hostid");
  const etcNqn = async () => (await host.readFile(nqnFile))?.trim();
  let hostnqn = override.nqn;
  let nqnSource = "input hostNqn";
  let ownNqn = false;
  if (hostnqn === undefined || hostnqn === "") {
    hostnqn = await etcNqn();
    nqnSource = nqnFile;
    ownNqn = true;
    if (!hostnqn) {
      throw new Error(
        `no host NQN on ${host.description}: ${nqnFile} is missing or empty and no hostNqn input was given. ` +
          `Create it once with \`nvme gen-hostnqn > ${nqnFile}\` (or set the hostNqn input).`,
      );
    }
  }
  hostnqn = validateNqn(hostnqn, nqnSource);
  if (override.id !== undefined && override.id !== "") return { hostnqn, hostid: validateHostId(override.id, "input hostId") };
  if (override.recorded?.hostnqn === hostnqn) return { hostnqn, hostid: validateHostId(override.recorded.hostid, "recorded hostId") };
  const held = override.connected?.find((c) => c.hostnqn === hostnqn);
  if (held) return { hostnqn, hostid: validateHostId(held.hostid, "hostId in the ledger") };
  if (!ownNqn && (await etcNqn()) !== hostnqn) return { hostnqn, hostid: hostIdForNqn(hostnqn) };
  const hostid = (await host.readFile(idFile))?.trim();
  if (!hostid) {
    throw new Error(
      `no host ID on ${host.description}: ${idFile} is missing or empty and no hostId input was given. ` +
        `Create it once with \`uuidgen > ${idFile}\` (or set the hostId input).`,
    );
  }
  return { hostnqn, hostid: validateHostId(hostid, idFile) };
}
