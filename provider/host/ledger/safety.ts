import type { FileInfo } from "../access/files";

/**
 * Whoever can write the state dir or the ledger decides what root disconnects: they can list a foreign
 * controller as ours, or drop our records. So both must belong to us (or root) and be writable by no one
 * else, and neither may be a symbolic link. We refuse rather than repair: a mode someone set on purpose is
 * not ours to change silently, and the fix is one command the message gives.
 */
export function unsafeStateEntry(what: "state dir" | "ledger" | "lock file" | "pointer", file: string, info: FileInfo | undefined): { reason: string; fix: string } | undefined {
  if (!info) return undefined;
  const dir = what === "state dir";
  const wanted = dir ? "directory" : "file";
  if (info.kind === "symlink") return { reason: `the ${what} ${file} is a symbolic link`, fix: `Replace it with a real ${wanted} (a link is never followed here)` };
  if (info.kind !== wanted) return { reason: `the ${what} ${file} is not a ${dir ? "directory" : "regular file"} (${info.kind})`, fix: `Remove it; the provider makes a new one` };
  const problems: string[] = [];
  if (info.uid !== info.actorUid && info.uid !== 0) problems.push(`it is owned by uid ${info.uid}, not by root or uid ${info.actorUid} (who runs the provider)`);
  if ((info.mode & 0o022) !== 0) problems.push(`it is writable by ${(info.mode & 0o020) !== 0 ? "its group" : ""}${(info.mode & 0o022) === 0o022 ? " and " : ""}${(info.mode & 0o002) !== 0 ? "others" : ""} (mode ${info.mode.toString(8).padStart(4, "0")})`);
  if (problems.length === 0) return undefined;
  return {
    reason: `the ${what} ${file} is unsafe: ${problems.join("; ")}; whoever can write it decides what the provider disconnects`,
    fix: `If that is not expected, find out who changed it; then \`chown ${info.actorUid} ${file} && chmod ${dir ? "0700" : "0600"} ${file}\``,
  };
}
