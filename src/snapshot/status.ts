import { BoltFile } from "./bolt-file.js";
import { Bitset, type BucketRef, type Entry, openBucket, type Problem, walkBucket } from "./bolt-tree.js";
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
  return scanSnapshot(file, {
    compat,
    checkOrder: false,
    descendNested: false,
    report: (p) => {
      throw new SnapshotFileError(`${file.path}: snapshot file integrity check failed: ${p.message}`);
    },
  });
}

export interface ScanOptions {
  readonly compat: StatusCompat;
  readonly checkOrder: boolean;
  /** Walk nested buckets too (status does not: it hashes only top-level buckets' entries). */
  readonly descendNested: boolean;
  /** Pages already accounted for (e.g. a persisted freelist); a fresh set by default. */
  readonly visited?: Bitset;
  readonly report: (problem: Problem) => void;
  /** Sees every entry of every top-level bucket (views: copy what you keep). */
  readonly onEntry?: (bucket: string, entry: Entry) => void;
}

/**
 * One pass over the database that computes the status and, for `verifySnapshot`, feeds every entry
 * and every problem to the caller. Problems the status algorithm cannot get past go to `report`,
 * which throws (status) or records and lets the scan skip the damaged part (verify).
 */
export function scanSnapshot(file: BoltFile, options: ScanOptions): SnapshotStatus {
  const { compat, report } = options;
  const walk = { visited: options.visited ?? new Bitset(file.highWaterMark), checkOrder: options.checkOrder, report };
  const crc = createCrc32c();
  let revision = 0n;
  let total = 0;
  let version = "";
  const live = compat === "3.6" ? new Set<string>() : undefined;

  const buckets: Array<{ name: Buffer; value: Buffer; isBucket: boolean }> = [];
  walkBucket(file, { root: Number(file.meta.root) }, walk, (e: Entry) => {
    buckets.push({ name: Buffer.from(e.key), value: Buffer.from(e.value), isBucket: e.isBucket });
  });

  for (const b of buckets) {
    const label = b.name.toString("latin1");
    const ref = b.isBucket ? openBucket(b.value) : "not a bucket";
    if (typeof ref === "string") {
      report({
        code: "root-entry",
        message: compat === "3.6" ? `nil bucket: "${label}"` : `cannot get hash of bucket ${label} (${ref})`,
      });
      continue;
    }
    crc.update(b.name);
    const isKey = b.name.equals(KEY_BUCKET);
    const isMeta = b.name.equals(META_BUCKET);
    const nested: BucketRef[] = [];
    walkBucket(file, ref, walk, (e) => {
      crc.update(e.key);
      if (!e.isBucket) crc.update(e.value);
      else if (options.descendNested) {
        const inner = openBucket(Buffer.from(e.value));
        if (typeof inner === "string") report({ code: "nested-bucket", message: `bucket ${label}: ${inner}` });
        else nested.push(inner);
      }
      if (isKey) {
        const main = mainRevision(e.key);
        if (main === undefined)
          report({ code: "revision-key", message: `revision key of ${e.key.length} bytes in bucket "key"` });
        else revision = main;
        if (live) countLive(e, live, report);
      }
      if (isMeta && live && e.key.equals(STORAGE_VERSION)) version = normalizeSemver(e.value.toString("latin1"));
      if (!live) total++;
      options.onEntry?.(label, e);
    });
    // Nested buckets (not used by etcd) are walked for page accounting only, breadth-first, no recursion.
    for (let next = nested.shift(); next; next = nested.shift()) {
      walkBucket(file, next, walk, (e) => {
        if (!e.isBucket) return;
        const inner = openBucket(Buffer.from(e.value));
        if (typeof inner === "string") report({ code: "nested-bucket", message: `bucket ${label}: ${inner}` });
        else nested.push(inner);
      });
    }
  }
  const status = { hash: crc.digest(), revision, totalKey: live ? live.size : total, totalSize: file.totalSize };
  return compat === "3.6" ? { ...status, version } : status;
}

function countLive(e: Entry, live: Set<string>, report: (p: Problem) => void): void {
  const rev = parseRevisionKey(e.key);
  if (typeof rev === "string") {
    report({ code: "revision-key", message: `cannot parse revision key: ${rev}` });
    return;
  }
  const kv = decodeKeyValue(e.value);
  if (typeof kv === "string") {
    report({ code: "key-value", message: `cannot unmarshal key value at revision ${rev.main}: ${kv}` });
    return;
  }
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
