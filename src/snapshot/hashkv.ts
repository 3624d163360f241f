import type { BoltFile } from "./bolt-file.js";
import { Bitset, type Entry, openBucket, walkBucket } from "./bolt-tree.js";
import { type Crc32c, createCrc32c } from "./checksums.js";
import { decodeKeyValue } from "./etcd-model.js";

/**
 * etcd 3.4's `Maintenance.HashKV` of a member restored from a snapshot, at the snapshot's revision,
 * computed from the file (mvcc/kvstore.go `HashByRev`): CRC-32C of "key", then of each entry of
 * bucket `key` in revision order, its revision key and its stored KeyValue. Entries at or below the
 * compacted revision C count only when `kvindex.Keep(rev)` keeps them: the latest revision of a key
 * live at the snapshot's revision. After a finished compaction the file holds at most one put per key
 * at or below C, so such an entry counts iff its key has no entry after C (the tail). With no key live
 * at all, Keep(rev) is empty and etcd skips nothing: every entry counts.
 */
export interface SnapshotHashKv {
  readonly hash: number;
  /** The last main revision of bucket `key`: what HashKV is asked at. */
  readonly revision: number;
  /** The finished compaction the restored member reports (meta `finishedCompactRev`); -1 if none, as etcd says. */
  readonly compactRevision: number;
  /** Keys live at `revision`, as a count-only Range there must report them. */
  readonly liveKeys: number;
  /** Revisions after the compacted one: the tail whose keys were held to decide the entries before. */
  readonly tailRevisions: number;
}

/** The hash, or why the file alone cannot say what etcd 3.4 will answer (the drill then reads back). */
export type HashKvOutcome = { readonly hashKv: SnapshotHashKv } | { readonly undecided: string };

/** Distinct keys written after the compacted revision held in memory at most (about 100 bytes each). */
export const DEFAULT_TAIL_KEYS = 50_000;
/** Their bytes at most: Kubernetes keys are short, but a key may be up to etcd's request size (1.5 MiB). */
export const DEFAULT_TAIL_BYTES = 8 * 1024 * 1024;

export interface HashKvOptions {
  /** At most this many distinct tail keys are held; beyond, the hash is undecided (default DEFAULT_TAIL_KEYS). */
  readonly tailKeys?: number;
  /** At most this many bytes of them (default DEFAULT_TAIL_BYTES); beyond, the hash is undecided too. */
  readonly tailBytes?: number;
}

const KEY_BUCKET = "key";
const META_BUCKET = "meta";
const FINISHED = Buffer.from("finishedCompactRev");
const SCHEDULED = Buffer.from("scheduledCompactRev");

/** Stops a walk early (the tail holds more keys, or more bytes of them, than allowed): the reason. */
class TailTooLarge extends Error {}

/**
 * Feeds on bucket `key`'s entries in the order of the file (the verify walk's), after a plan read
 * from the meta bucket and the tail of bucket `key` (a seek: only the tail's pages are read twice).
 */
export class HashKvAccumulator {
  private readonly crc = createCrc32c();
  /**
   * Every entry, for the case of no key live at the end. Dropped at the first entry at or below C
   * whose key has no entry after it (that key stays live), so it costs a second CRC over the tail
   * only when every key of the compacted part was written again.
   */
  private all: Crc32c | undefined;
  private undecided: string | undefined;
  private readonly compacted: bigint;
  private readonly tail: Set<string>;
  private revision = 0n;
  private live = 0;
  private prefixEntries = 0;
  private tailRevisions = 0;

  private constructor(plan: { compacted: bigint; tail: Set<string> } | string) {
    if (typeof plan === "string") {
      this.undecided = plan;
      this.compacted = 0n;
      this.tail = new Set();
    } else {
      this.compacted = plan.compacted;
      this.tail = plan.tail;
      if (this.compacted > 0n) this.all = createCrc32c();
    }
    this.crc.update(Buffer.from(KEY_BUCKET));
    this.all?.update(Buffer.from(KEY_BUCKET));
  }

  static plan(file: BoltFile, options: HashKvOptions = {}): HashKvAccumulator {
    let plan: { compacted: bigint; tail: Set<string> } | string;
    try {
      plan = readPlan(file, {
        keys: options.tailKeys ?? DEFAULT_TAIL_KEYS,
        bytes: options.tailBytes ?? DEFAULT_TAIL_BYTES,
      });
    } catch (err) {
      // Damage is the verify walk's to report; here it only means no hash.
      plan = `the snapshot's compaction state could not be read: ${(err as Error).message}`;
    }
    return new HashKvAccumulator(plan);
  }

