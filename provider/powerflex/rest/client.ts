import { createHash } from "node:crypto";
import type { z } from "zod";
import { login, logout as endSession, type Session } from "./auth";
import { ErrorCodes, PowerFlexError, errorFromResponse } from "./errors";
import { stderrLogger, type Logger } from "./logger";
import { resolveGatewayOptions, type GatewayOptions, type ResolvedGatewayOptions } from "./options";
import { Transport, pathOnly, type RawResponse } from "./transport";
import { parseVolumeRef } from "../volume-ref";
import { loginSecrets } from "./scrub";
import {
  Created,
  Host,
  NvmeController,
  ProtectionDomain,
  Sdt,
  StoragePool,
  System,
  Volume,
  parseApiVersion,
  parseBareString,
  type NvmeHost,
} from "./types";

/** Longest NVMe host name PowerFlex accepts. */
export const MAX_HOST_NAME_LENGTH = 31;

/** Options of {@link PowerFlexClient.mapVolumeToHost}. */
export interface MapOptions {
  /** "ReadWrite" (gateway default) | "ReadOnly" | "NoAccess". */
  accessMode?: "ReadWrite" | "ReadOnly" | "NoAccess";
  /** Allow the volume to stay mapped to other hosts too (multi-attach, migration). */
  allowMultipleMappings?: boolean;
}

const shared = new Map<string, PowerFlexClient>();

/**
 * A PowerFlex REST client. One per endpoint + user + settings in a process ({@link PowerFlexClient.shared}),
 * so that the many resources a Pulumi provider process serves in parallel share one login: concurrent
 * first calls wait on one in-flight login, and a 401 causes exactly one re-login (and one retry of the
 * request), never a loop.
 */
export class PowerFlexClient {
  private readonly options: ResolvedGatewayOptions;
  private readonly transport: Transport;
  private session: Promise<Session> | undefined;
  private generation = 0;
  private sharedKey: string | undefined;

  /** An unshared client (tests, or callers that want their own login). Prefer {@link shared}. */
  constructor(options: GatewayOptions, private readonly logger: Logger = stderrLogger) {
    this.options = resolveGatewayOptions(options);
    if (this.options.insecure && this.options.origin.startsWith("https:")) {
      logger.warn(
        `TLS verification is off for ${this.options.origin} (insecure: true): anyone on the network path can read ` +
          `the PowerFlex credentials. Give the gateway's CA as caCert instead.`,
      );
    }
    this.transport = new Transport(this.options);
  }

  /**
   * The process-wide client for these options (same endpoint origin, user and settings -> same client,
   * same token). The logger of the first caller is kept.
   */
  static shared(options: GatewayOptions, logger?: Logger): PowerFlexClient {
    const o = resolveGatewayOptions(options);
    // Key on a digest: the map must not hold the password in clear as a key.
    const key = createHash("sha256").update(JSON.stringify(o)).digest("hex");
    let client = shared.get(key);
    if (!client) {
      client = new PowerFlexClient(options, logger);
      client.sharedKey = key;
      shared.set(key, client);
    }
    return client;
  }

  /** Gateway origin this client talks to. */
  get endpoint(): string {
    return this.options.origin;
  }

  /** `GET /api/version`, e.g. "4.5". */
  async version(): Promise<string> {
    const res = await this.call("GET", "/api/version");
    const v = parseApiVersion(res.text);
    if (!v) throw this.protocolError("GET", "/api/version", "a version string such as \"4.5\"");
    return v.text;
  }

  /** All systems (normally one). */
  async listSystems(): Promise<System[]> {
    return this.getJson("/api/types/System/instances", System.array());
  }

