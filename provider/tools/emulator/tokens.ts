import { randomBytes } from "node:crypto";

/** Issued tokens and their expiry. Both login flows share it: a token is a token on `/api/*`. */
export class TokenStore {
  private readonly expiry = new Map<string, number>();

  /** @param ttlMs lifetime of a token; Infinity when tokens never expire. */
  constructor(private readonly ttlMs: number) {}

  /** A new token (base64 text, like the gateway's). */
  issue(): string {
    const token = randomBytes(24).toString("base64");
    this.expiry.set(token, Date.now() + this.ttlMs);
    return token;
  }

  /** True for a token issued here that has not expired. */
  valid(token: string): boolean {
    const until = this.expiry.get(token);
    if (until === undefined) return false;
    if (until <= Date.now()) {
      this.expiry.delete(token);
      return false;
    }
    return true;
  }

  /** Forget one token (logout). */
  revoke(token: string): void {
    this.expiry.delete(token);
  }

  /** Tokens still valid. */
  list(): string[] {
    return [...this.expiry.keys()].filter((t) => this.valid(t));
  }

  /** Expire every token now: the next call of every client gets a 401. */
  expireAll(): void {
    this.expiry.clear();
  }
}

/** The token in an Authorization header: `Bearer <t>` or Basic `<any user>:<t>`. */
export function tokenOf(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const [scheme, value] = header.split(/\s+/, 2);
  if (!scheme || !value) return undefined;
  if (scheme.toLowerCase() === "bearer") return value;
  if (scheme.toLowerCase() !== "basic") return undefined;
  const decoded = Buffer.from(value, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon < 0 ? undefined : decoded.slice(colon + 1);
}

/** `[user, password]` of a Basic header. */
export function basicCredentials(header: string | undefined): [string, string] | undefined {
  if (!header || !/^basic\s/i.test(header)) return undefined;
  const decoded = Buffer.from(header.replace(/^basic\s+/i, ""), "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon < 0 ? undefined : [decoded.slice(0, colon), decoded.slice(colon + 1)];
}
