import { createHash } from "node:crypto";
import { closeSync, openSync, readSync, writeSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { OperationError } from "../errors.js";
import { SnapshotFileError } from "../snapshot/errors.js";
import { forEachRevision } from "../snapshot/keys.js";
import { runWorker, sibling } from "../worker.js";

/** A live key as both sides of a comparison describe it: the value only by size and SHA-256. */
export interface KeyState {
  readonly key: Buffer;
  readonly createRevision: bigint;
  readonly modRevision: bigint;
  readonly version: bigint;
  readonly lease: bigint;
  readonly valueSize: number;
  /** SHA-256 of the value; zeros when the sort carried the value itself (`values`). */
  readonly valueHash: Buffer;
  /** The value itself, when the sort was asked to carry it (`values`). */
  readonly value?: Buffer;
}

interface Record extends KeyState {
  readonly tombstone: boolean;
}

export interface SortProgress {
  /** Revisions of bucket `key` read so far. */
  readonly revisions: number;
  /** Sorted runs written so far. */
  readonly runs: number;
}

export interface SortOptions {
  /** Where the sorted runs go (a directory is made inside and removed by `dispose()`). */
  readonly scratchDir: string;
  /**
   * Bytes of packed records sorted at once before a run is written (default 8 MiB): bounds the
   * sort's memory whatever the number of keys.
   */
  readonly memoryBytes?: number;
  /** Stops the sort at once (its thread is terminated) and removes what it wrote. */
  readonly signal?: AbortSignal;
  /** Called after each run written and every PROGRESS_EVERY revisions. */
  readonly onProgress?: (p: SortProgress) => void;
  /** Only keys that start with these bytes (default: every key). */
  readonly prefix?: Buffer;
  /**
   * Carry each key's latest value through the runs (what `get -A` and `diff` print) instead of its
   * SHA-256: the runs then take about as much disk as the selected values, memory stays as bounded.
   */
  readonly values?: boolean;
}

export interface SortedLiveKeys extends AsyncIterable<KeyState> {
  /** How many sorted runs the sort wrote (they are merged as a stream while iterating). */
  readonly runs: number;
  /** Revisions of bucket `key` the sort read. */
  readonly revisions: number;
  /**
   * The run files, to merge them again from the first (readSortedRuns), on any thread: a caller may
   * go through them twice without sorting twice. Removed by dispose().
   */
  readonly runFiles: readonly string[];
  /** Removes the runs (iterating to the end does too). */
  dispose(): Promise<void>;
}

const DEFAULT_MEMORY = 8 * 1024 * 1024;
const PROGRESS_EVERY = 10_000;
const IO_BLOCK = 1 << 20;
/**
 * What each run's reader buffers when the runs carry values: there is a run per `memoryBytes` of
 * selected values, all read at once by the merge, so a smaller buffer keeps the merge's memory flat
 * (200 runs of a 3 GiB selection hold 12.5 MiB) while each read stays a sequential 64 KiB.
 */
const VALUE_RUN_BLOCK = 64 * 1024;
// A packed record, in memory and in a run file alike: u32 key length, key, u8 tombstone,
// 4 x i64 (create, mod, version, lease), u32 value size, 32-byte SHA-256 of the value; when the
// sort carries values, the value's bytes follow (and the hash is zeros: nothing compares it).
const FIXED = 1 + 4 * 8 + 4 + 32;
const SIZE_AT = 1 + 4 * 8; // the value size's offset after the key
const NO_HASH = Buffer.alloc(32);

/**
 * The live keys of a snapshot in etcd's key order (bytewise), each with the state of its latest
 * revision. Bucket `key` is stored in revision order, so this is an external sort, run on a worker
 * thread (so a signal is answered at once, and its memory is gone when it ends): records are packed
 * into one buffer of `memoryBytes`, each full buffer is sorted and written as a run keeping the last
 * revision of each key, and iterating merges the runs from disk (a later run holds later revisions,
 * so it wins). Memory stays flat whatever the size of the snapshot.
 */
export async function sortLiveKeys(path: string, options: SortOptions): Promise<SortedLiveKeys> {
  const dir = await mkdtemp(join(options.scratchDir, "hcpeb-keysort-"));
  const dispose = () => rm(dir, { recursive: true, force: true });
  try {
    const done = await inWorker(path, dir, options);
    const values = options.values === true;
    return {
      runs: done.runs.length,
      revisions: done.revisions,
      runFiles: done.runs,
      dispose,
      async *[Symbol.asyncIterator]() {
        try {
          yield* mergeRuns(done.runs.map((f) => new RunReader(f, values)));
        } finally {
          await dispose();
        }
      },
    };
  } catch (err) {
    await dispose();
    throw err;
  }
}

interface WorkerInput {
  readonly sortLiveKeysOf: string;
  readonly dir: string;
  readonly memoryBytes: number;
  readonly select: Selection;
}

/** Which keys the runs hold, and whether with their values. */
export interface Selection {
  readonly prefix?: Uint8Array;
  readonly values?: boolean;
}

function inWorker(path: string, dir: string, options: SortOptions): Promise<{ runs: string[]; revisions: number }> {
  const input: WorkerInput = {
    sortLiveKeysOf: path,
    dir,
    memoryBytes: options.memoryBytes ?? DEFAULT_MEMORY,
    select: { ...(options.prefix ? { prefix: options.prefix } : {}), values: options.values === true },
  };
  return runWorker(sibling(import.meta.url, "sort-worker"), input, {
    what: "sorting the snapshot's keys",
    signal: options.signal,
    onProgress: options.onProgress,
    failure: (f) =>
      f.kind === "snapshot"
        ? new SnapshotFileError(f.message)
        : new OperationError(`sorting the keys of ${path} failed: ${f.message}`),
  });
}

/** The worker's side (see sort-worker.ts): reads the snapshot, writes sorted runs to `dir`. */
export function writeSortedRuns(
  path: string,
  dir: string,
  memoryBytes: number,
  onProgress: (p: SortProgress) => void,
  select: Selection = {},
): { runs: string[]; revisions: number } {
  let arena = Buffer.allocUnsafe(memoryBytes);
  let used = 0;
  let offsets = new Uint32Array(1024);
  let count = 0;
  let revisions = 0;
  const values = select.values === true;
  const prefix = select.prefix ? Buffer.from(select.prefix) : undefined;
  const runs: string[] = [];
  const spill = () => {
    runs.push(
      writeRun(join(dir, `run-${runs.length}`), arena, latestPerKey(arena, offsets.subarray(0, count)), values),
    );
    used = 0;
    count = 0;
    onProgress({ revisions, runs: runs.length });
  };
  const main = arena;
  forEachRevision(path, (e) => {
    if (prefix && (e.key.length < prefix.length || e.key.compare(prefix, 0, prefix.length, 0, prefix.length) !== 0))
      return;
    const need = 4 + e.key.length + FIXED + (values ? e.value.length : 0);
    if (count > 0 && used + need > arena.length) spill();
    // A record larger than the sort's memory (a value bigger than it) is a run of its own: it is
    // packed into a buffer of its size, written, and the buffer let go.
    if (need > main.length) arena = Buffer.allocUnsafe(need);
    if (count === offsets.length) {
      const grown = new Uint32Array(offsets.length * 2);
      grown.set(offsets);
      offsets = grown;
    }
    offsets[count++] = used;
    let p = arena.writeUInt32LE(e.key.length, used);
    p += e.key.copy(arena, p);
    p = arena.writeUInt8(e.tombstone ? 1 : 0, p);
    p = arena.writeBigInt64LE(e.createRevision, p);
    p = arena.writeBigInt64LE(e.modRevision, p);
    p = arena.writeBigInt64LE(e.version, p);
    p = arena.writeBigInt64LE(e.lease, p);
    p = arena.writeUInt32LE(e.value.length, p);
    if (values) {
      p += NO_HASH.copy(arena, p);
      p += e.value.copy(arena, p);
    } else p += createHash("sha256").update(e.value).digest().copy(arena, p);
    used = p;
    if (arena !== main) {
      spill();
      arena = main;
    }
    if (++revisions % PROGRESS_EVERY === 0) onProgress({ revisions, runs: runs.length });
  });
  if (count > 0 || runs.length === 0) spill();
  return { runs, revisions };
}

/**
 * The records at `offsets` (in revision order) sorted by key, keeping of several revisions of one
 * key only the last. Compares in place in the arena: no object per record.
 */
function latestPerKey(arena: Buffer, offsets: Uint32Array): Uint32Array {
  const keyEnd = (o: number) => o + 4 + arena.readUInt32LE(o);
  offsets.sort((a, b) => arena.compare(arena, b + 4, keyEnd(b), a + 4, keyEnd(a)) || a - b);
  let out = 0;
  for (let j = 0; j < offsets.length; j++) {
    const cur = offsets[j] as number;
    const next = offsets[j + 1];
    if (next !== undefined && arena.compare(arena, next + 4, keyEnd(next), cur + 4, keyEnd(cur)) === 0) continue;
    offsets[out++] = cur;
  }
  return offsets.subarray(0, out);
}

/** Bytes of the packed record at `o`: key, fixed fields and, when carried, the value. */
function recordLength(arena: Buffer, o: number, values: boolean): number {
  const keyLen = arena.readUInt32LE(o);
  return 4 + keyLen + FIXED + (values ? arena.readUInt32LE(o + 4 + keyLen + SIZE_AT) : 0);
}

function writeRun(file: string, arena: Buffer, offsets: Uint32Array, values: boolean): string {
  const fd = openSync(file, "wx", 0o600);
  try {
    const buf = Buffer.allocUnsafe(IO_BLOCK);
    let pos = 0;
    for (const o of offsets) {
      const len = recordLength(arena, o, values);
      if (pos + len > buf.length) {
        writeSync(fd, buf, 0, pos);
        pos = 0;
      }
      if (len > buf.length) writeSync(fd, arena, o, len);
      else pos += arena.copy(buf, pos, o, o + len);
    }
    if (pos > 0) writeSync(fd, buf, 0, pos);
  } finally {
    closeSync(fd);
  }
  return file;
}

/**
 * Reads a run back one record at a time through one buffer (1 MiB, or VALUE_RUN_BLOCK when the run
 * carries values), refilled in place: it grows only for a record larger than itself.
 */
class RunReader {
  private readonly fd: number;
  private store: Buffer;
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  private filePos = 0;
  private eof = false;
  head: Record | undefined;

  constructor(
    file: string,
    private readonly values: boolean,
  ) {
    this.fd = openSync(file, "r");
    this.store = Buffer.allocUnsafe(values ? VALUE_RUN_BLOCK : IO_BLOCK);
    this.advance();
  }

  advance(): void {
    if (!this.ensure(4)) {
      this.finish();
      return;
    }
    const keyLen = this.buf.readUInt32LE(this.pos);
    if (!this.ensure(4 + keyLen + FIXED)) {
      this.finish();
      return;
    }
    const valueLen = this.values ? this.buf.readUInt32LE(this.pos + 4 + keyLen + SIZE_AT) : 0;
    if (valueLen > 0 && !this.ensure(4 + keyLen + FIXED + valueLen)) {
      this.finish();
      return;
    }
    let p = this.pos + 4;
    const key = Buffer.from(this.buf.subarray(p, p + keyLen));
    p += keyLen;
    const tombstone = this.buf.readUInt8(p) === 1;
    p += 1;
    const createRevision = this.buf.readBigInt64LE(p);
    const modRevision = this.buf.readBigInt64LE(p + 8);
    const version = this.buf.readBigInt64LE(p + 16);
    const lease = this.buf.readBigInt64LE(p + 24);
    p += 32;
    const valueSize = this.buf.readUInt32LE(p);
    p += 4;
    const valueHash = Buffer.from(this.buf.subarray(p, p + 32));
    p += 32;
    const value = this.values ? Buffer.from(this.buf.subarray(p, p + valueLen)) : undefined;
    this.pos = p + valueLen;
    this.head = { key, tombstone, createRevision, modRevision, version, lease, valueSize, valueHash, value };
  }

  private ensure(n: number): boolean {
    if (this.buf.length - this.pos >= n) return true;
    if (this.eof) return false;
    // Records handed out are copies (Buffer.from), so the buffer can be refilled in place.
    const rest = this.buf.subarray(this.pos);
    if (this.store.length < n) {
      const bigger = Buffer.allocUnsafe(n);
      rest.copy(bigger);
      this.store = bigger;
    } else rest.copy(this.store); // memmove: the rest may overlap its new place
    const keep = rest.length;
    const read = readSync(this.fd, this.store, keep, this.store.length - keep, this.filePos);
    this.filePos += read;
    if (read === 0) this.eof = true;
    this.buf = this.store.subarray(0, keep + read);
    this.pos = 0;
    return this.buf.length >= n;
  }

  private finish(): void {
    this.head = undefined;
    closeSync(this.fd);
  }

  close(): void {
    if (this.head !== undefined) this.finish();
  }
}

/** The records of the runs a sort wrote (`runFiles`, `values` as it was asked), merged in key order. */
export function readSortedRuns(files: readonly string[], values: boolean): Generator<KeyState> {
  return mergeRuns(files.map((f) => new RunReader(f, values)));
}

/** k-way merge of sorted runs; for a key present in several runs the latest run's record wins. */
function* mergeRuns(readers: RunReader[]): Generator<Record> {
  try {
    for (;;) {
      let least: Buffer | undefined;
      for (const r of readers) if (r.head && (!least || Buffer.compare(r.head.key, least) < 0)) least = r.head.key;
      if (!least) return;
      let latest: Record | undefined;
      for (const r of readers) {
        if (r.head?.key.equals(least)) {
          latest = r.head;
          r.advance();
        }
      }
      if (latest && !latest.tombstone) yield latest;
    }
  } finally {
    for (const r of readers) r.close();
  }
}
