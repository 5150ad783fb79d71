/**
 * Take the credentials we hold out of text the gateway sent back. A gateway or proxy that echoes the
 * request (headers or body) in its error would otherwise put the password or a token into our errors,
 * logs and Pulumi's output.
 */

const REDACTED = "[redacted]";

/** The forms a secret travels in: as is, base64 (Basic), URL-encoded, JSON-escaped. */
function formsOf(secret: string): string[] {
  const json = JSON.stringify(secret).slice(1, -1);
  return [secret, Buffer.from(secret).toString("base64"), encodeURIComponent(secret), json];
}

/**
 * `text` with every held secret (and its encoded forms) replaced, and any `Basic …` / `Bearer …`
 * credential blanked whatever it holds. Longer forms first, so a secret inside another is not left half.
 */
export function scrubSecrets(text: string, secrets: readonly (string | undefined)[]): string {
  const forms = [...new Set(secrets.flatMap((s) => (s && s.length >= 4 ? formsOf(s) : [])))].sort((a, b) => b.length - a.length);
  let out = text;
  for (const f of forms) out = out.split(f).join(REDACTED);
  return out.replace(/\b(Basic|Bearer)(\s+)[A-Za-z0-9._~+/=-]+/gi, `$1$2${REDACTED}`);
}

/** `Basic base64(user:password)`'s payload and the password: what the gateway login sends. */
export function loginSecrets(username: string, password: string): string[] {
  return [password, `${username}:${password}`];
}
