import { Codes, GatewayError, badRequest } from "./errors";
import type { InitiatorConnection } from "./initiators";
import { controllersOfHost } from "./nvme";
import { systemNqnOf, type EmulatorState, type Obj } from "./state";
import { TokenStore, basicCredentials, tokenOf } from "./tokens";

/** Gateway release the emulator behaves like. */
export type ApiProfile = "3.6" | "4.5" | "5.0";

/** One request as the gateway sees it. */
export interface GatewayRequest {
  method: string;
  /** Path without query. */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** Raw body text ("" when none). */
  body: string;
}

/** One answer. `json` is serialised; `text` is sent as it is with `contentType`. */
export interface GatewayReply {
  status: number;
  json?: unknown;
  text?: string;
  contentType?: string;
}

/** Settings of the REST behaviour. */
export interface GatewayConfig {
  profile: ApiProfile;
  username: string;
  password: string;
  tokens: TokenStore;
  state: EmulatorState;
  /** Connections of the watched initiators now (each read also notes hosts seen connected). */
  connections: () => Promise<InitiatorConnection[]>;
}

/** A routed request: the count key ("GET /api/instances/Volume::{id}") and its handler. */
export interface Route {
  key: string;
  handle(req: GatewayRequest): GatewayReply | Promise<GatewayReply>;
}

const TYPES = /^\/api\/types\/(\w+)\/instances(?:\/action\/(\w+))?$/;
const INSTANCES = /^\/api\/instances\/(\w+)::([^/]+)(?:\/(relationships|action)\/(\w+))?$/;

// What a 4.x gateway (PFMP ingress) answers on an expired token: HTML, not JSON.
const HTML_401 =
  "<html>\r\n<head><title>401 Authorization Required</title></head>\r\n<body>\r\n<center><h1>401 Authorization Required</h1></center>\r\n</body>\r\n</html>\r\n";

/** Route a request of the REST API (not the admin API). */
export function route(cfg: GatewayConfig, method: string, path: string): Route {
  const m = method.toUpperCase();
  const fixed = (key: string, handle: Route["handle"]): Route => ({ key: `${m} ${key}`, handle });
  if (path === "/api/version" && m === "GET") return fixed(path, () => ({ status: 200, json: cfg.profile }));
  if (path === "/api/login" && m === "GET") return fixed(path, (r) => gatewayLogin(cfg, r));
  if (path === "/api/logout" && m === "GET") return fixed(path, (r) => authed(cfg, r, () => logout(cfg, r)));
  if (path === "/rest/auth/login" && m === "POST") return fixed(path, (r) => json(r, (b) => managerLogin(cfg, b)));
  if (path === "/rest/auth/logout" && m === "POST") return fixed(path, (r) => json(r, () => authed(cfg, r, () => logout(cfg, r))));

  const t = TYPES.exec(path);
  if (t) {
    const [, type, action] = t as unknown as [string, string, string | undefined];
    const key = `/api/types/${type}/instances${action ? `/action/${action}` : ""}`;
    return fixed(key, (r) => authed(cfg, r, () => (m === "GET" && !action ? listType(cfg, type) : m === "POST" ? json(r, (b) => postType(cfg, type, action, b)) : notAllowed())));
  }
  const i = INSTANCES.exec(path);
  if (i) {
    const [, type, rawId, kind, name] = i as unknown as [string, string, string, string | undefined, string | undefined];
    const id = decodeURIComponent(rawId);
    const key = `/api/instances/${type}::{id}${kind ? `/${kind}/${name}` : ""}`;
    return fixed(key, (r) =>
      authed(cfg, r, () => {
        if (m === "GET" && !kind) return ok(serve(type, find(cfg, type, id), cfg));
        if (m === "GET" && kind === "relationships") return relationship(cfg, type, id, name!);
        if (m === "POST" && kind === "action") return json(r, (b) => instanceAction(cfg, type, id, name!, b));
        return notAllowed();
      }),
    );
  }
  return fixed(path, () => ({ status: 404, json: { message: `No resource at ${path}`, httpStatusCode: 404, errorCode: 0 } }));
}

