import { BUCKET_LEAF_FLAG, ELEMENT_SIZE, FLAG_BRANCH, FLAG_LEAF, PAGE_HEADER_SIZE } from "./bolt-file.js";
import { crc32cPortable, createCrc32c, fnv1a64 } from "./checksums.js";
import { crc32cCombine } from "./crc32c-combine.js";
import { SnapshotFileError } from "./errors.js";
import type { SnapshotStatus } from "./status.js";

/** A logical page may span at most this much; a larger claim is garbage (a free page), never summarised. */
const MAX_SPAN = 64 * 1024 * 1024;
const MAGIC = 0xed0cdaed;

interface LeafSummary {
  crc: number;
  length: number;
  entries: number;
  /** Main revision of the page's last key (bucket `key` pages only matter). */
  lastMain: bigint;
}

/**
 * Computes `snapshot status` (etcd 3.4/3.5 semantics) from the bytes of a snapshot as they stream
 * past, in file order, without keeping them: each leaf page is reduced to a CRC-32C of its entries,
 * their byte length and count; branch pages to their child ids; pages holding buckets are kept.
 * At the end the tree is resolved in key order and the leaf CRCs are combined. Memory grows with
 * the page count (a few bytes a page), not with the data. Equal to `snapshotStatus` on the same bytes.
 */
export class StreamingStatus {
  private pageSize = 0;
  private pages = 0;
  private root = 0;
  private readonly pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Byte offset (in the bbolt image) of pending[0][0]. */
  private base = 0;
  /** Next physical page whose header we have not examined. */
  private nextPage = 0;
  /**
   * Leaf summaries by page id, in typed arrays sized from the meta page: about 19 bytes a page
   * (an 8 GiB database of 4 KiB pages: about 38 MiB), where a Map of objects took several times that.
   */
  private leafCrc = new Uint32Array(0);
  /** Bytes a leaf feeds into the hash: at most its span, so 32 bits suffice. */
  private leafLength = new Uint32Array(0);
  private leafEntries = new Uint16Array(0);
  private leafLastMain = new BigInt64Array(0);
  private isLeaf = new Uint8Array(0);
  /**
   * Branch pages: id -> offset into `children`, where the child count is followed by the child ids.
   * One growing typed array instead of an array per branch page (those took ~9 MiB of heap at 4 GiB).
   */
  private readonly branches = new Map<number, number>();
  private children = new Uint32Array(1024);
  private childrenUsed = 0;
  private readonly kept = new Map<number, Buffer>();
  private finished = false;
  private scratch = Buffer.alloc(0);

  /** The page size read from the first meta page (0 before it arrived). */
  get pageSizeBytes(): number {
    return this.pageSize;
  }

  /** Feeds the next bytes of the bbolt image (without the trailer). */
  update(chunk: Buffer): void {
    if (this.finished) throw new Error("StreamingStatus: update after finish");
    if (chunk.length === 0) return;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    this.drain(false);
  }

  /** Resolves the tree and returns the status; throws SnapshotFileError when the image is unsound. */
  finish(): SnapshotStatus {
    this.drain(true);
    this.finished = true;
    if (this.pageSize === 0) throw new SnapshotFileError("snapshot stream ended before its meta page");
    return this.resolve();
  }

  private available(): number {
    return this.base + this.pendingBytes;
  }

  /**
   * Bytes [from, from+len) of the image, which must be pending. A range inside one chunk is a view of
   * it; a range across chunks is copied into a reused scratch buffer, valid until the next call.
   */
  private bytes(from: number, len: number): Buffer {
    let start = from - this.base;
    let i = 0;
    while (start >= (this.pending[i] as Buffer).length) start -= (this.pending[i++] as Buffer).length;
    const first = this.pending[i] as Buffer;
    if (start + len <= first.length) return first.subarray(start, start + len);
    if (this.scratch.length < len) this.scratch = Buffer.allocUnsafe(Math.max(len, 2 * this.scratch.length));
    let filled = first.copy(this.scratch, 0, start);
    while (filled < len) {
      const next = this.pending[++i] as Buffer;
      filled += next.copy(this.scratch, filled, 0, Math.min(next.length, len - filled));
    }
    return this.scratch.subarray(0, len);
  }

  /** Forgets bytes before `offset`. */
  private release(offset: number): void {
    while (this.pending.length > 0) {
      const first = this.pending[0] as Buffer;
      const drop = offset - this.base;
      if (drop <= 0) return;
      if (drop >= first.length) {
        this.pending.shift();
        this.pendingBytes -= first.length;
        this.base += first.length;
      } else {
        this.pending[0] = first.subarray(drop);
        this.pendingBytes -= drop;
        this.base += drop;
      }
    }
  }