  /**
   * One system: by id, or — id omitted — the only system of the gateway (a clear error listing the ids
   * when there are several).
   */
  async getSystem(id?: string): Promise<System> {
    if (id !== undefined) return this.getJson(`/api/instances/System::${enc(id)}`, System);
    const systems = await this.listSystems();
    if (systems.length === 1) return systems[0]!;
    throw new PowerFlexError({
      kind: systems.length === 0 ? "notFound" : "usage",
      method: "GET",
      path: "/api/types/System/instances",
      message:
        systems.length === 0
          ? `PowerFlex gateway ${this.endpoint} reports no system.`
          : `PowerFlex gateway ${this.endpoint} manages ${systems.length} systems (${systems.map((s) => s.id).join(", ")}): say which with the system id.`,
    });
  }

  /** Protection domains of one system, or of the gateway. */
  async listProtectionDomains(systemId?: string): Promise<ProtectionDomain[]> {
    const path =
      systemId === undefined
        ? "/api/types/ProtectionDomain/instances"
        : `/api/instances/System::${enc(systemId)}/relationships/ProtectionDomain`;
    return this.getJson(path, ProtectionDomain.array());
  }

  /**
   * A protection domain by id or by name (ids win). Not found: a `notFound` error that lists the known
   * names; a name shared by domains of several systems: ask for the system id.
   */
  async getProtectionDomain(nameOrId: string, systemId?: string): Promise<ProtectionDomain> {
    const all = await this.listProtectionDomains(systemId);
    const byId = all.find((pd) => pd.id === nameOrId);
    if (byId) return byId;
    const byName = all.filter((pd) => pd.name === nameOrId);
    if (byName.length === 1) return byName[0]!;
    const path =
      systemId === undefined ? "/api/types/ProtectionDomain/instances" : `/api/instances/System::${systemId}/relationships/ProtectionDomain`;
    if (byName.length > 1) {
      throw new PowerFlexError({
        kind: "usage",
        method: "GET",
        path,
        message: `Protection domain name "${nameOrId}" is used in several systems (${byName.map((p) => `${p.id} in ${p.systemId ?? "?"}`).join(", ")}): give the system id or the protection domain id.`,
      });
    }
    const known = all.map((pd) => `"${pd.name ?? ""}" (${pd.id})`).join(", ") || "none";
    throw new PowerFlexError({
      kind: "notFound",
      method: "GET",
      path,
      errorCode: ErrorCodes.protectionDomainNotFound,
      message: `Unknown protection domain "${nameOrId}" on ${this.endpoint}${systemId ? ` system ${systemId}` : ""}. Known protection domains: ${known}.`,
    });
  }

  /** Storage pools (of one protection domain, or all). */
  async listStoragePools(protectionDomainId?: string): Promise<StoragePool[]> {
    const path =
      protectionDomainId === undefined
        ? "/api/types/StoragePool/instances"
        : `/api/instances/ProtectionDomain::${enc(protectionDomainId)}/relationships/StoragePool`;
    return this.getJson(path, StoragePool.array());
  }

  /** The SDTs (NVMe/TCP targets) of a protection domain. */
  async listSdts(protectionDomainId: string): Promise<Sdt[]> {
    return this.nvmeOnly(this.getJson(`/api/instances/ProtectionDomain::${enc(protectionDomainId)}/relationships/Sdt`, Sdt.array()));
  }

  /** All NVMe hosts (`hostType == "NVMeHost"`) of the gateway. */
  async listNvmeHosts(): Promise<NvmeHost[]> {
    const hosts = await this.nvmeOnly(this.getJson("/api/types/Host/instances", Host.array()));
    return hosts.filter((h): h is NvmeHost => h.hostType === "NVMeHost" && typeof h.nqn === "string");
  }

  /** The NVMe host with this NQN (compared case-insensitively, as Cinder does), or undefined. */
  async findNvmeHostByNqn(nqn: string): Promise<NvmeHost | undefined> {
    const want = nqn.trim().toLowerCase();
    return (await this.listNvmeHosts()).find((h) => h.nqn.toLowerCase() === want);
  }

