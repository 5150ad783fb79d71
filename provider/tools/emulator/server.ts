import { randomBytes } from "node:crypto";
import * as http from "node:http";
import * as https from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { Faults, type FaultSpec } from "./faults";
import { route, replyOf, type ApiProfile, type GatewayConfig, type GatewayReply } from "./gateway";
import { readConnections, type InitiatorConnection } from "./initiators";
import { discoveryLog, hostByNqn } from "./nvme";
import { EmulatorState, systemNqnOf } from "./state";
import { makeTlsMaterial } from "./tls";
import { TokenStore } from "./tokens";
import { defaultTopology, type TopologyInput } from "./topology";

/** Options of {@link startEmulator}. */
export interface EmulatorOptions {
  /** Address to listen on. Default 127.0.0.1. */
  host?: string;
  /** Port; 0 (default) picks a free one. */
  port?: number;
  /** Serve https with a CA generated at start (its PEM is {@link Emulator.caCert}). */
  tls?: boolean;
  /** Release to behave like (version answer, systemNqn, 401 body). Default "5.0". */
  api?: ApiProfile;
  /** The world to serve; default the built-in topology (see defaultTopology). */
  topology?: TopologyInput;
  /** Gateway user. Default "admin". */
  username?: string;
  /** Gateway password. Default: random. */
  password?: string;
  /** Token lifetime in seconds (both login flows). Default: tokens never expire. */
  tokenTtlSeconds?: number;
  /**
   * sysfs roots of the initiators whose connections the array sees (a simulated host's `settings.sysfsRoot`,
   * or "/sys" in the kernel VM): read when the NvmeController relationship, the plan or discovery is asked.
   * Default none (no host is ever seen connected).
   */
  initiatorSysfs?: readonly string[];
}

/** A running emulated PowerFlex gateway. */
export interface Emulator {
  /** Base URL, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  /** Gateway user. */
  readonly username: string;
  /** Gateway password. */
  readonly password: string;
  /** CA certificate (PEM) when serving https. */
  readonly caCert?: string;
  /** Release profile. */
  readonly api: ApiProfile;
  /** The objects; change them at runtime (add an SDT, a host, a mapping ...). */
  readonly state: EmulatorState;
  /** Requests received per "METHOD route-pattern" (e.g. "GET /api/login"), faulted ones included. */
  counts(): Record<string, number>;
  /** Requests received for one "METHOD route-pattern" (0 when none). */
  count(key: string): number;
  /** Zero the counts. */
  resetCounts(): void;
  /** Arm a fault for the next matching request(s). */
  injectFault(spec: FaultSpec): void;
  /** Disarm all faults. */
  clearFaults(): void;
  /** Delay every answer by this many ms (0: none). */
  setLatency(ms: number): void;
  /** Expire every token now (the next call of every client gets a 401). */
  expireTokens(): void;
  /** Tokens issued and still valid (lets tests assert that no token ever leaks into a message). */
  validTokens(): string[];
  /** The watched initiators' live connections to the system's subsystem now (notes first connections, as the REST reads do). */
  connections(): Promise<InitiatorConnection[]>;
  /** Stop serving and drop open connections (hung requests included). */
  close(): Promise<void>;
}

const ADMIN = "/__emulator/";

