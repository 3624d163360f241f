import { randomBytes } from "node:crypto";
import { constants, createReadStream, type Dirent, type Stats } from "node:fs";
import { access, type FileHandle, mkdir, open, readdir, readFile, rename, rmdir, stat, unlink } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { CancelledError, HcpError, StoreError, UsageError } from "../errors.js";
import { abortable, cancelled, throwIfCancelled } from "./cancel.js";
import type { ObjectLockState } from "./object-lock.js";
import type { OperationOptions, PutOptions, Store, StoredObject } from "./store.js";
import { checkKey } from "./store.js";

const PART = ".part";
const WRITE_BATCH = 4 * 1024 * 1024;

/** What an errno means, in words a user acts on. */
const CAUSES: Record<string, string> = {
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ENOTDIR: "a part of the path is a file, not a directory",
  EROFS: "read-only file system",
  ENOSPC: "no space left on the device",
  EDQUOT: "disk quota exceeded",
  EISDIR: "it is a directory",
  ENAMETOOLONG: "the path is too long",
  ELOOP: "too many symbolic links in the path",
};

/** One line naming the path and the cause in words; the errno error stays as `cause`. */
export function fsError(err: unknown, action: string, path: string): HcpError {
  if (err instanceof HcpError) return err;
  const code = (err as NodeJS.ErrnoException).code ?? "";
  const words = CAUSES[code] ?? ((err as Error).message ?? String(err)).split("\n")[0];
  return new StoreError(`cannot ${action} ${path}: ${words}${code && CAUSES[code] ? ` (${code})` : ""}`, {
    cause: err,
  });
}

const errno = (err: unknown) => (err as NodeJS.ErrnoException).code;

/**
 * A directory as a store: the embedded default, no cloud needed. Objects are written to
 * `<key>.part` (created exclusively, mode 0600: snapshots hold every secret of the cluster),
 * fsynced and renamed. The root is created by the first put, never by a check or a read, so a
 * backup that fails leaves no store behind.
 */