  /** The NVMe controllers PowerFlex sees for a host: one per connection to a system port, `isAssigned` when its plan holds that port. */
  async listNvmeControllersOfHost(hostId: string): Promise<NvmeController[]> {
    return this.nvmeOnly(this.getJson(`/api/instances/Host::${enc(hostId)}/relationships/NvmeController`, NvmeController.array()));
  }

  /**
   * Register an NVMe host (`POST /api/types/Host/instances`). Not retried: on a timeout, look the host up
   * by NQN before trying again.
   */
  async createNvmeHost(args: { nqn: string; name?: string }): Promise<{ id: string }> {
    const nqn = args.nqn.trim();
    if (!/^nqn\.\d{4}-\d{2}\.[^:]+(:.+)?$/.test(nqn)) {
      throw new PowerFlexError({ kind: "usage", message: `createNvmeHost: nqn "${nqn}" is not an NVMe qualified name (nqn.yyyy-mm.reverse-domain:...).` });
    }
    if (args.name !== undefined && (args.name.length === 0 || args.name.length > MAX_HOST_NAME_LENGTH)) {
      throw new PowerFlexError({
        kind: "usage",
        message: `createNvmeHost: name "${args.name}" must be 1 to ${MAX_HOST_NAME_LENGTH} characters (PowerFlex limit).`,
      });
    }
    const body = { nqn, ...(args.name !== undefined ? { name: args.name } : {}) };
    const res = await this.nvmeOnly(this.call("POST", "/api/types/Host/instances", body));
    return this.parse("POST", "/api/types/Host/instances", res, Created).then((c) => ({ id: c.id }));
  }

  /** Remove a host (`POST /api/instances/Sdc::{id}/action/removeSdc`); refused while volumes are mapped. */
  async removeHost(id: string): Promise<void> {
    await this.call("POST", `/api/instances/Sdc::${enc(id)}/action/removeSdc`, {});
  }

  /** Volumes mapped to a host. */
  async listVolumesOfHost(hostId: string): Promise<Volume[]> {
    return this.getJson(`/api/instances/Sdc::${enc(hostId)}/relationships/Volume`, Volume.array());
  }

  /**
   * A volume by reference (see {@link parseVolumeRef}): `id:<id>`, `name:<name>`, or a bare name or id. A
   * bare value that is one volume's id and another volume's name is refused, naming both. `notFound` when
   * nothing matches.
   */
  async getVolume(ref: string): Promise<Volume> {
    const parsed = parseVolumeRef(ref);
    if ("problem" in parsed) throw new PowerFlexError({ kind: "usage", message: `volume "${ref}": ${parsed.problem}.` });
    const { by, value } = parsed;
    const byId = by === "name" ? undefined : await this.volumeById(value);
    const byName = by === "id" ? undefined : await this.volumeByName(value);
    const [idHit, nameHit] = [byId instanceof PowerFlexError ? undefined : byId, byName instanceof PowerFlexError ? undefined : byName];
    if (idHit && nameHit && idHit.id !== nameHit.id) {
      throw new PowerFlexError({
        kind: "usage",
        message:
          `Volume "${value}" names two volumes: the id of "${idHit.name ?? idHit.id}" (${idHit.id}) and the name of ${nameHit.id}. ` +
          `Write id:${value} or name:${value} to say which.`,
      });
    }
    const hit = idHit ?? nameHit;
    if (hit) return hit;
    const miss = (byName ?? byId) as PowerFlexError;
    const as = by === "id" ? `no volume with id ${value}` : by === "name" ? `no volume named "${value}"` : "neither as id nor as name";
    throw new PowerFlexError({
      kind: "notFound",
      ...(miss.method !== undefined ? { method: miss.method } : {}),
      ...(miss.path !== undefined ? { path: miss.path } : {}),
      ...(miss.status !== undefined ? { status: miss.status } : {}),
      ...(miss.errorCode !== undefined ? { errorCode: miss.errorCode } : {}),
      message: `Volume "${ref}" not found on ${this.endpoint} (${as}; ${answerOf(miss)}).`,
    });
  }

