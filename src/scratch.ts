import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, OperationError, UsageError } from "./errors.js";

/**
 * A fresh directory for staged copies and throwaway data, in `parent` (the user's --scratch-dir) or
 * the OS temp dir. A --scratch-dir that is missing, not a directory or not writable is the user's to fix.
 */
export async function makeScratchDir(parent: string | undefined, prefix: string): Promise<string> {
  try {
    return await mkdtemp(join(parent ?? tmpdir(), prefix));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT"
        ? "does not exist"
        : code === "ENOTDIR"
          ? "is not a directory"
          : code === "EACCES" || code === "EROFS"
            ? "is not writable"
            : undefined;
    if (parent !== undefined && why) throw new UsageError(`--scratch-dir ${parent} ${why}`);
    throw new OperationError(`cannot make a scratch directory in ${parent ?? tmpdir()}: ${describe(err)}`, {
      cause: err,
    });
  }
}
