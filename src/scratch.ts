import { mkdtemp, readFile, statfs } from "node:fs/promises";
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
    return await mkdtemp(join(root, prefix)); // 0700, as mkdtemp makes them
  } catch {
    return undefined; // no such mount, not writable: the caller's disk will do
  }
}

/**
 * Memory available to this process without swapping: the kernel's MemAvailable, or less when a
 * cgroup (a pod's memory limit) leaves less room, since tmpfs pages are charged to the cgroup.
 */
async function availableMemory(): Promise<number> {
  const m = /^MemAvailable:\s+(\d+) kB$/m.exec(await readFile("/proc/meminfo", "utf8"));
  const machine = m ? Number(m[1]) * 1024 : 0;
  return Math.min(machine, await cgroupRoom());
}

/** Bytes left under this process's cgroup memory limit (v1 or v2); Infinity when there is none. */
export async function cgroupRoom(procCgroup = "/proc/self/cgroup", sysRoot = "/sys/fs/cgroup"): Promise<number> {
  const read = (f: string) =>
    readFile(f, "utf8").then(
      (t) => t.trim(),
      () => undefined,
    );
  const cgroups = (await read(procCgroup)) ?? "";
  const v2 = /^0::(.*)$/m.exec(cgroups)?.[1];
  const v1 = /^\d+:(?:[^:]*,)?memory(?:,[^:]*)?:(.*)$/m.exec(cgroups)?.[1];
  const pairs: Array<[string, string]> = [];
  if (v1 !== undefined) {
    const dir = join(sysRoot, "memory", v1);
    pairs.push([join(dir, "memory.limit_in_bytes"), join(dir, "memory.usage_in_bytes")]);
  }
  if (v2 !== undefined) {
    const dir = join(sysRoot, v2);
    pairs.push([join(dir, "memory.max"), join(dir, "memory.current")]);
  }
  for (const [limitFile, usageFile] of pairs) {
    const limit = await read(limitFile);
    if (limit === undefined) continue;
    const usage = Number((await read(usageFile)) ?? 0);
    // "max" (v2) or a huge number (v1: no limit set).
    if (limit === "max" || Number(limit) >= 2 ** 60) return Number.POSITIVE_INFINITY;
    return Math.max(0, Number(limit) - usage);
  }
  return Number.POSITIVE_INFINITY;
}
