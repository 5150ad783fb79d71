/**
 * What a path on a host is, and the refusals every HostAccess gives alike: a file we read must be a
 * regular file of bounded size (a FIFO blocks forever, /dev/zero never ends), and where we ask for it a
 * symbolic link is not followed (a link planted in the state dir would point our root writes elsewhere).
 */

/** Files we read are small (sysfs attributes, the ledger, a mount table): this bound is far above them. */
export const MAX_FILE_BYTES = 16 * 1024 * 1024;

export type FileKind = "file" | "directory" | "symlink" | "fifo" | "socket" | "char-device" | "block-device" | "unknown";

/** lstat of a path (a symbolic link is not followed), and who we act as there. */
export interface FileInfo {
  readonly kind: FileKind;
  /** Owner uid. */
  readonly uid: number;
  /** Permission bits (mode & 0o7777). */
  readonly mode: number;
  /** The uid our commands and file operations run as on that host (root under sudo). */
  readonly actorUid: number;
}

export interface ReadOptions {
  /** Refuse a symbolic link at the path itself (O_NOFOLLOW) instead of reading its target. */
  readonly noFollow?: boolean;
}

/** The file kind from the S_IFMT bits of a mode. */
export function kindOfMode(mode: number): FileKind {
  switch (mode & 0o170000) {
    case 0o100000: return "file";
    case 0o040000: return "directory";
    case 0o120000: return "symlink";
    case 0o010000: return "fifo";
    case 0o140000: return "socket";
    case 0o020000: return "char-device";
    case 0o060000: return "block-device";
    default: return "unknown";
  }
}

const NAMES: Record<FileKind, string> = {
  file: "a regular file", directory: "a directory", symlink: "a symbolic link", fifo: "a FIFO (named pipe)", socket: "a socket",
  "char-device": "a character device", "block-device": "a block device", unknown: "not a regular file",
};

/** A path that is not the kind of file we asked for (as opposed to a failure to reach it). */
export class UnexpectedFileError extends Error {
  override readonly name = "UnexpectedFileError";
}

export function notRegular(file: string, kind: FileKind): Error {
  return new UnexpectedFileError(`cannot read ${file}: it is ${NAMES[kind]}, not a regular file; refusing to read it`);
}

export function symlinkRefused(file: string): Error {
  return new UnexpectedFileError(`cannot use ${file}: it is a symbolic link, which is never followed here; remove the link`);
}

export function tooLarge(file: string, max = MAX_FILE_BYTES): Error {
  return new UnexpectedFileError(`cannot read ${file}: it is larger than ${max} bytes; refusing to read it`);
}
