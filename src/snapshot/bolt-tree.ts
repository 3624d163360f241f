import {
  type BoltFile,
  BUCKET_HEADER_SIZE,
  BUCKET_LEAF_FLAG,
  ELEMENT_SIZE,
  FLAG_BRANCH,
  FLAG_LEAF,
  PAGE_HEADER_SIZE,
  PageError,
} from "./bolt-file.js";

/** Where a bucket's entries live: its own B+tree, or a leaf page inlined in the parent's value. */
export type BucketRef = { readonly root: number } | { readonly inline: Buffer };

/** A leaf entry. `key`/`value` are views into cached pages: valid during the callback only. */
export interface Entry {
  readonly key: Buffer;
  readonly value: Buffer;
  readonly isBucket: boolean;
  readonly flags: number;
}

export interface Problem {
  readonly code: string;
  readonly message: string;
  readonly page?: number;
  readonly offset?: number;
}

export class Bitset {
  private readonly bits: Uint8Array;
  constructor(readonly size: number) {
    this.bits = new Uint8Array(Math.ceil(size / 8));
  }
  has(i: number): boolean {
    return ((this.bits[i >> 3] as number) & (1 << (i & 7))) !== 0;
  }
  set(i: number): void {
    this.bits[i >> 3] = (this.bits[i >> 3] as number) | (1 << (i & 7));
  }
}

export interface WalkOptions {
  /** Pages reached so far, shared by every bucket of one walk: a page reached twice is reported, not re-entered. */
  readonly visited: Bitset;
  /** Receives each problem. Throwing stops the walk (status); returning skips the damaged part (verify). */
  readonly report: (problem: Problem) => void;
  /** Also check key order (bbolt >= 1.3.7 does; etcd 3.4's status does not). */
  readonly checkOrder: boolean;
  /**
   * Start at the first key at or above this one: a seek, so subtrees wholly below it are not read
   * (the tail of bucket `key` without its revisions before).
   */
  readonly from?: Buffer;
}

interface Frame {
  readonly buf: Buffer;
  readonly pageId: number;
  readonly count: number;
  readonly branch: boolean;
  readonly lo: Buffer | null;
  readonly hi: Buffer | null;
  i: number;
}

/** Parses a bucket header value into a reference, or explains why it cannot be one. */
export function openBucket(value: Buffer): BucketRef | string {
  if (value.length < BUCKET_HEADER_SIZE) return `bucket header of ${value.length} bytes (needs ${BUCKET_HEADER_SIZE})`;
  const root = value.readBigUInt64LE(0);
  if (root !== 0n) {
    if (root > BigInt(Number.MAX_SAFE_INTEGER)) return `bucket root page ${root} is out of range`;
    return { root: Number(root) };
  }
  if (value.length < BUCKET_HEADER_SIZE + PAGE_HEADER_SIZE)
    return `inline bucket of ${value.length} bytes is too short`;
  return { inline: value.subarray(BUCKET_HEADER_SIZE) };
}

/**
 * Visits the entries of one bucket in key order, iteratively (no recursion, whatever the depth),
 * bound-checking every page reference and element before use. Nested buckets are not descended
 * into: entries with `isBucket` carry the header to open them with `openBucket`.
 */