  private drain(atEnd: boolean): void {
    if (this.pageSize === 0) {
      if (this.available() < 80) return;
      const meta = this.bytes(0, 80);
      if (meta.readUInt32LE(16) !== MAGIC || fnv1a64(meta.subarray(16, 72)) !== meta.readBigUInt64LE(72)) {
        throw new SnapshotFileError("snapshot stream does not start with a valid bbolt meta page");
      }
      this.pageSize = meta.readUInt32LE(24);
      this.root = Number(meta.readBigUInt64LE(32));
      this.pages = Number(meta.readBigUInt64LE(56));
      if (this.pageSize < 1024 || (this.pageSize & (this.pageSize - 1)) !== 0) {
        throw new SnapshotFileError(`snapshot stream has an implausible page size ${this.pageSize}`);
      }
      this.nextPage = 2; // pages 0 and 1 are the metas
      if (!Number.isSafeInteger(this.pages) || this.pages >= 2 ** 32 || this.pages * this.pageSize > 64 * 1024 ** 4) {
        throw new SnapshotFileError(`snapshot stream claims an implausible ${this.pages} pages`);
      }
      this.leafCrc = new Uint32Array(this.pages);
      this.leafLength = new Uint32Array(this.pages);
      this.leafEntries = new Uint16Array(this.pages);
      this.leafLastMain = new BigInt64Array(this.pages);
      this.isLeaf = new Uint8Array(this.pages);
    }
    const ps = this.pageSize;
    while (this.nextPage < this.pages) {
      const p = this.nextPage;
      const at = p * ps;
      if (this.available() < at + PAGE_HEADER_SIZE) break;
      const head = this.bytes(at, PAGE_HEADER_SIZE);
      const flags = head.readUInt16LE(8);
      const candidate = head.readBigUInt64LE(0) === BigInt(p) && (flags === FLAG_LEAF || flags === FLAG_BRANCH);
      const overflow = head.readUInt32LE(12);
      const span = (overflow + 1) * ps;
      if (candidate && span <= MAX_SPAN && p + overflow < this.pages) {
        if (this.available() < at + span) {
          if (!atEnd) break;
        } else {
          this.summarise(p, flags, this.bytes(at, span));
        }
      }
      // Continuation pages are examined too: a free page's stale header must not hide real pages.
      this.nextPage++;
      this.release(this.nextPage * ps);
    }
    if (atEnd) this.release(this.available());
  }

  private summarise(id: number, flags: number, page: Buffer): void {
    const count = page.readUInt16LE(10);
    if (PAGE_HEADER_SIZE + ELEMENT_SIZE * count > page.length) return;
    if (flags === FLAG_BRANCH) {
      if (this.childrenUsed + count + 1 > this.children.length) {
        const grown = new Uint32Array(Math.max(2 * this.children.length, this.childrenUsed + count + 1));
        grown.set(this.children.subarray(0, this.childrenUsed));
        this.children = grown;
      }
      const at = this.childrenUsed;
      const limit = BigInt(this.pages);
      this.children[at] = count;
      for (let i = 0; i < count; i++) {
        const child = page.readBigUInt64LE(PAGE_HEADER_SIZE + ELEMENT_SIZE * i + 8);
        // Out-of-range ids are kept out of range (the walk rejects them) instead of wrapping.
        this.children[at + 1 + i] = child < limit ? Number(child) : 0xffffffff;
      }
      this.childrenUsed += count + 1;
      this.branches.set(id, at);
      return;
    }
    const leaf = summariseLeaf(page);
    if (!leaf) return; // unsound: never summarised, so a tree that reaches it fails to resolve
    this.leafCrc[id] = leaf.summary.crc;
    this.leafLength[id] = leaf.summary.length;
    this.leafEntries[id] = leaf.summary.entries;
    this.leafLastMain[id] = leaf.summary.lastMain;
    this.isLeaf[id] = 1;
    if (leaf.holdsBuckets) this.kept.set(id, Buffer.from(page));
  }

  private leaf(id: number): LeafSummary | undefined {
    if (!(id >= 0 && id < this.pages && this.isLeaf[id] === 1)) return undefined;
    return {
      crc: this.leafCrc[id] as number,
      length: this.leafLength[id] as number,
      entries: this.leafEntries[id] as number,
      lastMain: this.leafLastMain[id] as bigint,
    };
  }

  /** Pushes a branch page's children onto `stack`, last first (so they pop in key order); false if not a branch. */
  private pushChildren(id: number, stack: number[]): boolean {
    const at = this.branches.get(id);
    if (at === undefined) return false;
    const count = this.children[at] as number;
    for (let i = count; i >= 1; i--) stack.push(this.children[at + i] as number);
    return true;
  }

  /** Leaf summaries of the tree rooted at `root`, in key order, one at a time (nothing collected). */
  private *leavesOf(root: number, seen: Uint8Array): Generator<LeafSummary> {
    const stack = [root];
    while (stack.length > 0) {
      const id = stack.pop() as number;
      if (id < 0 || id >= this.pages)
        throw new SnapshotFileError(`snapshot integrity check failed: page ${id} is out of bounds`);
      if (seen[id] === 1)
        throw new SnapshotFileError(`snapshot integrity check failed: page ${id}: multiple references`);
      seen[id] = 1;
      if (this.pushChildren(id, stack)) continue;
      const leaf = this.leaf(id);
      if (!leaf) {
        throw new SnapshotFileError(`snapshot integrity check failed: page ${id} is not a sound branch or leaf page`);
      }
      yield leaf;
    }
  }

