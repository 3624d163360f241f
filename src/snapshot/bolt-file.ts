import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { fnv1a64 } from "./checksums.js";
import { SnapshotFileError, unreadableSnapshot } from "./errors.js";

export const PAGE_HEADER_SIZE = 16;
export const ELEMENT_SIZE = 16;
export const BUCKET_HEADER_SIZE = 16;
export const FLAG_BRANCH = 0x01;
export const FLAG_LEAF = 0x02;
export const FLAG_META = 0x04;
export const FLAG_FREELIST = 0x10;
/** Leaf element flag: the value is a bucket header, not data. */
export const BUCKET_LEAF_FLAG = 0x01;
export const NO_FREELIST = 0xffffffffffffffffn;
export const TRAILER_SIZE = 32;

const MAGIC = 0xed0cdaed;
const MAGIC_BIG_ENDIAN = 0xedda0ced;
const VERSION = 2;
/** A corrupted overflow count must not make us allocate gigabytes for one page. */
const MAX_SPAN_BYTES = 256 * 1024 * 1024;

/** One of the two meta pages, as stored. */
export interface Meta {
  readonly pageId: 0 | 1;
  readonly magic: number;
  readonly version: number;
  readonly pageSize: number;
  readonly root: bigint;
  readonly freelist: bigint;
  /** High-water mark: the number of pages in the database; valid page ids are below it. */
  readonly pgid: bigint;
  readonly txid: bigint;
  readonly checksum: bigint;
  /** Why this meta is unusable, or undefined when it validates. */
  readonly invalid?: string;
}

export interface Page {
  readonly id: number;
  /** The id written in the page header (equals `id` in a sound file). */
  readonly headerId: bigint;
  readonly flags: number;
  readonly count: number;
  readonly overflow: number;
  /** The page and its overflow continuation: (overflow + 1) * pageSize bytes. */
  readonly data: Buffer;
}

export class PageError extends Error {
  constructor(
    readonly pageId: number,
    message: string,
  ) {
    super(message);
  }
}

export function hasTrailer(fileSize: number): boolean {
  return fileSize % 512 === TRAILER_SIZE;
}

function parseMeta(buf: Buffer, pageId: 0 | 1): Meta {
  const meta = {
    pageId,
    magic: buf.readUInt32LE(16),
    version: buf.readUInt32LE(20),
    pageSize: buf.readUInt32LE(24),
    root: buf.readBigUInt64LE(32),
    freelist: buf.readBigUInt64LE(48),
    pgid: buf.readBigUInt64LE(56),
    txid: buf.readBigUInt64LE(64),
    checksum: buf.readBigUInt64LE(72),
  };
  let invalid: string | undefined;
  if (meta.magic === MAGIC_BIG_ENDIAN) invalid = "big-endian bbolt file (s390x/ppc64): unsupported";
  else if (meta.magic !== MAGIC) invalid = `bad magic 0x${meta.magic.toString(16)} (not a bbolt file)`;
  else if (meta.version !== VERSION) invalid = `unsupported bbolt version ${meta.version}`;
  else if (fnv1a64(buf.subarray(16, 72)) !== meta.checksum) invalid = "checksum mismatch";
  else if (meta.pageSize < 1024 || meta.pageSize > 1 << 24 || (meta.pageSize & (meta.pageSize - 1)) !== 0) {
    invalid = `implausible page size ${meta.pageSize}`;
  }
  return invalid ? { ...meta, invalid } : meta;
}

/**
 * A bbolt database file (an etcd snapshot, trailer included, or a raw `member/snap/db`), read with
 * positional reads through a byte-budgeted block cache: memory stays flat whatever the file size.
 */
export class BoltFile {
  readonly path: string;
  readonly fileSize: number;
  readonly hasTrailer: boolean;
  /** Bytes of the bbolt image: the file without its SHA-256 trailer. */
  readonly dataSize: number;
  readonly pageSize: number;
  readonly metas: readonly [Meta | undefined, Meta | undefined];
  /** The meta bbolt would use (the valid one with the higher txid). */
  readonly meta: Meta;
  readonly highWaterMark: number;
  private readonly fd: number;
  private readonly cache = new Map<number, Buffer>();
  /** Block buffers evicted from the cache, ready for reuse. */
  private readonly spare: Buffer[] = [];
  /** Reused for leaf pages with overflow (large values), which the walk finishes before reading on. */
  private scratch = Buffer.alloc(0);
  private readonly blockSize: number;
  private readonly cacheBlocks: number;