  /** One entry of bucket `key` (views, valid during the call). */
  entry(e: Entry): void {
    if (this.undecided !== undefined) return;
    if (e.key.length !== 17 && e.key.length !== 18) {
      this.undecided = `a revision key of ${e.key.length} bytes`;
      return;
    }
    const main = e.key.readBigInt64BE(0);
    const tombstone = e.key.length === 18;
    this.revision = main;
    if (main <= this.compacted) {
      this.prefixEntries++;
      // A finished compaction leaves no tombstone at or below it; one means the file is not what the rule assumes.
      if (tombstone) {
        this.undecided = `a tombstone at revision ${main}, at or below the compacted revision ${this.compacted}`;
        return;
      }
      const key = keyOf(e.value);
      if (key === undefined) {
        this.undecided = `the KeyValue at revision ${main} does not decode`;
        return;
      }
      this.live++; // live at C; the tail's deletes and creates are counted as they come
      if (this.tail.has(key.toString("latin1"))) {
        // Written again after C: not in Keep(rev), unless no key is live at the end.
        this.all?.update(e.key);
        this.all?.update(e.value);
        return;
      }
      this.all = undefined;
    } else {
      this.tailRevisions++;
      if (tombstone) this.live--;
      else {
        const kv = decodeKeyValue(e.value);
        if (typeof kv === "string") {
          this.undecided = `the KeyValue at revision ${main} does not decode: ${kv}`;
          return;
        }
        if (kv.version === 1n) this.live++; // a key created (again)
      }
    }
    this.crc.update(e.key);
    this.crc.update(e.value);
    this.all?.update(e.key);
    this.all?.update(e.value);
  }

  result(): HashKvOutcome {
    if (this.undecided !== undefined) return { undecided: this.undecided };
    // With no key live, Keep(rev) is empty and etcd hashes every entry at or below C too.
    const noneLive = this.live === 0 && this.prefixEntries > 0;
    if (noneLive && !this.all)
      return { undecided: "no key is live at the snapshot's revision, yet a compacted key was not written again" };
    if (this.compacted > this.revision)
      return { undecided: `compacted at revision ${this.compacted}, past the last one stored (${this.revision})` };
    return {
      hashKv: {
        hash: noneLive ? (this.all as Crc32c).digest() : this.crc.digest(),
        revision: Number(this.revision),
        compactRevision: Number(this.compacted),
        liveKeys: this.live,
        tailRevisions: this.tailRevisions,
      },
    };
  }
}

/**
 * The compacted revision (meta bucket) and the keys written after it (the tail of bucket `key`,
 * reached by a seek). A compaction scheduled but not finished is finished by the restore, which then
 * deletes entries the file still has: undecided.
 */
function readPlan(
  file: BoltFile,
  limit: { keys: number; bytes: number },
): { compacted: bigint; tail: Set<string> } | string {
  const report = (p: { message: string }): never => {
    throw new Error(p.message);
  };
  const walk = { visited: new Bitset(file.highWaterMark), checkOrder: false, report };
  const buckets = new Map<string, Buffer>();
  walkBucket(file, { root: Number(file.meta.root) }, walk, (e) => {
    const name = e.key.toString("latin1");
    if (e.isBucket && (name === KEY_BUCKET || name === META_BUCKET)) buckets.set(name, Buffer.from(e.value));
  });
  // etcd's store starts at -1 ("never compacted") and reads finishedCompactRev over it.
  let finished = -1n;
  let scheduled = -1n;
  const meta = buckets.get(META_BUCKET);
  if (meta) {
    const ref = openBucket(meta);
    if (typeof ref === "string") return `bucket meta: ${ref}`;
    walkBucket(file, ref, walk, (e) => {
      if (e.value.length < 8) return;
      if (e.key.equals(FINISHED)) finished = e.value.readBigInt64BE(0);
      else if (e.key.equals(SCHEDULED)) scheduled = e.value.readBigInt64BE(0);
    });
  }
  if (scheduled > finished)
    return `a compaction to revision ${scheduled} was still in progress in the snapshot (finished: ${finished}); the restore completes it`;
  const tail = new Set<string>();
  let tailBytes = 0;
  const keys = buckets.get(KEY_BUCKET);
  if (finished <= 0n || !keys) return { compacted: finished, tail };
  const ref = openBucket(keys);
  if (typeof ref === "string") return `bucket key: ${ref}`;
  const from = Buffer.alloc(17);
  from.writeBigInt64BE(finished + 1n, 0);
  from[8] = 0x5f; // '_', then sub revision 0
  try {
    walkBucket(file, ref, { ...walk, from }, (e) => {
      const key = keyOf(e.value);
      if (key === undefined) throw new Error(`a KeyValue after the compacted revision ${finished} does not decode`);
      const held = key.toString("latin1");
      if (tail.has(held)) return;
      tail.add(held);
      tailBytes += key.length;
      if (tail.size > limit.keys)
        throw new TailTooLarge(
          `more than ${limit.keys} keys were written after the compacted revision ${finished} (the limit of keys held to decide the hash)`,
        );
      if (tailBytes > limit.bytes)
        throw new TailTooLarge(
          `the keys written after the compacted revision ${finished} take more than ${limit.bytes} bytes (the limit held to decide the hash)`,
        );
    });
  } catch (err) {
    if (err instanceof TailTooLarge) return err.message;
    throw err;
  }
  return { compacted: finished, tail };
}

/**
 * The key of a stored KeyValue: field 1, which etcd's marshaller writes first; anything else goes
 * through the full decoder.
 */
function keyOf(value: Buffer): Buffer | undefined {
  if (value[0] === 0x0a) {
    let len = 0;
    let shift = 0;
    let p = 1;
    for (; p < value.length && p < 6; p++) {
      const b = value[p] as number;
      len += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if ((b & 0x80) === 0) break;
    }
    p++;
    if (p + len <= value.length && p <= 6) return value.subarray(p, p + len);
  }
  const kv = decodeKeyValue(value);
  return typeof kv === "string" ? undefined : kv.key;
}
