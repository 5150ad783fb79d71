import type { SshTarget } from "./target";
import { describeTarget } from "./target";

export type SshFailureKind =
  /** The OpenSSH client is not installed where the provider runs. */
  | "no-ssh-client"
  /** No TCP connection: refused, no route, timeout, unknown name. */
  | "unreachable"
  /** The server turned our key (or agent identities) down, or the key could not be loaded. */
  | "auth-refused"
  /** The host did not prove it holds the expected host key. */
  | "host-key-mismatch"
  /** `sudo -n` refused (password needed, not in sudoers) or sudo is missing on the remote host. */
  | "no-sudo"
  /** The connection went away while a command ran: its outcome on the host is unknown. */
  | "connection-lost"
  /** The remote side failed outside the command (e.g. no POSIX shell, no base64). */
  | "remote-failure";

/** A failure of the SSH transport itself, never of the command it carried. */
export class SshError extends Error {
  constructor(
    readonly kind: SshFailureKind,
    message: string,
    /** For `host-key-mismatch`: the fingerprint we expected and the ones the host offered. */
    readonly fingerprints?: { readonly expected: string; readonly seen: readonly string[] },
  ) {
    super(message);
    this.name = "SshError";
  }
}

const UNREACHABLE = /Connection refused|No route to host|Network is unreachable|Connection timed out|timed out during banner|Could not resolve hostname|Name or service not known|Temporary failure in name resolution|Connection reset|kex_exchange_identification/i;
const AUTH = /Permission denied|Too many authentication failures|Authentication failed|no mutual signature|Load key .*:|Error connecting to agent|Could not open a connection to your authentication agent|agent refused/i;
const HOST_KEY = /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|host key is known for|Host key for .* has changed/i;
const SUDO = /sudo: (a password is required|a terminal is required|.* is not in the sudoers file|.*may not run sudo|sorry, you must have a tty)|sudo: not found|sudo: command not found|user .* is not allowed to execute/i;

/** The last meaningful line of ssh's stderr, for the message. */
function lastLine(stderr: string): string {
  const lines = stderr.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("@") && !/^(Warning: Permanently added|Please contact|Add correct host key|Offending|Someone could be|It is also possible|IT IS POSSIBLE)/.test(l));
  return lines.at(-1) ?? "(no message)";
}

/** Classify a failed connection attempt (ssh exit 255) from its stderr. Host key failures come back as undefined: the caller scans the host to show the seen fingerprints. */
export function classifyConnectFailure(target: SshTarget, stderr: string): SshError | "host-key" {
  const where = describeTarget(target);
  if (HOST_KEY.test(stderr)) return "host-key";
  if (AUTH.test(stderr)) {
    return new SshError(
      "auth-refused",
      `${where}: authentication refused (${lastLine(stderr)}). Check that the public half of the key ${target.agent ? "in the ssh-agent" : "given as privateKey"} is in ~${target.user}/.ssh/authorized_keys on the host, and that the key has no passphrase.`,
    );
  }
  if (UNREACHABLE.test(stderr)) {
    return new SshError("unreachable", `${where} is unreachable (${lastLine(stderr)}). Check the address, the port, that sshd runs there, and firewalls on the way.`);
  }
  return new SshError("unreachable", `could not connect to ${where}: ${lastLine(stderr)}`);
}

export function hostKeyMismatch(target: SshTarget, expected: string, seen: readonly string[]): SshError {
  const shown = seen.length > 0 ? seen.join(", ") : "none (the host offered no key we could read)";
  return new SshError(
    "host-key-mismatch",
    `${describeTarget(target)}: host key mismatch: expected ${expected}, the host offered ${shown}. ` +
      `If the host was reinstalled or re-keyed, check the new key out of band (\`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub\` on its console) and update hostAccess.ssh.hostKey; otherwise someone may be in the middle.`,
    { expected, seen },
  );
}

/** A sudo refusal in stderr, as an error; undefined when stderr is not one. */
export function sudoFailure(target: SshTarget, stderr: string): SshError | undefined {
  if (!SUDO.test(stderr)) return undefined;
  return new SshError(
    "no-sudo",
    `${describeTarget(target)}: no sudo rights: ${lastLine(stderr)}. The provider runs nvme, flock and writes its ledger as root: ` +
      `log in as root, or allow ${target.user} passwordless sudo (e.g. \`${target.user} ALL=(root) NOPASSWD: ALL\` in /etc/sudoers.d/pulumi-powerflex-nvme).`,
  );
}

export function connectionLost(target: SshTarget, what: string, stderr: string): SshError {
  return new SshError(
    "connection-lost",
    `${describeTarget(target)}: the connection was lost during ${what} (${lastLine(stderr)}); its outcome on the host is unknown. ` +
      `The host-wide ledger records intents before acting: run again once the host is reachable, and it settles what happened.`,
  );
}
