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
 * The live keyspace of a snapshot: bucket `key` replayed in revision order, tombstones applied.
 * Keyed by the key's bytes as latin1 (lossless, unlike utf8). Memory grows with the number of live
 * keys, not with value sizes.
 */
export function liveKeys(path: string, options: { prefix?: Buffer } = {}): Map<string, LiveKey> {
  const file = BoltFile.open(path);
  try {
    const report = (p: { message: string }) => {
      throw new SnapshotFileError(`${path}: ${p.message} (run "snapshot verify" for a full report)`);
    };
    const walk = { visited: new Bitset(file.highWaterMark), checkOrder: false, report };
    let keyBucket: Buffer | undefined;
    walkBucket(file, { root: Number(file.meta.root) }, walk, (e) => {
      if (e.isBucket && e.key.toString("latin1") === "key") keyBucket = Buffer.from(e.value);
    });
    const live = new Map<string, LiveKey>();
    if (!keyBucket) return live;
    const ref = openBucket(keyBucket);
    if (typeof ref === "string") throw new SnapshotFileError(`${path}: bucket "key": ${ref}`);
    const prefix = options.prefix;
    walkBucket(file, ref, walk, (e) => {
      const rev = parseRevisionKey(e.key);
      if (typeof rev === "string") {
        report({ message: `bucket "key": ${rev}` });
        return;
      }
      if (e.value.length === 0) return; // revision-bump marker left by `snapshot restore --bump-revision`
      const kv = decodeKeyValue(e.value);
      if (typeof kv === "string") {
        report({ message: `bucket "key", revision ${rev.main}: ${kv}` });
        return;
      }
      if (prefix && (kv.key.length < prefix.length || !kv.key.subarray(0, prefix.length).equals(prefix))) return;
      const name = kv.key.toString("latin1");
      if (rev.tombstone) {
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
  } finally {
    file.close();
  }
}

/** Live keys in etcd's order (bytewise), as `etcdctl get --prefix` lists them. */
export function sortedKeys(live: Map<string, LiveKey>): LiveKey[] {
  return [...live.values()].sort((a, b) => Buffer.compare(a.key, b.key));
}
