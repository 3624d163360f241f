import { constants, createReadStream } from "node:fs";
import { access, mkdir, open, readdir, readFile, rename, rm, rmdir, stat, unlink } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";
import { pathToFileURL } from "node:url";
import { OperationError, StoreError } from "../errors.js";
import type { PutOptions, Store, StoredObject } from "./store.js";

const PART = ".part";
const WRITE_BATCH = 4 * 1024 * 1024;

/**
 * A directory as a store: the embedded default, no cloud needed. Objects are written to
 * `<key>.part` (mode 0600: snapshots hold every secret of the cluster), fsynced and renamed.
 */
export class LocalStore implements Store {
  readonly root: string;
  readonly url: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.url = pathToFileURL(this.root).toString();
  }

  private path(key: string): string {
    const p = resolve(this.root, key);
    if (p !== this.root && !p.startsWith(this.root + sep))
      throw new OperationError(`key "${key}" escapes the store ${this.root}`);
    return p;
  }

  urlOf(key: string): string {
    return this.path(key);
  }

  async put(key: string, body: AsyncIterable<Buffer> | Buffer, options: PutOptions = {}): Promise<void> {
    const target = this.path(key);
    await mkdir(dirname(target), { recursive: true, mode: 0o700 });
    const part = target + PART;
    const fh = await open(part, "w", 0o600);
    try {
      if (Buffer.isBuffer(body)) await fh.write(body);
      else {
        // etcd sends 32 KiB pieces: one write per piece costs a thread-pool round trip each; gather 4 MiB.
        let batch: Buffer[] = [];
        let batched = 0;
        for await (const chunk of body) {
          if (options.signal?.aborted) throw new OperationError(`writing ${target} was cancelled`);
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
      await fh.sync();
      await fh.close();
      await rename(part, target);
    } catch (err) {
      await fh.close().catch(() => {});
      await unlink(part).catch(() => {});
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOSPC")
        throw new OperationError(`no space left on the device while writing ${target}; nothing was kept`, {
          cause: err,
        });
      throw err;
    }
  }

  async check(): Promise<void> {
    try {
      await mkdir(this.root, { recursive: true, mode: 0o700 });
      await access(this.root, constants.W_OK);
    } catch (err) {
      throw new StoreError(`cannot write to ${this.root}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }

  async *get(key: string): AsyncIterable<Buffer> {
    const p = this.path(key);
    if (!(await this.exists(key))) throw new OperationError(`${p} does not exist`);
    yield* createReadStream(p, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>;
  }

  async read(key: string): Promise<Buffer> {
    try {
      return await readFile(this.path(key));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT")
        throw new OperationError(`${this.path(key)} does not exist`);
      throw err;
    }
  }

  async exists(key: string): Promise<boolean> {
    return stat(this.path(key)).then(
      (s) => s.isFile(),
      () => false,
    );
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    const start = this.path(prefix);
    const dirs = [start];
    for (let dir = dirs.pop(); dir !== undefined; dir = dirs.pop()) {
      let entries: import("node:fs").Dirent[];
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
        throw err;
      }
      for (const e of entries) {
        const full = join(dir, e.name);
        if (e.isDirectory()) dirs.push(full);
        else if (e.isFile() && !e.name.endsWith(PART)) {
          const s = await stat(full);
          yield { key: relative(this.root, full).split(sep).join("/"), size: s.size, lastModified: s.mtime };
        }
      }
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) {
      const p = this.path(key);
      await rm(p, { force: true });
      // Remove folders left empty, up to the store root.
      for (let dir = dirname(p); dir.startsWith(this.root + sep); dir = dirname(dir)) {
        if ((await readdir(dir).catch(() => ["x"])).length > 0) break;
        await rmdir(dir).catch(() => {});
      }
    }
  }

  async abortIncomplete(prefix: string, olderThan: Date): Promise<number> {
    let n = 0;
    const dirs = [this.path(prefix)];
    for (let dir = dirs.pop(); dir !== undefined; dir = dirs.pop()) {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const e of entries) {
        const full = join(dir, e.name);
        if (e.isDirectory()) dirs.push(full);
        else if (e.name.endsWith(PART) && (await stat(full)).mtime < olderThan) {
          await unlink(full);
          n++;
        }
      }
    }
    return n;
  }
}