export class LocalStore implements Store {
  readonly root: string;
  /** The absolute root path: refs have one form, the plain path, whatever form the store was opened with. */
  readonly url: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.url = this.root;
  }

  private path(key: string, kind: "key" | "prefix" = "key"): string {
    const p = resolve(this.root, checkKey(key, this.root, kind));
    if (p !== this.root && !p.startsWith(this.root + sep))
      throw new StoreError(`key "${key}" escapes the store ${this.root}`);
    return p;
  }

  urlOf(key: string): string {
    return this.path(key, "prefix");
  }

  localPath(key: string): string {
    return this.path(key);
  }

  /** A directory has no object lock (`--object-lock` is refused for local stores). */
  async lockOf(_key: string): Promise<ObjectLockState | undefined> {
    return undefined;
  }

  async put(key: string, body: AsyncIterable<Buffer> | Buffer, options: PutOptions = {}): Promise<void> {
    const target = this.path(key);
    const what = `writing ${target}`;
    throwIfCancelled(options.signal, what);
    if (options.retention) throw new UsageError(`cannot lock ${target}: a local directory has no object lock`);
    const created = await this.makeDirs(dirname(target));
    const part = options.replace ? `${target}.${randomBytes(6).toString("hex")}${PART}` : target + PART;
    let fh: FileHandle;
    try {
      // Exclusive: two writers of one key must never share (or truncate) one .part.
      fh = await open(part, "wx", 0o600);
    } catch (err) {
      await removeCreated(created);
      if (errno(err) === "EEXIST")
        throw new StoreError(
          `${part} already exists: another backup is writing ${key} (or one was killed; prune removes old .part files)`,
          { cause: err },
        );
      throw fsError(err, "create", part);
    }
    try {
      if (Buffer.isBuffer(body)) await fh.write(body);
      else {
        // etcd sends 32 KiB pieces: one write per piece costs a thread-pool round trip each; gather 4 MiB.
        let batch: Buffer[] = [];
        let batched = 0;
        for await (const chunk of abortable(body, options.signal, what)) {
          batch.push(chunk);
          batched += chunk.length;
          if (batched >= WRITE_BATCH) {
            await fh.writev(batch);
            batch = [];
            batched = 0;
          }
        }
        if (batched > 0) await fh.writev(batch);
      }
      throwIfCancelled(options.signal, what);
      await fh.sync();
      await fh.close();
      await rename(part, target);
    } catch (err) {
      await fh.close().catch(() => {});
      await unlink(part).catch(() => {});
      await removeCreated(created);
      if (err instanceof CancelledError) throw err;
      if (options.signal?.aborted) throw cancelled(what, options.signal, err);
      if (errno(err) === "ENOSPC")
        throw new StoreError(`no space left on the device while writing ${target}; nothing was kept`, { cause: err });
      if (errno(err) !== undefined) throw fsError(err, "write", target);
      throw err;
    }
  }

  /**
   * Creates the missing directories above a key one level at a time (Node's recursive mkdir loops
   * forever on a path it cannot create, such as one under /proc) and returns those it created,
   * outermost first, so a failed put can remove exactly them.
   */
  private async makeDirs(dir: string): Promise<string[]> {
    const missing: string[] = [];
    for (let d = dir; ; d = dirname(d)) {
      let s: Stats;
      try {
        s = await stat(d);
      } catch (err) {
        if (errno(err) !== "ENOENT" || dirname(d) === d) throw fsError(err, "create", dir);
        missing.unshift(d);
        continue;
      }
      if (!s.isDirectory()) throw fsError(Object.assign(new Error(d), { code: "ENOTDIR" }), "create", dir);
      break;
    }
    const created: string[] = [];
    for (const d of missing) {
      try {
        await mkdir(d, { mode: 0o700 });
        created.push(d);
      } catch (err) {
        // Another writer made it first: it is theirs, not ours to remove.
        if (errno(err) === "EEXIST" && (await stat(d).catch(() => undefined))?.isDirectory()) continue;
        await removeCreated(created);
        // ENOENT from mkdir with an existing parent: a file system that does not allow it (/proc, /sys).
        if (errno(err) === "ENOENT")
          throw new StoreError(`cannot create ${d}: the file system does not allow it`, { cause: err });
        throw fsError(err, "create", d);
      }
    }
    return created;
  }

  /**
   * Proves the root, or the nearest directory above it that exists, is a writable directory, without
   * creating anything: a backup that fails afterwards leaves no store directory behind.
   */
  async check(options: OperationOptions = {}): Promise<void> {
    throwIfCancelled(options.signal, `checking ${this.root}`);
    for (let d = this.root; ; d = dirname(d)) {
      let s: Stats;
      try {
        s = await stat(d);
      } catch (err) {
        if (errno(err) === "ENOENT" && dirname(d) !== d) continue;
        throw fsError(err, "use", this.root);
      }
      if (!s.isDirectory()) {
        throw fsError(Object.assign(new Error(d), { code: "ENOTDIR" }), "use", this.root);
      }
      try {
        await access(d, constants.W_OK);
      } catch (err) {
        throw fsError(err, d === this.root ? "write to" : `create ${this.root} in`, d);
      }
      return;
    }
  }

  /** Reading a store that does not exist is an error, not an empty store: the path is probably wrong. */
  private async requireRoot(): Promise<void> {
    let s: Stats;
    try {
      s = await stat(this.root);
    } catch (err) {
      if (errno(err) === "ENOENT")
        throw new StoreError(`no store at ${this.root}: the directory does not exist`, { cause: err });
      throw fsError(err, "open the store", this.root);
    }
    if (!s.isDirectory()) throw new StoreError(`no store at ${this.root}: it is not a directory`);
  }

  async *get(key: string, options: OperationOptions = {}): AsyncIterable<Buffer> {
    const p = this.path(key);
    const what = `reading ${p}`;
    throwIfCancelled(options.signal, what);
    if (!(await this.exists(key, options))) {
      await this.requireRoot();
      throw new StoreError(`${p} does not exist`);
    }
    const stream = createReadStream(p, { highWaterMark: 1 << 20 });
    try {
      yield* abortable(stream as AsyncIterable<Buffer>, options.signal, what);
    } catch (err) {
      if (errno(err) !== undefined) throw fsError(err, "read", p);
      throw err;
    } finally {
      stream.destroy();
    }
  }

  async read(key: string, options: OperationOptions = {}): Promise<Buffer> {
    const p = this.path(key);
    try {
      return await readFile(p, { signal: options.signal });
    } catch (err) {
      if (options.signal?.aborted) throw cancelled(`reading ${p}`, options.signal, err);
      if (errno(err) === "ENOENT") {
        await this.requireRoot();
        throw new StoreError(`${p} does not exist`, { cause: err });
      }
      throw fsError(err, "read", p);
    }
  }

  async exists(key: string, options: OperationOptions = {}): Promise<boolean> {
    const p = this.path(key);
    throwIfCancelled(options.signal, `looking up ${p}`);
    return stat(p).then(
      (s) => s.isFile(),
      () => false,
    );
  }

  async *list(prefix: string, options: OperationOptions = {}): AsyncIterable<StoredObject> {
    const start = this.path(prefix, "prefix");
    await this.requireRoot();
    for await (const { full, entry } of this.walk(start, options.signal, `listing ${start}`)) {
      if (!entry.isFile() || entry.name.endsWith(PART)) continue;
      let s: Stats;
      try {
        s = await stat(full);
      } catch (err) {
        if (errno(err) === "ENOENT") continue; // deleted while we listed
        throw fsError(err, "list", full);
      }
      yield { key: relative(this.root, full).split(sep).join("/"), size: s.size, lastModified: s.mtime };
    }
  }

  /** Every entry under `start`, depth first; a folder that does not exist is empty. */
  private async *walk(start: string, signal: AbortSignal | undefined, what: string) {
    const dirs = [start];
    for (let dir = dirs.pop(); dir !== undefined; dir = dirs.pop()) {
      throwIfCancelled(signal, what);
      let entries: Dirent[];
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (errno(err) === "ENOENT") continue;
        throw fsError(err, "list", dir);
      }
      for (const entry of entries) {
        const full = join(dir, entry.name);
        if (entry.isDirectory()) dirs.push(full);
        yield { full, entry };
      }
    }
  }

  async delete(keys: readonly string[], options: OperationOptions = {}): Promise<void> {
    const paths = keys.map((k) => this.path(k));
    for (const p of paths) {
      throwIfCancelled(options.signal, `deleting ${p}`);
      try {
        await unlink(p);
      } catch (err) {
        if (errno(err) !== "ENOENT") throw fsError(err, "delete", p);
      }
      // Remove folders left empty, up to (not including) the store root.
      for (let dir = dirname(p); dir.startsWith(this.root + sep); dir = dirname(dir)) {
        if ((await readdir(dir).catch(() => ["x"])).length > 0) break;
        await rmdir(dir).catch(() => {});
      }
    }
  }

  async abortIncomplete(prefix: string, olderThan: Date, options: OperationOptions = {}): Promise<number> {
    const start = this.path(prefix, "prefix");
    await this.requireRoot();
    let n = 0;
    for await (const { full, entry } of this.walk(start, options.signal, `cleaning ${start}`)) {
      if (!entry.isFile() || !entry.name.endsWith(PART)) continue;
      const s = await stat(full).catch(() => undefined);
      if (!s || s.mtime >= olderThan) continue;
      await unlink(full).catch((err: unknown) => {
        if (errno(err) !== "ENOENT") throw fsError(err, "remove", full);
      });
      n++;
    }
    return n;
  }
}

/** Removes the directories a failed put created, innermost first; one that is no longer empty is someone else's now. */
async function removeCreated(created: readonly string[]): Promise<void> {
  for (const d of [...created].reverse()) {
    try {
      await rmdir(d);
    } catch {
      return;
    }
  }
}
