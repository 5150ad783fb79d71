import { setTimeout as sleep } from "node:timers/promises";
import { Pool, request } from "undici";
import { PowerFlexError, parseErrorBody } from "./errors";
import type { ResolvedGatewayOptions } from "./options";

/** One HTTP answer, body read as text. */
export interface RawResponse {
  readonly status: number;
  readonly contentType: string;
  readonly text: string;
}

/** One request. `authorization` is the only place credentials travel; it never reaches an error. */
export interface RawRequest {
  readonly method: "GET" | "POST";
  /** Path and query, starting with `/`. */
  readonly path: string;
  readonly authorization?: string;
  /** JSON body (POST only); POSTs always carry `Content-Type: application/json`, `{}` when absent. */
  readonly body?: unknown;
}

// Errors worth another GET attempt: the connection failed or timed out before a full answer.
const RETRIED_ERROR_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ENOTFOUND",
  "ENETDOWN",
  "ENETUNREACH",
  "EHOSTDOWN",
  "EHOSTUNREACH",
  "EPIPE",
  "ETIMEDOUT",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
]);

/**
 * PURE: whether an HTTP answer to a GET is worth another attempt. 429, 502, 503 and 504 say "try later"
 * (a busy gateway or the proxy in front of it). Any other 5xx is transient only without a PowerFlex error
 * body naming an errorCode: with one (3 not found, 79 volume not found, 142 ...) the MDM has answered, and
 * asking again only costs the backoff.
 */
export function isTransientAnswer(status: number, text: string): boolean {
  if (status === 429 || status === 502 || status === 503 || status === 504) return true;
  if (status < 500) return false;
  const code = parseErrorBody(text)?.errorCode;
  return code === undefined || code === null || code === 0;
}

const TLS_ERROR_CODES = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_SIGNATURE_FAILURE",
  "CERT_UNTRUSTED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "ERR_SSL_WRONG_VERSION_NUMBER",
]);

const MAX_RETRY_DELAY_MS = 10_000;

/**
 * HTTP to one gateway origin over a keep-alive undici Pool. GETs are retried with exponential backoff on
 * resets, timeouts and transient answers ({@link isTransientAnswer}); the decision needs the body, so the
 * loop lives here rather than in undici's RetryAgent (which decides from the status alone). POSTs are sent
 * once: a POST that may have reached the gateway is never sent again behind the caller's back.
 */
export class Transport {
  private readonly pool: Pool;

  constructor(private readonly options: ResolvedGatewayOptions) {
    const o = options;
    this.pool = new Pool(o.origin, {
      connect: {
        timeout: o.connectTimeoutMs,
        rejectUnauthorized: !o.insecure,
        ...(o.caCert !== undefined ? { ca: o.caCert } : {}),
      },
      headersTimeout: o.requestTimeoutMs,
      bodyTimeout: o.requestTimeoutMs,
    });
  }

  /** Send one request (GETs: with retries); network, TLS and timeout failures become {@link PowerFlexError}s. */
  async send(req: RawRequest): Promise<RawResponse> {
    const attempts = req.method === "GET" ? this.options.retries + 1 : 1;
    for (let attempt = 1; ; attempt++) {
      let res: RawResponse;
      try {
        res = await this.attempt(req);
      } catch (err) {
        if (attempt >= attempts || !retriedError(err)) throw this.describe(req, err);
        await sleep(this.backoff(attempt));
        continue;
      }
      if (attempt >= attempts || !isTransientAnswer(res.status, res.text)) return res;
      await sleep(this.backoff(attempt));
    }
  }

  private async attempt(req: RawRequest): Promise<RawResponse> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (req.authorization !== undefined) headers["authorization"] = req.authorization;
    let body: string | undefined;
    if (req.method === "POST") {
      headers["content-type"] = "application/json";
      body = JSON.stringify(req.body ?? {});
    }
    const res = await request(this.options.origin + req.path, {
      method: req.method,
      headers,
      ...(body !== undefined ? { body } : {}),
      dispatcher: this.pool,
      // Safety net over one attempt (a slow-drip body escapes bodyTimeout, which is per chunk).
      signal: AbortSignal.timeout(this.options.connectTimeoutMs + this.options.requestTimeoutMs),
    });
    const text = await res.body.text();
    const ct = res.headers["content-type"];
    return { status: res.statusCode, contentType: Array.isArray(ct) ? ct.join(",") : (ct ?? ""), text };
  }

  /** Delay before retry number `attempt` (1-based): retryDelayMs doubled each time, capped. */
  private backoff(attempt: number): number {
    return Math.min(this.options.retryDelayMs * 2 ** (attempt - 1), MAX_RETRY_DELAY_MS);
  }

  /** Close the connections. */
  async close(): Promise<void> {
    await this.pool.close().catch(() => undefined);
  }

  private describe(req: RawRequest, err: unknown): PowerFlexError {
    const e = err as { code?: string; name?: string; message?: string; cause?: { code?: string; message?: string } };
    const code = e.code ?? e.cause?.code;
    const where = `${req.method} ${this.options.origin}${pathOnly(req.path)}`;
    const base = { method: req.method, path: pathOnly(req.path) };
    if ((code && TLS_ERROR_CODES.has(code)) || /certificate|self[- ]signed|SSL routines/i.test(e.message ?? "")) {
      return new PowerFlexError({
        ...base,
        kind: "tls",
        message:
          `TLS verification failed for ${where} (${code ?? "TLS error"}: ${e.message ?? ""}). ` +
          `Give the gateway's CA certificate (PEM) as caCert; use insecure: true only in a lab.`,
      });
    }
    if (
      e.name === "TimeoutError" ||
      e.name === "AbortError" ||
      code === "UND_ERR_CONNECT_TIMEOUT" ||
      code === "UND_ERR_HEADERS_TIMEOUT" ||
      code === "UND_ERR_BODY_TIMEOUT" ||
      code === "ETIMEDOUT"
    ) {
      return new PowerFlexError({
        ...base,
        kind: "timeout",
        message:
          `PowerFlex ${where} timed out (${code ?? e.name}; connect ${this.options.connectTimeoutMs} ms, ` +
          `answer ${this.options.requestTimeoutMs} ms per attempt). Check the gateway is reachable and healthy, ` +
          `or raise connectTimeoutMs / requestTimeoutMs.`,
      });
    }
    return new PowerFlexError({
      ...base,
      kind: "network",
      message: `PowerFlex ${where} failed without an HTTP answer (${code ?? e.name ?? "error"}: ${e.message ?? String(err)}). Check the endpoint address and that the gateway is up.`,
    });
  }
}

function retriedError(err: unknown): boolean {
  const e = err as { code?: string; name?: string; cause?: { code?: string } };
  const code = e.code ?? e.cause?.code;
  return e.name === "TimeoutError" || (code !== undefined && RETRIED_ERROR_CODES.has(code));
}

/** The path without the query string (queries could one day carry names; never credentials). */
export function pathOnly(path: string): string {
  const q = path.indexOf("?");
  return q < 0 ? path : path.slice(0, q);
}
