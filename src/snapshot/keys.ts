import { createHash } from "node:crypto";
import { BoltFile } from "./bolt-file.js";
import { Bitset, openBucket, walkBucket } from "./bolt-tree.js";
import { SnapshotFileError } from "./errors.js";
import { decodeKeyValue, parseRevisionKey } from "./etcd-model.js";

/** A live key at the snapshot's revision. Values are summarised (size, hash), never held. */
export interface LiveKey {
  readonly key: Buffer;
  readonly createRevision: bigint;
  readonly modRevision: bigint;
  readonly version: bigint;
  readonly lease: bigint;
  readonly valueSize: number;
  /** SHA-256 of the value (hex): enough to tell changed values apart without keeping them. */
  readonly valueHash: string;
}

/**
 * One entry of bucket `key`: a put (with its KeyValue) or a tombstone. `key` and `value` are views
 * into the file's cache, valid during the callback only.
 */
export interface RevisionEntry {
  readonly key: Buffer;
  readonly tombstone: boolean;
  readonly createRevision: bigint;
  readonly modRevision: bigint;
  readonly version: bigint;
  readonly lease: bigint;
  readonly value: Buffer;
}

/**
 * Visits bucket `key` in revision order (the order etcd replays it in at start-up): every stored
 * revision of every key, tombstones included. Throws SnapshotFileError on damage. Memory stays flat.
 */
export function forEachRevision(path: string, visit: (entry: RevisionEntry) => void): void {
  const file = BoltFile.open(path);
  try {
    const report = (p: { message: string }): never => {
      throw new SnapshotFileError(`${path}: ${p.message} (run "snapshot verify" for a full report)`);
    };
    const walk = { visited: new Bitset(file.highWaterMark), checkOrder: false, report };
    let keyBucket: Buffer | undefined;
    walkBucket(file, { root: Number(file.meta.root) }, walk, (e) => {
      if (e.isBucket && e.key.toString("latin1") === "key") keyBucket = Buffer.from(e.value);
    });
    if (!keyBucket) return;
    const ref = openBucket(keyBucket);
    if (typeof ref === "string") throw new SnapshotFileError(`${path}: bucket "key": ${ref}`);
    walkBucket(file, ref, walk, (e) => {
      const rev = parseRevisionKey(e.key);
      if (typeof rev === "string") throw report({ message: `bucket "key": ${rev}` });
      if (e.value.length === 0) return; // revision-bump marker left by `snapshot restore --bump-revision`
      const kv = decodeKeyValue(e.value);
      if (typeof kv === "string") throw report({ message: `bucket "key", revision ${rev.main}: ${kv}` });
      visit({ ...kv, tombstone: rev.tombstone });
    });
  } finally {
    file.close();
  }
}

/**
 * The live keyspace of a snapshot: bucket `key` replayed in revision order, tombstones applied.
 * Keyed by the key's bytes as latin1 (lossless, unlike utf8). Memory grows with the number of live
 * keys, not with value sizes.
 */
export function liveKeys(path: string, options: { prefix?: Buffer } = {}): Map<string, LiveKey> {
  const live = new Map<string, LiveKey>();
  const prefix = options.prefix;
  forEachRevision(path, (kv) => {
    if (prefix && (kv.key.length < prefix.length || !kv.key.subarray(0, prefix.length).equals(prefix))) return;
    const name = kv.key.toString("latin1");
    if (kv.tombstone) {
      live.delete(name);
      return;
    }
    live.set(name, {
      key: Buffer.from(kv.key),
      createRevision: kv.createRevision,
      modRevision: kv.modRevision,
      version: kv.version,
      lease: kv.lease,
      valueSize: kv.value.length,
      valueHash: createHash("sha256").update(kv.value).digest("hex"),
    });
  });
  return live;
}

/** Live keys in etcd's order (bytewise), as `etcdctl get --prefix` lists them. */
export function sortedKeys(live: Map<string, LiveKey>): LiveKey[] {
  return [...live.values()].sort((a, b) => Buffer.compare(a.key, b.key));
}