  /** The volume with this id, or the gateway's not-found error (other errors throw). */
  private async volumeById(id: string): Promise<Volume | PowerFlexError> {
    try {
      return await this.getJson(`/api/instances/Volume::${enc(id)}`, Volume);
    } catch (err) {
      if (isVolumeNotFound(err)) return err as PowerFlexError;
      throw err;
    }
  }

  /** The volume with this name (`queryIdByKey`), or the gateway's not-found error (other errors throw). */
  private async volumeByName(name: string): Promise<Volume | PowerFlexError> {
    const path = "/api/types/Volume/instances/action/queryIdByKey";
    let res: RawResponse;
    try {
      res = await this.call("POST", path, { name });
    } catch (err) {
      if (isVolumeNotFound(err)) return err as PowerFlexError;
      throw err;
    }
    const id = parseBareString(res.text);
    if (!id) throw this.protocolError("POST", path, "a volume id");
    return this.getJson(`/api/instances/Volume::${enc(id)}`, Volume);
  }

  /**
   * Map a volume to an NVMe host (`addMappedHost`). Already mapped to this host counts as done (checked
   * after a refusal, so the happy path is one request).
   */
  async mapVolumeToHost(volumeId: string, hostId: string, opts: MapOptions = {}): Promise<void> {
    const body: Record<string, string> = { hostId };
    if (opts.accessMode !== undefined) body["accessMode"] = opts.accessMode;
    if (opts.allowMultipleMappings !== undefined) body["allowMultipleMappings"] = String(opts.allowMultipleMappings);
    try {
      await this.call("POST", `/api/instances/Volume::${enc(volumeId)}/action/addMappedHost`, body);
    } catch (err) {
      if (err instanceof PowerFlexError && err.kind === "api") {
        const vol = await this.getJson(`/api/instances/Volume::${enc(volumeId)}`, Volume).catch(() => undefined);
        if (vol?.mappedSdcInfo.some((m) => m.sdcId === hostId)) return;
      }
      throw err;
    }
  }

  /** Unmap a volume from a host (`removeMappedHost`). "No such mapping" (4039) and "no such volume" (79) count as done. */
  async unmapVolumeFromHost(volumeId: string, hostId: string): Promise<void> {
    try {
      await this.call("POST", `/api/instances/Volume::${enc(volumeId)}/action/removeMappedHost`, { hostId });
    } catch (err) {
      if (err instanceof PowerFlexError && (err.errorCode === ErrorCodes.invalidMapping || isVolumeNotFound(err))) return;
      throw err;
    }
  }

  /** End the session (if any). The next call logs in again. */
  async logout(): Promise<void> {
    const pending = this.session;
    this.session = undefined;
    if (!pending) return;
    const s = await pending.catch(() => undefined);
    if (s) await endSession(this.transport, s).catch(() => undefined);
  }

  /** Close the connections and forget this client in the shared registry. */
  async close(): Promise<void> {
    if (this.sharedKey !== undefined && shared.get(this.sharedKey) === this) shared.delete(this.sharedKey);
    this.session = undefined;
    await this.transport.close();
  }

  // ---- plumbing ----

  /** A 404 from an NVMe-only endpoint: on a gateway before 4.0 that means "no NVMe/TCP here", said so. */
  private async nvmeOnly<T>(request: Promise<T>): Promise<T> {
    try {
      return await request;
    } catch (err) {
      if (!(err instanceof PowerFlexError) || err.status !== 404) throw err;
      const version = await this.version().catch(() => undefined);
      const major = version === undefined ? NaN : Number(version.split(".")[0]);
      if (!(major < 4)) throw err;
      throw new PowerFlexError({
        kind: "api",
        status: 404,
        ...(err.method !== undefined ? { method: err.method } : {}),
        ...(err.path !== undefined ? { path: err.path } : {}),
        message: `PowerFlex gateway ${this.endpoint} reports API ${version}, which has no NVMe/TCP (SDTs and NVMe hosts): NVMe/TCP needs PowerFlex 4.0 or later (${err.method} ${err.path} answered HTTP 404).`,
      });
    }
  }

