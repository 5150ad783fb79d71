/**
 * A fault to inject into the next matching requests. Exactly one effect applies: `reset` (destroy the
 * socket), `hang` (never answer; for client timeouts), `status` (answer that status, with `body` or a
 * gateway-style error body); `delayMs` delays whatever happens (alone: a slow but normal answer).
 */
export interface FaultSpec {
  /** Substring of the request path, or a RegExp (admin API: a string with `regex: true`). */
  path: string | RegExp;
  /** Only this HTTP method (any when absent). */
  method?: string;
  /** How many matching requests to hit (default 1). */
  times?: number;
  /** Answer this status instead of the real answer. */
  status?: number;
  /** Body for `status` (JSON value; default a gateway error body). */
  body?: unknown;
  /**
   * With `status`: an error body whose message echoes the request (its headers, credentials included, and
   * its body), as a misconfigured gateway or proxy does.
   */
  echo?: boolean;
  /** Raw body text for `status` instead of JSON (a proxy's HTML page, or "" for none), sent as text/html. */
  text?: string;
  /** Destroy the connection without an answer. */
  reset?: boolean;
  /** Never answer (the socket stays open until the client gives up or the emulator closes). */
  hang?: boolean;
  /** Wait this long before acting. */
  delayMs?: number;
}

interface Armed {
  spec: FaultSpec;
  left: number;
}

/** The armed faults, consumed first-armed first. */
export class Faults {
  private armed: Armed[] = [];

  /** Arm a fault. */
  add(spec: FaultSpec): void {
    this.armed.push({ spec, left: spec.times ?? 1 });
  }

  /** Disarm all. */
  clear(): void {
    this.armed = [];
  }

  /** The fault for this request, consuming one use; undefined when none matches. */
  take(method: string, path: string): FaultSpec | undefined {
    for (const a of this.armed) {
      const s = a.spec;
      if (s.method && s.method.toUpperCase() !== method) continue;
      const hit = typeof s.path === "string" ? path.includes(s.path) : s.path.test(path);
      if (!hit) continue;
      a.left--;
      if (a.left <= 0) this.armed = this.armed.filter((x) => x !== a);
      return s;
    }
    return undefined;
  }
}
