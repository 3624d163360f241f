import { BoltFile } from "./bolt-file.js";
import { Bitset, type Entry, openBucket, walkBucket } from "./bolt-tree.js";
import { createCrc32c } from "./checksums.js";
import { SnapshotFileError } from "./errors.js";
import { decodeKeyValue, mainRevision, parseRevisionKey } from "./etcd-model.js";

/** Which etcd's `snapshot status` to reproduce: 3.4/3.5 count every entry, 3.6 counts live keys and adds a version. */
export type StatusCompat = "3.4" | "3.5" | "3.6";

export interface SnapshotStatus {
  /** CRC-32C over bucket names, keys and values, as etcd computes it. */
  readonly hash: number;
  readonly revision: bigint;
  readonly totalKey: number;
  /** The bbolt image size (page count x page size), not the file size. */
  readonly totalSize: number;
  /** 3.6 only: the storage version recorded in the `meta` bucket, "" when absent. */
  readonly version?: string;
}

const KEY_BUCKET = Buffer.from("key");
const META_BUCKET = Buffer.from("meta");
const STORAGE_VERSION = Buffer.from("storageVersion");

/**
 * `etcdctl snapshot status` (3.4/3.5) or `etcdutl snapshot status` (3.6), computed from the file.
 * Accepts what etcd accepts (it does not check the trailer or key order: `verifySnapshot` does);
 * throws SnapshotFileError where etcd would fail or crash.
 */
export function snapshotStatus(path: string, compat: StatusCompat = "3.4"): SnapshotStatus {
  const file = BoltFile.open(path);
  try {
    return statusOf(file, compat);
  } finally {
    file.close();
  }
}

export function statusOf(file: BoltFile, compat: StatusCompat): SnapshotStatus {
  const options = {
    visited: new Bitset(file.highWaterMark),
    checkOrder: false,
    report: (p: { message: string }) => {
      throw new SnapshotFileError(`${file.path}: snapshot file integrity check failed: ${p.message}`);
    },
  };
  const crc = createCrc32c();
  let revision = 0n;
  let total = 0;
  let version = "";
  const live = compat === "3.6" ? new Set<string>() : undefined;
  const root = Number(file.meta.root);

  const buckets: Array<{ name: Buffer; value: Buffer; isBucket: boolean }> = [];
  walkBucket(file, { root }, options, (e: Entry) => {
    buckets.push({ name: Buffer.from(e.key), value: Buffer.from(e.value), isBucket: e.isBucket });
  });

  for (const b of buckets) {
    const label = b.name.toString("latin1");
    const ref = b.isBucket ? openBucket(b.value) : "not a bucket";
    if (typeof ref === "string") {
      throw new SnapshotFileError(
        compat === "3.6" ? `${file.path}: nil bucket: "${label}"` : `${file.path}: cannot get hash of bucket ${label}`,
      );
    }
    crc.update(b.name);
    const isKey = b.name.equals(KEY_BUCKET);
    const isMeta = b.name.equals(META_BUCKET);
    walkBucket(file, ref, options, (e) => {
      crc.update(e.key);
      if (!e.isBucket) crc.update(e.value);
      if (isKey) {
        const main = mainRevision(e.key);
        if (main === undefined) throw new SnapshotFileError(`${file.path}: revision key of ${e.key.length} bytes in bucket "key"`);
        revision = main;
        if (live) countLive(file.path, e, live);
      }
      if (isMeta && live && e.key.equals(STORAGE_VERSION)) version = normalizeSemver(e.value.toString("latin1"));
      if (!live) total++;
    });
  }
  const status = { hash: crc.digest(), revision, totalKey: live ? live.size : total, totalSize: file.totalSize };
  return compat === "3.6" ? { ...status, version } : status;
}

function countLive(path: string, e: Entry, live: Set<string>): void {
  const rev = parseRevisionKey(e.key);
  if (typeof rev === "string") throw new SnapshotFileError(`${path}: cannot parse revision key: ${rev}`);
  const kv = decodeKeyValue(e.value);
  if (typeof kv === "string") throw new SnapshotFileError(`${path}: cannot unmarshal key value at revision ${rev.main}: ${kv}`);
  const name = kv.key.toString("latin1");
  if (rev.tombstone) live.delete(name);
  else live.add(name);
}

/** go-semver's parse + String(): "X.Y.Z[-pre][+meta]" with numeric parts normalised, "" when unparsable. */
export function normalizeSemver(text: string): string {
  const m = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+([0-9A-Za-z.-]+))?$/.exec(text);
  if (!m) return "";
  let out = `${BigInt(m[1] as string)}.${BigInt(m[2] as string)}.${BigInt(m[3] as string)}`;
  if (m[4]) out += `-${m[4]}`;
  if (m[5]) out += `+${m[5]}`;
  return out;
}