  private constructor(path: string, fd: number, options: { cacheBytes?: number }) {
    this.path = path;
    this.fd = fd;
    this.fileSize = fstatSync(fd).size;
    this.hasTrailer = hasTrailer(this.fileSize);
    this.dataSize = this.hasTrailer ? this.fileSize - TRAILER_SIZE : this.fileSize;
    if (this.fileSize < 1024)
      throw new SnapshotFileError(`${path} is not an etcd snapshot: only ${this.fileSize} bytes`);

    const first = this.readRaw(0, Math.min(4096, this.fileSize));
    const meta0 = parseMeta(first, 0);
    let pageSize: number | undefined = meta0.invalid ? undefined : meta0.pageSize;
    let meta1: Meta | undefined;
    if (pageSize === undefined) {
      // Meta 0 is damaged: find meta 1 by probing the page sizes bbolt can have.
      for (let i = 0; i <= 14; i++) {
        const off = 1024 << i;
        if (off >= this.fileSize - 1024) break;
        const m = parseMeta(this.readRaw(off, 1024), 1);
        if (!m.invalid && m.pageSize === off) {
          pageSize = off;
          meta1 = m;
          break;
        }
      }
    } else if (pageSize + 1024 <= this.fileSize) {
      meta1 = parseMeta(this.readRaw(pageSize, Math.min(4096, this.fileSize - pageSize)), 1);
    }
    if (pageSize === undefined) {
      throw new SnapshotFileError(
        `${path} is not a usable bbolt file: meta page 0 ${meta0.invalid}, and no valid meta page 1 found`,
      );
    }
    this.pageSize = pageSize;
    this.metas = [meta0, meta1];
    // bbolt: prefer the higher txid (ties go to meta 0) if it validates, else the other one.
    const valid0 = meta0.invalid ? undefined : meta0;
    const valid1 = meta1 && !meta1.invalid && meta1.pageSize === pageSize ? meta1 : undefined;
    const preferred = valid1 && (!valid0 || valid1.txid > valid0.txid) ? valid1 : valid0;
    const chosen = preferred ?? valid1 ?? valid0;
    if (!chosen) throw new SnapshotFileError(`${path}: checksum error in both meta pages`);
    this.meta = chosen;
    if (chosen.pgid < 2n || chosen.pgid > BigInt(Number.MAX_SAFE_INTEGER) / BigInt(pageSize)) {
      throw new SnapshotFileError(`${path}: implausible page count ${chosen.pgid} in meta page ${chosen.pageId}`);
    }
    this.highWaterMark = Number(chosen.pgid);
    // Blocks of at least 1 MiB (and a whole number of pages) keep the syscall count low on big files.
    this.blockSize = Math.max(256 * 1024, pageSize);
    this.cacheBlocks = Math.max(4, Math.floor((options.cacheBytes ?? 16 * 1024 * 1024) / this.blockSize));
  }

  static open(path: string, options: { cacheBytes?: number } = {}): BoltFile {
    let fd: number;
    try {
      fd = openSync(path, "r");
    } catch (err) {
      throw unreadableSnapshot(path, err);
    }
    // Linux opens a directory for reading without complaint; only the first read would fail.
    if (fstatSync(fd).isDirectory()) {
      closeSync(fd);
      throw unreadableSnapshot(path, "is a directory");
    }
    try {
      return new BoltFile(path, fd, options);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  /** `tx.Size()`: the logical database size, what `snapshot status` calls total size. */
  get totalSize(): number {
    return this.highWaterMark * this.pageSize;
  }

  close(): void {
    this.cache.clear();
    closeSync(this.fd);
  }

  /** Reads exactly `length` bytes at `position`; bytes past the end of the file read as zeros. */
  readRaw(position: number, length: number): Buffer {
    const buf = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, buf, done, length - done, position + done);
      if (n === 0) break;
      done += n;
    }
    return buf;
  }

