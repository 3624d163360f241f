/**
 * The snapshot module depends on nothing else of ours; callers map these to exit codes.
 * `kind`: "missing" — the file could not be opened; "corrupt" — it was read and is not a sound snapshot.
 */
export class SnapshotFileError extends Error {
  constructor(
    message: string,
    readonly kind: "missing" | "corrupt" = "corrupt",
  ) {
    super(message);
    this.name = "SnapshotFileError";
  }
}

// Users read these, not errno names; the code stays in parentheses for searching.
const FS_CAUSES: Readonly<Record<string, string>> = {
  ENOENT: "no such file or directory",
  EISDIR: "is a directory",
  ENOTDIR: "a part of the path is a file, not a directory",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "read-only file system",
  EEXIST: "already exists",
  ENOSPC: "no space left on the device",
  EDQUOT: "disk quota exceeded",
  ELOOP: "too many symbolic links",
  ENAMETOOLONG: "file name too long",
  EMFILE: "too many open files",
  EIO: "input/output error",
};

/** The cause of a failed file-system call in words, e.g. "is a directory" or "read-only file system". */
export function fsCause(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === undefined) return err instanceof Error ? err.message : String(err);
  const words = FS_CAUSES[code];
  return words ? words : code;
}

/** The one wording, for every snapshot command, of a snapshot file that cannot be read at all. */
export function unreadableSnapshot(path: string, cause: unknown): SnapshotFileError {
  return new SnapshotFileError(
    `cannot read snapshot file ${path}: ${typeof cause === "string" ? cause : fsCause(cause)}`,
    "missing",
  );
}
