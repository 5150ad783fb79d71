/**
 * Which remote host, as recorded in state with the host settings (no credential in it): the machine
 * (`host`, `port`) and how to get in (`user`, `hostKey`, `agent`, `sudo`). The private key, when given,
 * travels separately as {@link SshCredentials} and is never part of the settings.
 */
export interface SshTarget {
  /** Host name or IP address of the remote Linux host. */
  readonly host: string;
  readonly port: number;
  /** Login user: root, or a user allowed passwordless sudo. */
  readonly user: string;
  /** Known_hosts line, public key line, or SHA256 fingerprint of the host key (see host-key.ts). */
  readonly hostKey: string;
  /** Authenticate with the ssh-agent at `$SSH_AUTH_SOCK` of the provider process. */
  readonly agent: boolean;
  /** Prefix every remote command with `sudo -n` (default: when `user` is not root). */
  readonly sudo: boolean;
}

/** Secret material used to authenticate; never stored with the settings, never logged. */
export interface SshCredentials {
  /** OpenSSH or PEM private key text (unencrypted: there is nobody to type a passphrase). */
  readonly privateKey?: string;
}

/** `ssh user@host:port`, for messages and for the in-process ledger queue. */
export function describeTarget(t: Pick<SshTarget, "host" | "port" | "user">): string {
  const host = t.host.includes(":") ? `[${t.host}]` : t.host;
  return `ssh ${t.user}@${host}:${t.port}`;
}

/** Same machine (host and port), whatever the way in. */
export function sameMachine(a: SshTarget | undefined, b: SshTarget | undefined): boolean {
  if (!a || !b) return a === b;
  return a.host.toLowerCase() === b.host.toLowerCase() && a.port === b.port;
}
