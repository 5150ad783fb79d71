import { PowerFlexError, errorFromResponse } from "./errors";
import { loginSecrets } from "./scrub";
import type { ResolvedGatewayOptions } from "./options";
import type { Transport } from "./transport";
import { ManagerLogin, parseApiVersion, parseBareString } from "./types";

/** A logged-in session. Held only in memory; never logged, never part of an error. */
export interface Session {
  /** Which login produced it. */
  readonly flow: "gateway" | "manager";
  /** The Authorization header value for `/api/*`. */
  readonly authorization: string;
  /** PowerFlex Manager refresh token (logout needs it). */
  readonly refreshToken?: string;
  /** Gateway API version when known ("4.5"). */
  readonly apiVersion?: string;
  /** Increases with every login of one client; lets parallel 401s share one re-login. */
  readonly generation: number;
  /** The token(s) of this session, to scrub from anything the gateway echoes back. */
  readonly secrets: readonly string[];
}

const WRONG_CREDENTIALS = "Check the username and password (and that the user may use the REST API).";

/** Log in with the configured flow (see {@link AuthFlow} for the `auto` rule). */
export async function login(t: Transport, o: ResolvedGatewayOptions, generation: number): Promise<Session> {
  if (o.authFlow === "gateway") return gatewayLogin(t, o, generation, await probeVersion(t));
  if (o.authFlow === "manager") {
    const s = await managerLogin(t, o, generation);
    if (!s) {
      throw new PowerFlexError({
        kind: "auth",
        method: "POST",
        path: "/rest/auth/login",
        message: `PowerFlex Manager login at ${o.origin} is not available (no access_token in the answer). Use authFlow "gateway" or "auto".`,
      });
    }
    return s;
  }
  const version = await probeVersion(t);
  if (version && version.major >= 4) {
    const s = await managerLogin(t, o, generation, version.text);
    if (s) return s;
  }
  return gatewayLogin(t, o, generation, version);
}

/** `GET /api/version` without credentials; undefined when the gateway will not say. */
export async function probeVersion(t: Transport): Promise<ReturnType<typeof parseApiVersion>> {
  const res = await t.send({ method: "GET", path: "/api/version" });
  return res.status === 200 ? parseApiVersion(res.text) : undefined;
}

async function gatewayLogin(
  t: Transport,
  o: ResolvedGatewayOptions,
  generation: number,
  version: ReturnType<typeof parseApiVersion>,
): Promise<Session> {
  const path = "/api/login";
  const basic = Buffer.from(`${o.username}:${o.password}`).toString("base64");
  const res = await t.send({ method: "GET", path, authorization: `Basic ${basic}` });
  if (res.status === 401 || res.status === 403) {
    throw new PowerFlexError({
      kind: "auth",
      method: "GET",
      path,
      status: res.status,
      message: `PowerFlex gateway ${o.origin} refused the login of user "${o.username}" (GET ${path}, HTTP ${res.status}). ${WRONG_CREDENTIALS}`,
    });
  }
  if (res.status !== 200) throw errorFromResponse("GET", path, res.status, res.text, loginSecrets(o.username, o.password));
  const token = parseBareString(res.text);
  if (!token) {
    throw new PowerFlexError({ kind: "protocol", method: "GET", path, status: 200, message: `PowerFlex GET ${path} at ${o.origin} answered 200 without a token.` });
  }
  // goscaleio's rule: Basic ":token" before 4.0 (or unknown), Bearer from 4.0 on.
  const authorization =
    version && version.major >= 4 ? `Bearer ${token}` : `Basic ${Buffer.from(`:${token}`).toString("base64")}`;
  return { flow: "gateway", authorization, generation, secrets: [token, authorization], ...(version ? { apiVersion: version.text } : {}) };
}

/** PowerFlex Manager login; undefined when this gateway has no such login (404/405, or `{}` on 3.6). */
async function managerLogin(
  t: Transport,
  o: ResolvedGatewayOptions,
  generation: number,
  apiVersion?: string,
): Promise<Session | undefined> {
  const path = "/rest/auth/login";
  const res = await t.send({ method: "POST", path, body: { username: o.username, password: o.password } });
  if (res.status === 404 || res.status === 405) return undefined;
  if (res.status === 401 || res.status === 403) {
    throw new PowerFlexError({
      kind: "auth",
      method: "POST",
      path,
      status: res.status,
      message: `PowerFlex Manager ${o.origin} refused the login of user "${o.username}" (POST ${path}, HTTP ${res.status}). ${WRONG_CREDENTIALS}`,
    });
  }
  if (res.status !== 200) throw errorFromResponse("POST", path, res.status, res.text, loginSecrets(o.username, o.password));
  let json: unknown;
  try {
    json = JSON.parse(res.text);
  } catch {
    return undefined;
  }
  const parsed = ManagerLogin.safeParse(json);
  if (!parsed.success || !parsed.data.access_token) return undefined;
  return {
    flow: "manager",
    authorization: `Bearer ${parsed.data.access_token}`,
    generation,
    secrets: [parsed.data.access_token, ...(parsed.data.refresh_token ? [parsed.data.refresh_token] : [])],
    ...(parsed.data.refresh_token ? { refreshToken: parsed.data.refresh_token } : {}),
    ...(apiVersion ? { apiVersion } : {}),
  };
}

/** End a session: `POST /rest/auth/logout` (Manager) or `GET /api/logout` (gateway). Best effort. */
export async function logout(t: Transport, s: Session): Promise<void> {
  if (s.flow === "manager") {
    await t.send({ method: "POST", path: "/rest/auth/logout", authorization: s.authorization, body: s.refreshToken ? { refresh_token: s.refreshToken } : {} });
  } else {
    await t.send({ method: "GET", path: "/api/logout", authorization: s.authorization });
  }
}