/** Turn a thrown {@link GatewayError} into its reply; other errors are 500s. */
export function replyOf(err: unknown): GatewayReply {
  if (err instanceof GatewayError) return { status: err.status, json: err.body() };
  return { status: 500, json: { message: `Internal error: ${(err as Error).message}`, httpStatusCode: 500, errorCode: 0 } };
}

function ok(value: unknown): GatewayReply {
  return { status: 200, json: value };
}

function notAllowed(): GatewayReply {
  return { status: 405, json: { message: "Method not allowed", httpStatusCode: 405, errorCode: 0 } };
}

function header(req: GatewayRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

// POSTs must say application/json (3.6: "Request header Content-Type should be application/json").
function json(req: GatewayRequest, handle: (body: Record<string, unknown>) => GatewayReply | Promise<GatewayReply>): GatewayReply | Promise<GatewayReply> {
  const ct = header(req, "content-type") ?? "";
  if (!/^application\/json\b/i.test(ct.trim())) throw badRequest("Request header Content-Type should be application/json");
  let body: unknown = {};
  if (req.body.trim() !== "") {
    try {
      body = JSON.parse(req.body);
    } catch {
      throw badRequest("Request message is not valid: the body is not valid JSON");
    }
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw badRequest("Request message is not valid: expected a JSON object");
  return handle(body as Record<string, unknown>);
}

function authed(cfg: GatewayConfig, req: GatewayRequest, handle: () => GatewayReply | Promise<GatewayReply>): GatewayReply | Promise<GatewayReply> {
  const token = tokenOf(header(req, "authorization"));
  if (token !== undefined && cfg.tokens.valid(token)) return handle();
  if (cfg.profile === "3.6") return { status: 401, json: { message: "Unauthorized", httpStatusCode: 401, errorCode: 0 } };
  return { status: 401, text: HTML_401, contentType: "text/html" };
}

function gatewayLogin(cfg: GatewayConfig, req: GatewayRequest): GatewayReply {
  const creds = basicCredentials(header(req, "authorization"));
  if (!creds || creds[0] !== cfg.username || creds[1] !== cfg.password) {
    return { status: 401, json: { message: "Unauthorized", httpStatusCode: 401, errorCode: 0 } };
  }
  return ok(cfg.tokens.issue());
}

function managerLogin(cfg: GatewayConfig, body: Record<string, unknown>): GatewayReply {
  // 3.6 has no PowerFlex Manager: goscaleio's mock of it answers {} (its client then uses /api/login).
  if (cfg.profile === "3.6") return ok({});
  if (body["username"] !== cfg.username || body["password"] !== cfg.password) {
    return { status: 401, json: { message: "Invalid user credentials", httpStatusCode: 401, errorCode: 0 } };
  }
  return ok({
    access_token: cfg.tokens.issue(),
    refresh_token: cfg.tokens.issue(),
    expires_in: 300,
    token_type: "Bearer",
    scope: "openid profile email",
  });
}

function logout(cfg: GatewayConfig, req: GatewayRequest): GatewayReply {
  const token = tokenOf(header(req, "authorization"));
  if (token) cfg.tokens.revoke(token);
  if (req.path === "/rest/auth/logout") {
    const refresh = safeJson(req.body)?.["refresh_token"];
    if (typeof refresh === "string") cfg.tokens.revoke(refresh);
    return { status: 204 };
  }
  return { status: 200, text: "", contentType: "application/json" };
}

function safeJson(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === "object" && v !== null ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const COLLECTIONS: Record<string, keyof Pick<EmulatorState, "systems" | "protectionDomains" | "storagePools" | "sdts" | "hosts" | "volumes">> = {
  System: "systems",
  ProtectionDomain: "protectionDomains",
  StoragePool: "storagePools",
  Sdt: "sdts",
  Sdc: "hosts",
  Host: "hosts",
  Volume: "volumes",
};

// 3.6 has no NVMe/TCP: no SDT or Host types, no NVMe hosts among the SDCs, no addMappedHost.
const NVME_TYPES = new Set(["Sdt", "Host"]);
const NVME_RELATIONSHIPS = new Set(["Sdt", "NvmeController"]);
const NVME_ACTIONS = new Set(["addMappedHost", "removeMappedHost"]);
const hasNvme = (cfg: GatewayConfig) => cfg.profile !== "3.6";

function collection(cfg: GatewayConfig, type: string): (typeof COLLECTIONS)[string] {
  const coll = COLLECTIONS[type];
  if (!coll || (!hasNvme(cfg) && NVME_TYPES.has(type))) throw new GatewayError(404, Codes.generic, `Unknown type ${type}`);
  return coll;
}

function listType(cfg: GatewayConfig, type: string): GatewayReply {
  let items = [...cfg.state[collection(cfg, type)].values()];
  // Host lists NVMe hosts only (Cinder's sample); Sdc lists every host with its hostType.
  if (type === "Host") items = items.filter((h) => h["hostType"] === "NVMeHost");
  if (!hasNvme(cfg)) items = items.filter((h) => h["hostType"] !== "NVMeHost");
  return ok(items.map((o) => serve(type, o, cfg)));
}

function postType(cfg: GatewayConfig, type: string, action: string | undefined, body: Record<string, unknown>): GatewayReply {
  if (type === "Host" && !action) {
    collection(cfg, type);
    const host = cfg.state.addHost({
      nqn: body["nqn"] as string,
      ...(typeof body["name"] === "string" ? { name: body["name"] } : {}),
      ...(body["maxNumPaths"] !== undefined ? { maxNumPaths: body["maxNumPaths"] as string } : {}),
      ...(body["maxNumSysPorts"] !== undefined ? { maxNumSysPorts: body["maxNumSysPorts"] as string } : {}),
    });
    return ok({ id: host.id });
  }
  if (action === "queryIdByKey" && (type === "ProtectionDomain" || type === "Volume")) {
    const name = body["name"];
    if (typeof name !== "string") throw badRequest("Request message is not valid: The following parameter(s) must be part of the request body: name.");
    const coll = type === "Volume" ? cfg.state.volumes : cfg.state.protectionDomains;
    const hit = [...coll.values()].find((o) => o["name"] === name);
    if (!hit) throw notFound(type, name);
    return ok(hit.id);
  }
  throw new GatewayError(404, Codes.generic, `Unsupported operation on type ${type}${action ? `: ${action}` : ""}`);
}

function notFound(type: string, id: string): GatewayError {
  if (type === "Volume") return new GatewayError(500, Codes.volumeNotFound, "Could not find the volume");
  if (type === "ProtectionDomain") return new GatewayError(500, Codes.protectionDomainNotFound, "Could not find the Protection Domain");
  if (!/^[0-9a-f]{16}$/i.test(id)) return new GatewayError(500, Codes.generic, `id ${id} must be a hexadecimal number`);
  return new GatewayError(500, Codes.notFound, `Could not find the ${type === "Host" ? "SDC" : type}`);
}

function find(cfg: GatewayConfig, type: string, id: string): Obj {
  const obj = cfg.state[collection(cfg, type)].get(id);
  if (!obj || (!hasNvme(cfg) && obj["hostType"] === "NVMeHost")) throw notFound(type, id);
  return obj;
}

function relationship(cfg: GatewayConfig, type: string, id: string, rel: string): GatewayReply | Promise<GatewayReply> {
  const s = cfg.state;
  find(cfg, type, id);
  if (!hasNvme(cfg) && NVME_RELATIONSHIPS.has(rel)) throw new GatewayError(404, Codes.generic, `Unknown relationship ${rel} of ${type}`);
  // Read when asked: the connections the watched initiators have now.
  if (type === "Host" && rel === "NvmeController") return cfg.connections().then((c) => ok(controllersOfHost(s, id, c)));
  const pick = (coll: Map<string, Obj>, field: string) => [...coll.values()].filter((o) => o[field] === id);
  let items: Obj[] | undefined;
  let as = rel;
  if (type === "System" && rel === "ProtectionDomain") items = pick(s.protectionDomains, "systemId");
  else if (type === "System" && rel === "Sdc") (items = pick(s.hosts, "systemId")), (as = "Sdc");
  else if (type === "ProtectionDomain" && rel === "Sdt") items = pick(s.sdts, "protectionDomainId");
  else if (type === "ProtectionDomain" && rel === "StoragePool") items = pick(s.storagePools, "protectionDomainId");
  else if (type === "StoragePool" && rel === "Volume") items = pick(s.volumes, "storagePoolId");
  else if ((type === "Sdc" || type === "Host") && rel === "Volume") items = s.volumesOfHost(id);
  if (!items) throw new GatewayError(404, Codes.generic, `Unknown relationship ${rel} of ${type}`);
  return ok(items.map((o) => serve(as, o, cfg)));
}

function truthy(v: unknown): boolean {
  return v === true || (typeof v === "string" && v.toLowerCase() === "true");
}

function instanceAction(cfg: GatewayConfig, type: string, id: string, action: string, body: Record<string, unknown>): GatewayReply {
  const s = cfg.state;
  const done: GatewayReply = { status: 200, text: "", contentType: "application/json" };
  if (!hasNvme(cfg) && NVME_ACTIONS.has(action)) throw new GatewayError(404, Codes.generic, `Unsupported action ${action} on ${type}`);
  if ((type === "Sdc" || type === "Host") && action === "removeSdc") {
    s.removeHost(id);
    return done;
  }
  if (type === "Volume" && (action === "addMappedHost" || action === "addMappedSdc")) {
    const hostId = body[action === "addMappedHost" ? "hostId" : "sdcId"];
    if (typeof hostId !== "string") {
      throw badRequest(`Request message is not valid: The following parameter(s) must be part of the request body: ${action === "addMappedHost" ? "hostId" : "sdcId"}.`);
    }
    s.mapVolume(id, hostId, {
      ...(typeof body["accessMode"] === "string" ? { accessMode: body["accessMode"] } : {}),
      allowMultipleMappings: truthy(body["allowMultipleMappings"]),
    });
    return done;
  }
  if (type === "Volume" && (action === "removeMappedHost" || action === "removeMappedSdc")) {
    const all = body[action === "removeMappedHost" ? "allHosts" : "allSdcs"];
    const vol = s.volume(id);
    if (all !== undefined) {
      // One by one, so each host's plan and the listeners (the array's NVMe target) follow.
      const hosts = Array.isArray(vol["mappedSdcInfo"]) ? (vol["mappedSdcInfo"] as { sdcId: string }[]).map((m) => m.sdcId) : [];
      for (const h of hosts) s.unmapVolume(id, h);
      return done;
    }
    const hostId = body[action === "removeMappedHost" ? "hostId" : "sdcId"];
    if (typeof hostId !== "string") throw badRequest("Request message is not valid: hostId or allHosts must be part of the request body.");
    s.unmapVolume(id, hostId);
    return done;
  }
  // 4.6+: the host's port budget per protection domain; its plan is recalculated.
  if (type === "Host" && action === "modifyMaxNumSysPorts" && cfg.profile === "5.0") {
    const value = body["maxNumSysPorts"];
    if (typeof value !== "string" && typeof value !== "number") {
      throw badRequest("Request message is not valid: The following parameter(s) must be part of the request body: maxNumSysPorts.");
    }
    find(cfg, type, id);
    s.updateHost(id, { maxNumSysPorts: value });
    return done;
  }
  if (type === "Sdt" && (action === "enterMaintenanceMode" || action === "exitMaintenanceMode")) {
    s.updateSdt(id, { maintenanceState: action === "enterMaintenanceMode" ? "InMaintenance" : "NoMaintenance" });
    return done;
  }
  throw new GatewayError(404, Codes.generic, `Unsupported action ${action} on ${type}`);
}

// The stored object as the gateway would send it: version-dependent fields and HATEOAS links.
function serve(type: string, obj: Obj, cfg: GatewayConfig): Obj {
  const out: Obj = { ...obj };
  if (type === "System") {
    if (cfg.profile === "3.6") delete out["systemNqn"];
    else if (cfg.profile === "5.0") out["systemNqn"] = systemNqnOf(obj);
  }
  if (!out["links"]) {
    const self = type === "Host" || (type === "Sdc" && obj["hostType"] === "NVMeHost") ? "Host" : type;
    out["links"] = [{ rel: "self", href: `/api/instances/${self}::${obj.id}` }];
  }
  return out;
}
