import { printable } from "../../printable";
import { scrubSecrets } from "./scrub";
import { ErrorBody } from "./types";

/**
 * What went wrong, coarsely, so callers can decide without parsing messages:
 * - `auth`: the gateway refused the credentials (or kept refusing after one re-login);
 * - `tls`: the server certificate could not be verified;
 * - `network`: no HTTP answer (refused, reset, DNS);
 * - `timeout`: connect or response took too long;
 * - `notFound`: the named object does not exist;
 * - `api`: the gateway answered with an error status;
 * - `protocol`: the answer did not have the expected shape;
 * - `usage`: the caller asked for something invalid (checked before any request).
 */
export type PowerFlexErrorKind = "auth" | "tls" | "network" | "timeout" | "notFound" | "api" | "protocol" | "usage";

/** Fields of a {@link PowerFlexError}. */
export interface PowerFlexErrorInit {
  /** See {@link PowerFlexErrorKind}. */
  kind: PowerFlexErrorKind;
  /** The full message (must never contain a password or token). */
  message: string;
  /** HTTP method of the failing request. */
  method?: string;
  /** Path (no query, no credentials) of the failing request. */
  path?: string;
  /** HTTP status, when the gateway answered. */
  status?: number;
  /** PowerFlex `errorCode` from the error body, when there was one. */
  errorCode?: number;
  /** The gateway's own message, when there was one. */
  gatewayMessage?: string;
}

/**
 * The one error type of the PowerFlex client. It carries the HTTP status, the PowerFlex `errorCode`, the
 * gateway's message and the request's method and path — never a credential or token (the request
 * headers are never copied in, and gateway text is scrubbed of the credentials we hold, see scrub.ts).
 */
export class PowerFlexError extends Error {
  /** See {@link PowerFlexErrorKind}. */
  readonly kind: PowerFlexErrorKind;
  /** HTTP method of the failing request, when there was one. */
  readonly method?: string;
  /** Path of the failing request, when there was one. */
  readonly path?: string;
  /** HTTP status, when the gateway answered. */
  readonly status?: number;
  /** PowerFlex `errorCode`, when the body carried one (e.g. 79 volume not found, 142 PD not found). */
  readonly errorCode?: number;
  /** The gateway's own message text, when there was one. */
  readonly gatewayMessage?: string;

  constructor(init: PowerFlexErrorInit) {
    // Messages carry gateway names and text: escaped here, once for every PowerFlex error.
    super(printable(init.message));
    this.name = "PowerFlexError";
    this.kind = init.kind;
    if (init.method !== undefined) this.method = init.method;
    if (init.path !== undefined) this.path = init.path;
    if (init.status !== undefined) this.status = init.status;
    if (init.errorCode !== undefined) this.errorCode = init.errorCode;
    if (init.gatewayMessage !== undefined) this.gatewayMessage = printable(init.gatewayMessage);
  }

  /** Plain-object form (what `JSON.stringify` shows). */
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      kind: this.kind,
      message: this.message,
      method: this.method,
      path: this.path,
      status: this.status,
      errorCode: this.errorCode,
      gatewayMessage: this.gatewayMessage,
    };
  }
}

/** Known PowerFlex error codes we act on. */
export const ErrorCodes = {
  /** "Not found" (old gateways, e.g. a `queryIdByKey` miss). */
  notFound: 3,
  /** "Could not find the volume" (78 on old gateways). */
  volumeNotFound: 79,
  oldVolumeNotFound: 78,
  /** Protection domain not found (`queryIdByKey`). */
  protectionDomainNotFound: 142,
  /** `removeMappedHost` of a mapping that does not exist. */
  invalidMapping: 4039,
} as const;

/** The gateway's error body, when the text is one (4.x sometimes answers HTML): a message or an errorCode. */
export function parseErrorBody(text: string): ErrorBody | undefined {
  try {
    const parsed = ErrorBody.safeParse(JSON.parse(text));
    if (!parsed.success) return undefined;
    const b = parsed.data;
    return typeof b.message === "string" || typeof b.errorCode === "number" ? b : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Error for an HTTP error answer, with the gateway's message and errorCode when the body has them. The
 * gateway's text is scrubbed of `secrets` (what we hold: password, tokens) before it enters the error.
 */
export function errorFromResponse(
  method: string,
  path: string,
  status: number,
  text: string,
  secrets: readonly (string | undefined)[],
  hint?: string,
): PowerFlexError {
  const body = parseErrorBody(text);
  const raw = body ? detailMessage(body) : undefined;
  const gatewayMessage = raw === undefined ? undefined : scrubSecrets(raw, secrets);
  const code = body?.errorCode ?? undefined;
  const what = gatewayMessage ? `: ${gatewayMessage}` : body ? " (no message)" : text.trim() ? " (non-JSON body)" : "";
  const codeText = code !== undefined ? `, errorCode ${code}` : "";
  return new PowerFlexError({
    kind: status === 401 || status === 403 ? "auth" : "api",
    message: `PowerFlex ${method} ${path} failed with HTTP ${status}${codeText}${what}${hint ? `. ${hint}` : ""}`,
    method,
    path,
    status,
    ...(code !== undefined ? { errorCode: code } : {}),
    ...(gatewayMessage !== undefined ? { gatewayMessage } : {}),
  });
}

// goscaleio's rule: "Error with details" hides the real text in details[0].
function detailMessage(body: ErrorBody): string | undefined {
  if (body.message === "Error with details" && body.details && body.details[0]) {
    return body.details[0].errorMessage ?? body.details[0].error ?? body.message;
  }
  return body.message || undefined;
}
