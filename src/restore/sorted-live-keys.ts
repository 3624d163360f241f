import { createHash } from "node:crypto";
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { forEachRevision } from "../snapshot/keys.js";

/** A live key as both sides of a comparison describe it: the value only by size and SHA-256. */
export interface KeyState {
  readonly key: Buffer;
  readonly createRevision: bigint;
  readonly modRevision: bigint;
  readonly version: bigint;
  readonly lease: bigint;
  readonly valueSize: number;
  readonly valueHash: Buffer;
}

interface Record extends KeyState {
  readonly tombstone: boolean;
}

export interface SortOptions {
  /** Where spilled runs go (a temp directory is made inside and removed at the end). */
  readonly scratchDir: string;
  /**
   * Records held in memory before a sorted run is spilled to disk. Bounds memory whatever the
   * number of keys; a snapshot whose revisions fit stays in memory (default 64 MiB).
   */
  readonly memoryBytes?: number;
}

/**
 * Bytes a record costs in memory beyond its key (object, four bigints, two small buffers): about 600
 * by the process's RSS on Node 20 (200,000 records of 52-byte keys took 660 bytes each).
 */
const RECORD_OVERHEAD = 640;
const READ_BLOCK = 1 << 20;

/**
 * The live keys of a snapshot in etcd's key order (bytewise), each with the state of its latest
 * revision. Bucket `key` is stored in revision order, so this is an external sort: records are
 * collected in revision order, sorted runs that keep the last revision of each key are spilled when
 * `memoryBytes` is reached, and the runs are merged (a later run holds later revisions, so it wins).
 * Reading the file and spilling happen here, synchronously; iterating then streams the merge.
 * `dispose()` removes the spilled runs (iterating to the end does too).
 */
export function sortLiveKeys(path: string, options: SortOptions): SortedLiveKeys {
  const budget = options.memoryBytes ?? 64 * 1024 * 1024;
  let dir: string | undefined;
  const runs: string[] = [];
  let batch: Record[] = [];
  let bytes = 0;
  const spill = () => {
    dir ??= mkdtempSync(join(options.scratchDir, "hcpeb-keysort-"));
    runs.push(writeRun(join(dir, `run-${runs.length}`), latestPerKey(batch)));
    batch = [];
    bytes = 0;
  };
  const dispose = () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  };
  try {
    forEachRevision(path, (e) => {
      batch.push({
        key: Buffer.from(e.key),
        tombstone: e.tombstone,
        createRevision: e.createRevision,
        modRevision: e.modRevision,
        version: e.version,
        lease: e.lease,
        valueSize: e.value.length,
        // Copied into Node's shared pool: a digest's own buffer costs a separate allocation per record.
        valueHash: Buffer.from(createHash("sha256").update(e.value).digest()),
      });
      bytes += e.key.length + RECORD_OVERHEAD;
      if (bytes >= budget) spill();
    });
    if (runs.length > 0 && batch.length > 0) spill();
  } catch (err) {
    dispose();
    throw err;
  }
  const inMemory = runs.length === 0 ? latestPerKey(batch) : [];
  batch = [];
  return {
    spilledRuns: runs.length,
    dispose,
    async *[Symbol.asyncIterator]() {
      try {
        if (runs.length === 0) {
          for (const r of inMemory) if (!r.tombstone) yield r;
        } else {
          yield* mergeRuns(runs.map((f) => new RunReader(f)));
        }
      } finally {
        dispose();
      }
    },
  };
}

export interface SortedLiveKeys extends AsyncIterable<KeyState> {
  /** How many sorted runs went to disk (0: everything fitted in memory). */
  readonly spilledRuns: number;
  dispose(): void;
}

/** Sorted by key; of several revisions of one key (in revision order in `batch`) only the last is kept. */
function latestPerKey(batch: Record[]): Record[] {
  const indexed = batch.map((r, i) => ({ r, i }));
  indexed.sort((a, b) => Buffer.compare(a.r.key, b.r.key) || a.i - b.i);
  const out: Record[] = [];
  for (let j = 0; j < indexed.length; j++) {
    const next = indexed[j + 1];
    const cur = indexed[j] as { r: Record };
    if (next?.r.key.equals(cur.r.key)) continue;
    out.push(cur.r);
  }
  return out;
}

// Run file record: u32 key length, key, u8 tombstone, 4 x i64 (create, mod, version, lease), u32 value size, 32-byte hash.
const FIXED = 1 + 4 * 8 + 4 + 32;

function writeRun(file: string, records: Record[]): string {
  const fd = openSync(file, "wx", 0o600);
  try {
    let buf = Buffer.allocUnsafe(READ_BLOCK);
    let pos = 0;
    for (const r of records) {
      const need = 4 + r.key.length + FIXED;
      if (pos + need > buf.length) {
        writeSync(fd, buf, 0, pos);
        pos = 0;
        if (need > buf.length) buf = Buffer.allocUnsafe(need);
      }
      pos = buf.writeUInt32LE(r.key.length, pos);
      pos += r.key.copy(buf, pos);
      pos = buf.writeUInt8(r.tombstone ? 1 : 0, pos);
      pos = buf.writeBigInt64LE(r.createRevision, pos);
      pos = buf.writeBigInt64LE(r.modRevision, pos);
      pos = buf.writeBigInt64LE(r.version, pos);
      pos = buf.writeBigInt64LE(r.lease, pos);
      pos = buf.writeUInt32LE(r.valueSize, pos);
      pos += r.valueHash.copy(buf, pos);
    }
    if (pos > 0) writeSync(fd, buf, 0, pos);
  } finally {
    closeSync(fd);
  }
  return file;
}

/** Reads a run back one record at a time through a 1 MiB buffer. */
class RunReader {
  private readonly fd: number;
  private buf = Buffer.alloc(0);
  private pos = 0;
  private filePos = 0;
  private eof = false;
  head: Record | undefined;

  constructor(file: string) {
    this.fd = openSync(file, "r");
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
    this.pos = p + 32;
    this.head = { key, tombstone, createRevision, modRevision, version, lease, valueSize, valueHash };
  }

  private ensure(n: number): boolean {
    if (this.buf.length - this.pos >= n) return true;
    if (this.eof) return false;
    const rest = this.buf.subarray(this.pos);
    const next = Buffer.allocUnsafe(Math.max(READ_BLOCK, n));
    rest.copy(next);
    const read = readSync(this.fd, next, rest.length, next.length - rest.length, this.filePos);
    this.filePos += read;
    if (read === 0) this.eof = true;
    this.buf = next.subarray(0, rest.length + read);
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