  private resolve(): SnapshotStatus {
    const seen = new Uint8Array(this.pages);
    const rootLeaves: Array<{ id: number; page: Buffer }> = [];
    // The root bucket's own pages: the leaves among them are kept whole (their entries are buckets).
    const stack = [this.root];
    while (stack.length > 0) {
      const id = stack.pop() as number;
      if (id < 0 || id >= this.pages || seen[id] === 1) {
        throw new SnapshotFileError(
          `snapshot integrity check failed: root bucket page ${id} is out of bounds or referenced twice`,
        );
      }
      if (this.pushChildren(id, stack)) {
        seen[id] = 1;
        continue;
      }
      const page = this.kept.get(id) ?? (this.leaf(id)?.entries === 0 ? Buffer.alloc(PAGE_HEADER_SIZE) : undefined);
      if (!page)
        throw new SnapshotFileError(`snapshot integrity check failed: root page ${id} is not a sound leaf page`);
      seen[id] = 1;
      rootLeaves.push({ id, page });
    }
    let crc = 0;
    let total = 0;
    let revision = 0n;
    for (const { page } of rootLeaves) {
      const count = page.readUInt16LE(10);
      for (let i = 0; i < count; i++) {
        const at = PAGE_HEADER_SIZE + ELEMENT_SIZE * i;
        const f = page.readUInt32LE(at);
        const pos = page.readUInt32LE(at + 4);
        const ksize = page.readUInt32LE(at + 8);
        const vsize = page.readUInt32LE(at + 12);
        const name = page.subarray(at + pos, at + pos + ksize);
        const value = page.subarray(at + pos + ksize, at + pos + ksize + vsize);
        if ((f & BUCKET_LEAF_FLAG) === 0 || value.length < 16) {
          throw new SnapshotFileError(`cannot get hash of bucket ${name.toString("latin1")}`);
        }
        crc = crc32cCombine(crc, crc32cPortable(name), name.length);
        const bucketRoot = value.readBigUInt64LE(0);
        const isKey = name.toString("latin1") === "key";
        const leaves =
          bucketRoot === 0n ? [inlineSummary(value.subarray(16))] : this.leavesOf(Number(bucketRoot), seen);
        for (const leaf of leaves) {
          crc = crc32cCombine(crc, leaf.crc, leaf.length);
          total += leaf.entries;
          if (isKey && leaf.entries > 0) revision = leaf.lastMain;
        }
      }
    }
    return { hash: crc >>> 0, revision, totalKey: total, totalSize: this.pages * this.pageSize };
  }
}

/** An inline bucket's entries, summarised like a leaf page. */
function inlineSummary(page: Buffer): LeafSummary {
  const leaf = page.length >= PAGE_HEADER_SIZE ? summariseLeaf(page) : undefined;
  if (!leaf) throw new SnapshotFileError("snapshot integrity check failed: inline bucket element out of bounds");
  return leaf.summary;
}

/** Reused for every leaf: a fresh one per page allocated a 64 KiB batch buffer each time. */
const leafCrc = createCrc32c();

/**
 * A leaf page (or inline bucket page) reduced to the CRC-32C of its entries as the status walk
 * hashes them (key, then value unless the entry is a bucket), their byte length and count, and the
 * main revision of its last key. Undefined when an element lies outside the page.
 */
function summariseLeaf(page: Buffer): { summary: LeafSummary; holdsBuckets: boolean } | undefined {
  const count = page.readUInt16LE(10);
  if (PAGE_HEADER_SIZE + ELEMENT_SIZE * count > page.length) return undefined;
  const crc = leafCrc;
  let length = 0;
  let lastMain = 0n;
  let holdsBuckets = false;
  for (let i = 0; i < count; i++) {
    const at = PAGE_HEADER_SIZE + ELEMENT_SIZE * i;
    const f = page.readUInt32LE(at);
    const pos = page.readUInt32LE(at + 4);
    const ksize = page.readUInt32LE(at + 8);
    const vsize = page.readUInt32LE(at + 12);
    const k = at + pos;
    if (ksize === 0 || k + ksize + vsize > page.length) {
      crc.digest(); // discard what this page fed
      return undefined;
    }
    crc.update(page.subarray(k, k + ksize));
    length += ksize;
    if ((f & BUCKET_LEAF_FLAG) !== 0) holdsBuckets = true;
    else {
      crc.update(page.subarray(k + ksize, k + ksize + vsize));
      length += vsize;
    }
    if (i === count - 1 && ksize >= 8) lastMain = page.readBigInt64BE(k);
  }
  return { summary: { crc: crc.digest(), length, entries: count, lastMain }, holdsBuckets };
}
