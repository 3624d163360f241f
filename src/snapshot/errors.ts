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