  private currentSession(): Promise<Session> {
    return this.session ?? this.startLogin();
  }

  private startLogin(): Promise<Session> {
    const generation = ++this.generation;
    const p = login(this.transport, this.options, generation);
    this.session = p;
    // A failed login must not stick: the next call tries again.
    p.catch(() => {
      if (this.session === p) this.session = undefined;
    });
    return p;
  }

  /** After a 401 with `stale`: log in again unless another caller already did (or is doing it). */
  private renew(stale: Session): Promise<Session> {
    if (this.session && this.generation !== stale.generation) return this.session;
    return this.startLogin();
  }

  /** One authenticated request: on 401 log in again once and retry once. Error statuses throw. */
  private async call(method: "GET" | "POST", path: string, body?: unknown): Promise<RawResponse> {
    const first = await this.currentSession();
    let used = first;
    let res = await this.transport.send({ method, path, authorization: first.authorization, body });
    if (res.status === 401) {
      used = await this.renew(first);
      res = await this.transport.send({ method, path, authorization: used.authorization, body });
      if (res.status === 401) {
        throw new PowerFlexError({
          kind: "auth",
          method,
          path: pathOnly(path),
          status: 401,
          message: `PowerFlex ${method} ${pathOnly(path)} on ${this.endpoint} was refused (HTTP 401) right after a fresh login. Check that user "${this.options.username}" has the rights for this call.`,
        });
      }
    }
    if (res.status >= 400) {
      const held = [...loginSecrets(this.options.username, this.options.password), ...first.secrets, ...used.secrets];
      throw errorFromResponse(method, pathOnly(path), res.status, res.text, held);
    }
    return res;
  }

  private async getJson<S extends z.ZodType>(path: string, schema: S): Promise<z.infer<S>> {
    return this.parse("GET", path, await this.call("GET", path), schema);
  }

  private async parse<S extends z.ZodType>(method: string, path: string, res: RawResponse, schema: S): Promise<z.infer<S>> {
    let json: unknown;
    try {
      json = JSON.parse(res.text);
    } catch {
      throw this.protocolError(method, path, "JSON");
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issues = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join(".") || "(body)"}: ${i.message}`);
      throw new PowerFlexError({
        kind: "protocol",
        method,
        path: pathOnly(path),
        status: res.status,
        message: `PowerFlex ${method} ${pathOnly(path)} on ${this.endpoint} answered an unexpected shape (${issues.join("; ")}).`,
      });
    }
    return parsed.data;
  }

  private protocolError(method: string, path: string, wanted: string): PowerFlexError {
    return new PowerFlexError({
      kind: "protocol",
      method,
      path: pathOnly(path),
      message: `PowerFlex ${method} ${pathOnly(path)} on ${this.endpoint} did not answer ${wanted}.`,
    });
  }
}

/** "HTTP 500, errorCode 79": what the gateway answered, for a message that replaces its own. */
function answerOf(e: PowerFlexError): string {
  return [e.status !== undefined ? `HTTP ${e.status}` : "", e.errorCode !== undefined ? `errorCode ${e.errorCode}` : ""].filter(Boolean).join(", ");
}

function isVolumeNotFound(err: unknown): boolean {
  const codes: number[] = [ErrorCodes.volumeNotFound, ErrorCodes.oldVolumeNotFound, ErrorCodes.notFound];
  return err instanceof PowerFlexError && err.errorCode !== undefined && codes.includes(err.errorCode);
}

// Ids go into the path; keep them from changing its structure.
function enc(id: string): string {
  return encodeURIComponent(id);
}