/** Start an emulated gateway. Resolves once it listens. */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const api = options.api ?? "5.0";
  const username = options.username ?? "admin";
  const password = options.password ?? randomBytes(12).toString("base64url");
  const state = new EmulatorState(options.topology ?? defaultTopology());
  const ttl = options.tokenTtlSeconds !== undefined ? options.tokenTtlSeconds * 1000 : Infinity;
  const tokens = new TokenStore(ttl);
  const initiators = [...(options.initiatorSysfs ?? [])];
  // A host seen connected for the first time recalculates its plan ("a host connects").
  const connections = async (): Promise<InitiatorConnection[]> => {
    if (initiators.length === 0) return [];
    const found = await readConnections(initiators, systemNqnOf([...state.systems.values()][0]!));
    state.noteConnected(found.flatMap((c) => hostByNqn(state, c.hostnqn)?.id ?? []));
    return found;
  };
  const cfg: GatewayConfig = { profile: api, username, password, tokens, state, connections };
  const faults = new Faults();
  const counts = new Map<string, number>();
  let latencyMs = 0;
  const sockets = new Set<Socket>();

  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://emulator");
      const method = (req.method ?? "GET").toUpperCase();
      const body = Buffer.concat(chunks).toString("utf8");
      if (url.pathname.startsWith(ADMIN)) {
        void admin(method, url.pathname.slice(ADMIN.length), url.searchParams, body).then((reply) => send(res, reply));
        return;
      }
      const r = route(cfg, method, url.pathname);
      counts.set(r.key, (counts.get(r.key) ?? 0) + 1);
      const fault = faults.take(method, url.pathname);
      const act = async () => {
        if (fault?.hang) return; // never answer: the socket stays open until close()
        if (fault?.reset) {
          req.socket.destroy();
          return;
        }
        if (fault?.status !== undefined) {
          if (fault.echo) {
            const message = `Bad request ${method} ${url.pathname} headers=${JSON.stringify(req.headers)} body=${body}`;
            send(res, { status: fault.status, json: { message, httpStatusCode: fault.status, errorCode: 0 } });
          } else if (fault.text !== undefined) send(res, { status: fault.status, text: fault.text, contentType: "text/html" });
          else send(res, { status: fault.status, json: fault.body ?? { message: `Injected fault: HTTP ${fault.status}`, httpStatusCode: fault.status, errorCode: 0 } });
          return;
        }
        let reply: GatewayReply;
        try {
          reply = await r.handle({ method, path: url.pathname, headers: req.headers, body });
        } catch (err) {
          reply = replyOf(err);
        }
        send(res, reply);
      };
      const wait = (fault?.delayMs ?? 0) + latencyMs;
      if (wait > 0) setTimeout(() => void act(), wait);
      else void act();
    });
  };

  // Admin API: no auth, only on the emulator. JSON in, JSON out.
  async function admin(method: string, what: string, query: URLSearchParams, body: string): Promise<GatewayReply> {
    try {
      const input = body.trim() ? (JSON.parse(body) as Record<string, unknown>) : {};
      if (what === "counts" && method === "GET") return { status: 200, json: Object.fromEntries(counts) };
      if (what === "counts" && (method === "DELETE" || method === "POST")) {
        counts.clear();
        return { status: 204 };
      }
      if (what === "faults" && method === "POST") {
        const { regex, ...rest } = input as unknown as FaultSpec & { regex?: boolean };
        if (typeof rest.path !== "string") return { status: 400, json: { message: "fault needs a path (string)" } };
        faults.add({ ...rest, path: regex ? new RegExp(rest.path) : rest.path });
        return { status: 204 };
      }
      if (what === "faults" && method === "DELETE") {
        faults.clear();
        return { status: 204 };
      }
      if (what === "latency" && method === "POST") {
        latencyMs = Number(input["ms"] ?? 0);
        return { status: 204 };
      }
      if (what === "expire-tokens" && method === "POST") {
        tokens.expireAll();
        return { status: 204 };
      }
      if (what === "state" && method === "GET") {
        const dump = (m: Map<string, unknown>) => [...m.values()];
        return {
          status: 200,
          json: {
            systems: dump(state.systems),
            protectionDomains: dump(state.protectionDomains),
            storagePools: dump(state.storagePools),
            sdts: dump(state.sdts),
            hosts: dump(state.hosts),
            volumes: dump(state.volumes),
          },
        };
      }
      if (what === "plan" && method === "GET") {
        await connections();
        return { status: 200, json: planJson() };
      }
      if (what === "rebalance" && method === "POST") {
        state.rebalance();
        return { status: 200, json: planJson() };
      }
      if (what === "discovery" && method === "GET") return await discovery(query);
      const add = /^state\/(sdts|hosts|volumes)$/.exec(what);
      if (add && method === "POST") {
        const obj =
          add[1] === "sdts"
            ? state.addSdt(input as never)
            : add[1] === "hosts"
              ? state.addHost(input as never)
              : state.addVolume(input as never);
        return { status: 200, json: obj };
      }
      const change = /^state\/(sdts|hosts)\/([^/]+)$/.exec(what);
      if (change && method === "POST") {
        const id = decodeURIComponent(change[2]!);
        return { status: 200, json: change[1] === "sdts" ? state.updateSdt(id, input as never) : state.updateHost(id, input as never) };
      }
      const del = /^state\/(sdts|hosts|volumes)\/([^/]+)$/.exec(what);
      if (del && method === "DELETE") {
        const id = decodeURIComponent(del[2]!);
        if (del[1] === "sdts") state.removeSdt(id);
        else if (del[1] === "hosts") state.removeHost(id);
        else state.removeVolume(id);
        return { status: 204 };
      }
      return { status: 404, json: { message: `no admin endpoint ${method} ${ADMIN}${what}` } };
    } catch (err) {
      return replyOf(err);
    }
  }

  // The plan with each host's NQN and budget, for tests and acceptance stories.
  function planJson(): unknown {
    const { generation, hosts } = state.plan();
    return {
      generation,
      hosts: hosts.map((e) => {
        const h = state.hosts.get(e.hostId);
        return { ...e, nqn: h?.["nqn"] ?? null, maxNumSysPorts: h?.["maxNumSysPorts"] ?? null };
      }),
    };
  }

  // What the discovery controller at traddr:trsvcid would log for hostnqn (none on 3.6: no NVMe/TCP).
  async function discovery(query: URLSearchParams): Promise<GatewayReply> {
    const traddr = query.get("traddr");
    const trsvcid = query.get("trsvcid") ?? "8009";
    const hostnqn = query.get("hostnqn");
    if (!traddr || !hostnqn || !/^\d+$/.test(trsvcid)) {
      return { status: 400, json: { message: "discovery needs traddr, hostnqn and a decimal trsvcid (default 8009)" } };
    }
    if (api === "3.6") return { status: 404, json: { message: "refused: PowerFlex 3.6 has no NVMe/TCP (no SDT, no discovery controller)" } };
    await connections();
    const answer = discoveryLog(state, traddr, Number(trsvcid), hostnqn);
    if ("refused" in answer) return { status: 404, json: { message: `refused: ${answer.refused}` } };
    return { status: 200, json: { genctr: state.plan().generation, records: answer.records } };
  }

  let caCert: string | undefined;
  let server: http.Server | https.Server;
  if (options.tls) {
    const material = await makeTlsMaterial();
    caCert = material.caCert;
    server = https.createServer({ cert: material.cert, key: material.key }, handler);
  } else {
    server = http.createServer(handler);
  }
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const hostText = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  const url = `${options.tls ? "https" : "http"}://${hostText}:${addr.port}`;

  return {
    url,
    username,
    password,
    ...(caCert !== undefined ? { caCert } : {}),
    api,
    state,
    counts: () => Object.fromEntries(counts),
    count: (key) => counts.get(key) ?? 0,
    resetCounts: () => counts.clear(),
    injectFault: (spec) => faults.add(spec),
    clearFaults: () => faults.clear(),
    setLatency: (ms) => {
      latencyMs = ms;
    },
    expireTokens: () => tokens.expireAll(),
    validTokens: () => tokens.list(),
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

function send(res: http.ServerResponse, reply: GatewayReply): void {
  if (res.destroyed) return;
  if (reply.json !== undefined) {
    const text = JSON.stringify(reply.json);
    res.writeHead(reply.status, { "content-type": "application/json;charset=UTF-8", "content-length": Buffer.byteLength(text) });
    res.end(text);
  } else if (reply.text !== undefined) {
    res.writeHead(reply.status, { "content-type": reply.contentType ?? "text/plain", "content-length": Buffer.byteLength(reply.text) });
    res.end(reply.text);
  } else {
    res.writeHead(reply.status);
    res.end();
  }
}
