/**
 * ssh hands the remote side one string, which the login shell parses: every argument is single-quoted
 * for a POSIX shell (sh, dash, bash, zsh), so no value is ever read as syntax on the remote host.
 */

/** `'…'` with each `'` written as `'\''`. Refuses NUL, which no argv element can carry. */
export function shellQuote(arg: string): string {
  if (arg.includes("\u0000")) throw new Error(`refusing to pass an argument with a NUL byte to the remote shell: ${JSON.stringify(arg)}`);
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** One command line for the remote shell: the words quoted and joined by spaces. */
export function commandLine(argv: readonly string[]): string {
  return argv.map(shellQuote).join(" ");
}
