/**
 * The environment of every process the provider starts on a host (nvme, flock, cat, ssh): only what
 * those programs use. The provider's own environment carries secrets (POWERFLEX_PASSWORD, cloud
 * credentials of the Pulumi program) that no child needs, and /proc/<pid>/environ shows them to root.
 */
const PASSED = ["PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "TZ"] as const;

/** `extra` on top of the passed variables; `also` names further variables to pass (e.g. SSH_AUTH_SOCK). */
export function childEnv(extra: Readonly<Record<string, string>> = {}, also: readonly string[] = []): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of [...PASSED, ...also]) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  return { ...env, ...extra };
}
