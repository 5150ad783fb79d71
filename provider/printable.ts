/**
 * Text from outside (gateway names and messages, sysfs, the ledger) made safe to print: C0 and C1 control
 * characters, DEL, line/paragraph separators and bidi overrides become visible escapes (`\x1b`, `\n`,
 * `\u{202e}`), so a name cannot clear the screen, recolour it, or start a fake table row. Backslashes are
 * left alone, which keeps it idempotent: escaping twice changes nothing more.
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

export function printable(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    return NAMED[c] ?? (code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u{${code.toString(16)}}`);
  });
}
