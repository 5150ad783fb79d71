import { createHash } from "node:crypto";

/**
 * The `hostKey` input: what the remote host must prove it holds before we send it anything. Accepted
 * forms: a known_hosts line (`host[,host] ssh-ed25519 AAAA…`), a public key line as in
 * `/etc/ssh/ssh_host_ed25519_key.pub` (`ssh-ed25519 AAAA… comment`), or a SHA256 fingerprint as
 * `ssh-keygen -lf` prints it (`SHA256:…`). There is no "accept any key" value.
 */
export type HostKey =
  | { readonly kind: "key"; readonly type: string; readonly blob: string; readonly fingerprint: string }
  | { readonly kind: "fingerprint"; readonly fingerprint: string };

const KEY_TYPES = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com)$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;

/** `SHA256:<unpadded base64 of sha256(key blob)>`, as OpenSSH prints it. */
export function fingerprintOf(blobBase64: string): string {
  return `SHA256:${createHash("sha256").update(Buffer.from(blobBase64, "base64")).digest("base64").replace(/=+$/, "")}`;
}

/** The key type written inside the blob (the first length-prefixed string): it must match the text. */
function blobType(blobBase64: string): string | undefined {
  const buf = Buffer.from(blobBase64, "base64");
  if (buf.length < 4) return undefined;
  const n = buf.readUInt32BE(0);
  return n > 0 && 4 + n <= buf.length ? buf.subarray(4, 4 + n).toString("latin1") : undefined;
}

/** Parse the input, or say what is wrong with it (the message names no key material). */
export function parseHostKey(text: string): HostKey | string {
  const t = text.trim();
  if (FINGERPRINT.test(t.replace(/=+$/, ""))) return { kind: "fingerprint", fingerprint: t.replace(/=+$/, "") };
  if (/^(MD5:)?([0-9a-f]{2}:){15}[0-9a-f]{2}$/i.test(t)) return "MD5 fingerprints are not accepted: give the SHA256 one (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`)";
  if (t.includes("\n")) return "must be one line (one known_hosts line or one public key)";
  const words = t.split(/\s+/);
  // known_hosts: optional @marker, host patterns, then type and key; .pub: type, key, comment.
  if (words[0]?.startsWith("@")) return `known_hosts markers such as ${words[0]} are not accepted: give the plain key line`;
  const at = words.findIndex((w) => KEY_TYPES.test(w));
  if (at < 0 || at > 1) return 'must be a known_hosts line, a public key ("ssh-ed25519 AAAA…") or a SHA256 fingerprint ("SHA256:…")';
  const blob = words[at + 1];
  if (!blob || !BASE64.test(blob)) return `the ${words[at]} key is not base64`;
  if (blobType(blob) !== words[at]) return `the key data is not a ${words[at]} key`;
  return { kind: "key", type: words[at], blob, fingerprint: fingerprintOf(blob) };
}

/** Host key algorithms to offer for a key type (an RSA key signs with the SHA-2 algorithms). */
export function hostKeyAlgorithms(type: string): string {
  return type === "ssh-rsa" ? "rsa-sha2-512,rsa-sha2-256" : type;
}

/** Keys `ssh-keyscan` printed (`host type key` lines), each with its fingerprint. */
export function parseKeyscan(stdout: string): { readonly type: string; readonly blob: string; readonly fingerprint: string }[] {
  const out: { type: string; blob: string; fingerprint: string }[] = [];
  for (const line of stdout.split("\n")) {
    const w = line.trim().split(/\s+/);
    if (line.startsWith("#") || w.length < 3 || !KEY_TYPES.test(w[1]) || !BASE64.test(w[2])) continue;
    out.push({ type: w[1], blob: w[2], fingerprint: fingerprintOf(w[2]) });
  }
  return out;
}
