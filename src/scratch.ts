import { chmod, mkdtemp, readFile, statfs } from "node:fs/promises";
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

/** Where a RAM-backed directory is looked for: the tmpfs every Linux system mounts for POSIX shared memory. */
const MEMORY_DIR = "/dev/shm";
const TMPFS_MAGIC = 0x01021994;

/**
 * A fresh 0700 directory on a RAM-backed file system (tmpfs at /dev/shm) with room for `bytes`
 * beside what is already there, or undefined when there is none or too little room: the tmpfs must
 * have the space free (a container's /dev/shm is 64 MiB by default) and the machine at least twice
 * that much memory available, so that what goes there never squeezes the processes' memory. For
 * throwaway data whose syncs are the cost and never the point.
 */
export async function makeMemoryDir(prefix: string, bytes: number, root = MEMORY_DIR): Promise<string | undefined> {
  try {
    const fs = await statfs(root);
    if (fs.type !== TMPFS_MAGIC || fs.bavail * fs.bsize < bytes) return undefined;
    if ((await availableMemory()) < 2 * bytes) return undefined;
    const dir = await mkdtemp(join(root, prefix));
    await chmod(dir, 0o700);
    return dir;
  } catch {
    return undefined; // no such mount, not writable: the caller's disk will do
  }
}

/** The kernel's estimate of memory available without swapping (MemAvailable), in bytes. */
async function availableMemory(): Promise<number> {
  const m = /^MemAvailable:\s+(\d+) kB$/m.exec(await readFile("/proc/meminfo", "utf8"));
  return m ? Number(m[1]) * 1024 : 0;
}
