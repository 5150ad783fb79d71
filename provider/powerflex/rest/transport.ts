import { Pool, RetryAgent, request, type Dispatcher } from "undici";
import { PowerFlexError } from "./errors";
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

// Errors worth another GET attempt: undici's socket/timeout codes on top of its defaults.
const RETRIED_ERROR_CODES = [
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
];

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
 * HTTP to one gateway origin: a keep-alive undici Pool for the connection, wrapped in undici's
 * RetryAgent for GETs (5xx, resets, timeouts, exponential backoff). POSTs go to the bare Pool: a POST
 * that may have reached the gateway is never sent again behind the caller's back.
 */
export class Transport {
  private readonly pool: Pool;
  private readonly retrying: RetryAgent;
  private readonly deadlineMs: number;

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
    this.retrying = new RetryAgent(this.pool, {
      methods: ["GET"],
      maxRetries: o.retries,
      minTimeout: o.retryDelayMs,
      maxTimeout: MAX_RETRY_DELAY_MS,
      timeoutFactor: 2,
      statusCodes: [500, 502, 503, 504, 429],
      errorCodes: RETRIED_ERROR_CODES,
      // Hand the last 5xx answer to us (with its body) instead of a bare RequestRetryError.
      throwOnError: false,
    });
    let backoff = 0;
    for (let i = 0; i < o.retries; i++) backoff += Math.min(o.retryDelayMs * 2 ** i, MAX_RETRY_DELAY_MS);
    // Safety net over everything (a slow-drip body escapes bodyTimeout, which is per chunk).
    this.deadlineMs = (o.connectTimeoutMs + o.requestTimeoutMs) * (o.retries + 1) + backoff;
  }

  /** Send one request; network, TLS and timeout failures become {@link PowerFlexError}s. */
  async send(req: RawRequest): Promise<RawResponse> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (req.authorization !== undefined) headers["authorization"] = req.authorization;
    let body: string | undefined;
    if (req.method === "POST") {
      headers["content-type"] = "application/json";
      body = JSON.stringify(req.body ?? {});
    }
    const dispatcher: Dispatcher = req.method === "GET" ? this.retrying : this.pool;
    const deadline = req.method === "GET" ? this.deadlineMs : this.options.connectTimeoutMs + this.options.requestTimeoutMs;
    try {
      const res = await request(this.options.origin + req.path, {
        method: req.method,
        headers,
        ...(body !== undefined ? { body } : {}),
        dispatcher,
        signal: AbortSignal.timeout(deadline),
      });
      const text = await res.body.text();
      const ct = res.headers["content-type"];
      return { status: res.statusCode, contentType: Array.isArray(ct) ? ct.join(",") : (ct ?? ""), text };
    } catch (err) {
      throw this.describe(req, err);
    }
  }

  /** Close the connections. */
  async close(): Promise<void> {
    await this.retrying.close().catch(() => undefined);
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

/** The path without the query string (queries could one day carry names; never credentials). */
export function pathOnly(path: string): string {
  const q = path.indexOf("?");
  return q < 0 ? path : path.slice(0, q);
}