  private block(index: number): Buffer {
    const hit = this.cache.get(index);
    if (hit) {
      this.cache.delete(index);
      this.cache.set(index, hit);
      return hit;
    }
    const start = index * this.blockSize;
    const length = Math.max(0, Math.min(this.blockSize, this.dataSize - start));
    // Evicted blocks are recycled: nothing outlives its block but leaf pages, which the walk
    // finishes before reading on (branch pages are copied out in page()).
    const buf = (this.spare.pop() ?? Buffer.allocUnsafe(this.blockSize)).subarray(0, length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, buf, done, length - done, start + done);
      if (n === 0) break;
      done += n;
    }
    buf.fill(0, done);
    this.cache.set(index, buf);
    if (this.cache.size > this.cacheBlocks) {
      const oldest = this.cache.keys().next().value as number;
      const evicted = this.cache.get(oldest) as Buffer;
      this.cache.delete(oldest);
      this.spare.push(Buffer.from(evicted.buffer, evicted.byteOffset, this.blockSize));
    }
    return buf;
  }

  /** Bytes [position, position+length) of the bbolt image, zero-filled past its end. */
  private read(position: number, length: number, into?: Buffer): Buffer {
    const index = Math.floor(position / this.blockSize);
    const offset = position - index * this.blockSize;
    if (offset + length <= this.blockSize) {
      const block = this.block(index);
      if (offset + length <= block.length) return block.subarray(offset, offset + length);
    }
    const buf = into ? into.subarray(0, length) : Buffer.allocUnsafe(length);
    let done = 0;
    const avail = Math.max(0, Math.min(length, this.dataSize - position));
    while (done < avail) {
      const n = readSync(this.fd, buf, done, avail - done, position + done);
      if (n === 0) break;
      done += n;
    }
    buf.fill(0, done);
    return buf;
  }

  /**
   * Page `id` with its overflow pages. Throws PageError when the page cannot be addressed: beyond
   * the high-water mark, beyond the end of the file, or with an overflow count running past either.
   * Header content (id, type) is left for the caller to judge.
   *
   * A leaf page's data is valid until the caller reads another page (its buffer is reused: the
   * cache recycles blocks, overflowing leaves share one scratch buffer). Other pages stay valid.
   */
  page(id: number): Page {
    if (!Number.isSafeInteger(id) || id < 0 || id >= this.highWaterMark) {
      throw new PageError(id, `page ${id} is out of bounds (the database has ${this.highWaterMark} pages)`);
    }
    const position = id * this.pageSize;
    if (position >= this.dataSize) {
      throw new PageError(id, `page ${id} lies beyond the end of the file (${this.dataSize} bytes of data): truncated`);
    }
    const head = this.read(position, this.pageSize);
    const overflow = head.readUInt32LE(12);
    const flags = head.readUInt16LE(8);
    if (id + overflow >= this.highWaterMark) {
      throw new PageError(
        id,
        `page ${id} claims ${overflow} overflow pages, past the high-water mark ${this.highWaterMark}`,
      );
    }
    const span = (overflow + 1) * this.pageSize;
    if (span > MAX_SPAN_BYTES) throw new PageError(id, `page ${id} claims an implausible span of ${span} bytes`);
    let data: Buffer;
    if (flags === FLAG_LEAF) {
      if (overflow === 0) data = head;
      else {
        if (this.scratch.length < span) this.scratch = Buffer.allocUnsafe(Math.max(span, this.scratch.length * 2));
        data = this.read(position, span, this.scratch);
      }
    } else {
      // Branch (and other) pages stay on the walk's stack while blocks are recycled: they get their own copy.
      data = Buffer.from(overflow === 0 ? head : this.read(position, span));
    }
    return {
      id,
      headerId: data.readBigUInt64LE(0),
      flags,
      count: head.readUInt16LE(10),
      overflow,
      data,
    };
  }
}