export function walkBucket(file: BoltFile, ref: BucketRef, options: WalkOptions, visit: (entry: Entry) => void): void {
  const { report, checkOrder, visited, from } = options;
  let prevKey: Buffer | null = null;
  const stack: Frame[] = [];

  const push = (pageId: number, lo: Buffer | null, hi: Buffer | null): void => {
    let page: ReturnType<BoltFile["page"]>;
    try {
      page = file.page(pageId);
    } catch (err) {
      if (err instanceof PageError) {
        report({ code: "page-bounds", page: pageId, message: err.message });
        return;
      }
      throw err;
    }
    for (let id = pageId; id <= pageId + page.overflow; id++) {
      if (visited.has(id)) {
        report({ code: "multiple-references", page: id, message: `page ${id}: multiple references` });
        return;
      }
    }
    for (let id = pageId; id <= pageId + page.overflow; id++) visited.set(id);
    if (page.headerId !== BigInt(pageId)) {
      report({
        code: "page-id",
        page: pageId,
        message: `page ${pageId}: header says it is page ${page.headerId}`,
      });
      return;
    }
    if (page.flags !== FLAG_BRANCH && page.flags !== FLAG_LEAF) {
      report({
        code: "page-type",
        page: pageId,
        message: `page ${pageId}: invalid type 0x${page.flags.toString(16)} where a branch or leaf page belongs`,
      });
      return;
    }
    if (PAGE_HEADER_SIZE + ELEMENT_SIZE * page.count > page.data.length) {
      report({ code: "page-count", page: pageId, message: `page ${pageId}: ${page.count} elements cannot fit` });
      return;
    }
    if (page.flags === FLAG_BRANCH && page.count === 0) {
      report({ code: "page-count", page: pageId, message: `page ${pageId}: empty branch page` });
      return;
    }
    stack.push({ buf: page.data, pageId, count: page.count, branch: page.flags === FLAG_BRANCH, lo, hi, i: 0 });
  };

  if ("inline" in ref) {
    const buf = ref.inline;
    const flags = buf.readUInt16LE(8);
    const count = buf.readUInt16LE(10);
    if (flags !== FLAG_LEAF) {
      report({
        code: "inline-bucket",
        message: `inline bucket page has type 0x${flags.toString(16)}, not leaf`,
      });
      return;
    }
    if (PAGE_HEADER_SIZE + ELEMENT_SIZE * count > buf.length) {
      report({
        code: "inline-bucket",
        message: `inline bucket claims ${count} elements in ${buf.length} bytes`,
      });
      return;
    }
    stack.push({ buf, pageId: -1, count, branch: false, lo: null, hi: null, i: 0 });
  } else {
    push(ref.root, null, null);
  }

  while (stack.length > 0) {
    const top = stack[stack.length - 1] as Frame;
    if (top.i >= top.count) {
      stack.pop();
      continue;
    }
    const i = top.i++;
    const at = PAGE_HEADER_SIZE + ELEMENT_SIZE * i;
    const buf = top.buf;
    const where = top.pageId >= 0 ? `page ${top.pageId}` : "inline bucket";
    if (top.branch) {
      const pos = buf.readUInt32LE(at);
      const ksize = buf.readUInt32LE(at + 4);
      const child = buf.readBigUInt64LE(at + 8);
      const start = at + pos;
      if (ksize === 0 || start + ksize > buf.length) {
        report({
          code: "element-bounds",
          page: top.pageId,
          offset: at,
          message: `${where}: branch element ${i} lies outside the page`,
        });
        continue;
      }
      const key = buf.subarray(start, start + ksize);
      let nextInPage: Buffer | null = null;
      if (i + 1 < top.count) {
        const npos = buf.readUInt32LE(at + ELEMENT_SIZE);
        const nks = buf.readUInt32LE(at + ELEMENT_SIZE + 4);
        const nstart = at + ELEMENT_SIZE + npos;
        if (nks > 0 && nstart + nks <= buf.length) nextInPage = buf.subarray(nstart, nstart + nks);
      }
      if (checkOrder) {
        if (nextInPage !== null && Buffer.compare(key, nextInPage) >= 0) {
          report({
            code: "key-order",
            page: top.pageId,
            offset: at,
            message: `${where}: branch keys ${i} and ${i + 1} are not ascending`,
          });
        }
        if (top.lo !== null && Buffer.compare(key, top.lo) < 0) {
          report({
            code: "key-order",
            page: top.pageId,
            offset: at,
            message: `${where}: branch key ${i} is below its parent's range`,
          });
        }
      }
      if (child > BigInt(Number.MAX_SAFE_INTEGER)) {
        report({
          code: "page-bounds",
          page: top.pageId,
          offset: at,
          message: `${where}: branch element ${i} points to page ${child}`,
        });
        continue;
      }
      // Child i holds keys from key i up to key i+1: wholly below `from` when key i+1 is not above it.
      if (from && nextInPage !== null && Buffer.compare(nextInPage, from) <= 0) continue;
      const hi = nextInPage ?? top.hi;
      push(Number(child), checkOrder ? Buffer.from(key) : null, checkOrder && hi ? Buffer.from(hi) : null);
      continue;
    }
    const flags = buf.readUInt32LE(at);
    const pos = buf.readUInt32LE(at + 4);
    const ksize = buf.readUInt32LE(at + 8);
    const vsize = buf.readUInt32LE(at + 12);
    const kStart = at + pos;
    const vStart = kStart + ksize;
    const vEnd = vStart + vsize;
    if (ksize === 0 || vEnd > buf.length) {
      report({
        code: "element-bounds",
        page: top.pageId,
        offset: at,
        message: `${where}: leaf element ${i} (key ${ksize} bytes, value ${vsize} bytes) lies outside the page`,
      });
      continue;
    }
    const key = buf.subarray(kStart, vStart);
    if (from && Buffer.compare(key, from) < 0) continue;
    if (checkOrder) {
      if (prevKey !== null && Buffer.compare(prevKey, key) >= 0) {
        report({
          code: "key-order",
          page: top.pageId,
          offset: at,
          message: `${where}: key ${hexKey(key)} is not above the previous key ${hexKey(prevKey)}`,
        });
      } else if (
        (top.lo !== null && Buffer.compare(key, top.lo) < 0) ||
        (top.hi !== null && Buffer.compare(key, top.hi) >= 0)
      ) {
        report({
          code: "key-order",
          page: top.pageId,
          offset: at,
          message: `${where}: key ${hexKey(key)} is outside the range its branch assigns`,
        });
      }
      prevKey = Buffer.from(key);
    }
    visit({ key, value: buf.subarray(vStart, vEnd), isBucket: (flags & BUCKET_LEAF_FLAG) !== 0, flags });
  }
}

function hexKey(key: Buffer): string {
  const printable = /^[\x20-\x7e]*$/.test(key.toString("latin1"));
  const text = printable ? JSON.stringify(key.toString("latin1")) : `0x${key.toString("hex")}`;
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
