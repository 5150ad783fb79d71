import { z } from "zod";
import { PowerFlexError } from "./errors";

/**
 * How to log in:
 * - `gateway`: `GET /api/login` with Basic user:password; the token then goes as Basic `:token` when the
 *   gateway reports a version below 4.0 (or none), as Bearer from 4.0 on.
 * - `manager`: PowerFlex Manager `POST /rest/auth/login` -> `access_token` (Bearer) + `refresh_token`.
 * - `auto` (default): probe `GET /api/version` without credentials; 4.0 or later -> try `manager`, and
 *   fall back to `gateway` when `/rest/auth/login` is absent (404/405) or answers without an
 *   `access_token` (3.6 gateways answer `{}`); below 4.0 or unknown -> `gateway`.
 */
export const AuthFlow = z.enum(["auto", "gateway", "manager"]);
export type AuthFlow = z.infer<typeof AuthFlow>;

/** Options of a PowerFlex gateway connection. Validated with zod; errors name the field, never a value. */
export const GatewayOptions = z
  .object({
    /** Base URL of the gateway, e.g. `https://pflex.example:443`. https or http; path ignored. */
    endpoint: z
      .string()
      .refine((s) => {
        try {
          const u = new URL(s);
          return (u.protocol === "https:" || u.protocol === "http:") && u.username === "" && u.password === "";
        } catch {
          return false;
        }
      }, "must be an https:// or http:// URL without credentials in it"),
    /** Gateway user name. */
    username: z.string().min(1, "must not be empty"),
    /** Gateway password. Never logged, never in an error. */
    password: z.string().min(1, "must not be empty"),
    /** Skip TLS verification. Only when asked; a warning is logged. Prefer `caCert`. */
    insecure: z.boolean().optional(),
    /** PEM CA certificate(s) to verify the gateway with (instead of the system trust store). */
    caCert: z
      .string()
      .refine((s) => s.includes("-----BEGIN CERTIFICATE-----"), "must be PEM text containing -----BEGIN CERTIFICATE-----")
      .optional(),
    /** Login flow; see {@link AuthFlow}. Default `auto`. */
    authFlow: AuthFlow.optional(),
    /** TCP + TLS connect timeout in ms. Default 10 000. */
    connectTimeoutMs: z.number().int().positive().optional(),
    /**
     * Time allowed for one attempt to get the full answer, in ms (default 30 000). A GET may make
     * `retries + 1` attempts; the whole call is capped at that many attempts plus the backoff.
     */
    requestTimeoutMs: z.number().int().positive().optional(),
    /** Retries for idempotent GETs on transient failures (resets, timeouts, 429/502/503/504, a 500 without an errorCode). Default 3; POSTs never. */
    retries: z.number().int().min(0).max(10).optional(),
    /** First retry delay in ms, doubled on each retry (capped at 10 s). Default 500. */
    retryDelayMs: z.number().int().min(0).optional(),
  })
  .strict();

/** What callers pass; see the schema's fields. */
export type GatewayOptions = z.input<typeof GatewayOptions>;

/** Options with defaults filled in. */
export interface ResolvedGatewayOptions {
  /** Origin (`scheme://host:port`) of the gateway. */
  readonly origin: string;
  readonly username: string;
  readonly password: string;
  readonly insecure: boolean;
  readonly caCert?: string;
  readonly authFlow: AuthFlow;
  readonly connectTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly retries: number;
  readonly retryDelayMs: number;
}

/** Validate and fill defaults; throws a usage {@link PowerFlexError} naming the bad fields. */
export function resolveGatewayOptions(input: unknown): ResolvedGatewayOptions {
  const parsed = GatewayOptions.safeParse(input);
  if (!parsed.success) {
    // Only paths and messages: zod issues can hold the input value, which may be the password.
    const lines = parsed.error.issues.map((i) => `${i.path.join(".") || "(options)"}: ${i.message}`);
    throw new PowerFlexError({ kind: "usage", message: `invalid PowerFlex gateway options: ${lines.join("; ")}` });
  }
  const o = parsed.data;
  return {
    origin: new URL(o.endpoint).origin,
    username: o.username,
    password: o.password,
    insecure: o.insecure ?? false,
    ...(o.caCert !== undefined ? { caCert: o.caCert } : {}),
    authFlow: o.authFlow ?? "auto",
    connectTimeoutMs: o.connectTimeoutMs ?? 10_000,
    requestTimeoutMs: o.requestTimeoutMs ?? 30_000,
    retries: o.retries ?? 3,
    retryDelayMs: o.retryDelayMs ?? 500,
  };
}
