import { stat } from "node:fs/promises";
import { type DecryptionProof, DecryptionTally } from "../encryption/decryption-proof.js";
import { type AescbcKey, keyringOfClones } from "../encryption/keyring.js";
import { OperationError } from "../errors.js";
import { runWorker, sibling } from "../worker.js";
import { BoltFile, FLAG_FREELIST, NO_FREELIST, PAGE_HEADER_SIZE, PageError } from "./bolt-file.js";
import { Bitset, type Entry, type Problem } from "./bolt-tree.js";
import { SnapshotFileError, unreadableSnapshot } from "./errors.js";
import { decodeKeyValue, type KeyValue, parseRevisionKey } from "./etcd-model.js";
import { HashKvAccumulator, type HashKvOptions, type HashKvOutcome } from "./hashkv.js";
import { type SnapshotStatus, scanSnapshot } from "./status.js";
import { checkTrailerInParallel, type TrailerCheck } from "./trailer.js";

export type Severity = "error" | "warning";

export interface Finding {
  readonly severity: Severity;
  /** Stable identifier of the kind of problem, e.g. "trailer-mismatch", "key-order". */
  readonly code: string;
  readonly message: string;
  readonly page?: number;
  readonly offset?: number;
}

export interface VerifyReport {
  readonly file: string;
  readonly fileSize: number;
  readonly trailer: TrailerCheck;
  readonly pageSize?: number;
  readonly pages?: number;
  readonly metaInUse?: 0 | 1;
  /** Absent, like `freePages` and `status`, when damage kept the walk from seeing the whole tree. */
  readonly reachablePages?: number;
  readonly freePages?: number;
  /** The status (etcd 3.4 semantics) when the whole structure could be walked. */
  readonly status?: SnapshotStatus;
  /** etcd 3.4's HashKV of a member restored from the file, when asked for (`hashKv`) and the walk was whole. */
  readonly hashKv?: HashKvOutcome;
  /** With `keys`, when the whole structure could be walked: the decryption proof, made by the same walk. */
  readonly decryption?: DecryptionProof;
  readonly findings: readonly Finding[];
  /** No finding of severity "error". */
  readonly ok: boolean;
}

/** Findings of one kind beyond this many are summarised, so a wrecked file gives a readable report. */
const MAX_PER_CODE = 20;

/**
 * Proves a snapshot intact: the SHA-256 trailer, both meta pages, every reachable page (type, id,
 * bounds, overflow, single reference), key order, inline buckets, the persisted freelist if any,
 * and etcd's own encoding of bucket `key`. Never throws on hostile content; throws
 * SnapshotFileError("missing") only when the file cannot be opened at all.
 */
export interface VerifyOptions {
  /**
   * Check etcd's encoding of bucket `key` (revision keys, KeyValue protobufs). On by default; off
   * for bbolt files that only look like etcd's (synthetic fixtures) or to check structure alone.
   */
  readonly etcdChecks?: boolean;
  /** Also compute, during the same walk, what HashKV a restored etcd 3.4 answers (the restore drill's proof). */
  readonly hashKv?: HashKvOptions;
  /**
   * The trailer as the caller already proved it, reading these very bytes (a backup's stream
   * verifier): not hashed a second time. Ignored unless its size is the file's.
   */
  readonly trailer?: TrailerCheck;
  /**
   * Also prove these keys open every stored value (DecryptionTally's check), in the same walk of
   * bucket `key` rather than a second read of the file. Needs the etcd checks.
   */
  readonly keys?: readonly AescbcKey[];
}

export async function verifySnapshot(path: string, options: VerifyOptions = {}): Promise<VerifyReport> {
  let size: number;
  try {
    const s = await stat(path);
    if (s.isDirectory()) throw unreadableSnapshot(path, "is a directory");
    size = s.size;
  } catch (err) {
    throw err instanceof SnapshotFileError ? err : unreadableSnapshot(path, err);
  }
  // The SHA-256 of every byte runs on a worker while this thread walks the structure (unless proven already).
  const known = options.trailer;
  const trailerCheck = known && known.fileSize === size ? Promise.resolve(known) : checkTrailerInParallel(path, size);
  trailerCheck.catch(() => {}); // awaited below; keeps an early failure from going unhandled meanwhile
  const findings: Finding[] = [];
  const counts = new Map<string, number>();
  const add = (severity: Severity, p: Problem): void => {
    const n = (counts.get(p.code) ?? 0) + 1;
    counts.set(p.code, n);
    if (n <= MAX_PER_CODE) findings.push({ severity, ...p });
  };

  const addTrailerFindings = (trailer: TrailerCheck): void => {
    if (!trailer.present) {
      add("error", {
        code: "trailer-missing",
        message: `no SHA-256 trailer (file size ${trailer.fileSize} % 512 != 32): truncated, or a raw database file rather than a snapshot`,
      });
    } else if (!trailer.ok) {
      add("error", {
        code: "trailer-mismatch",
        message: `SHA-256 trailer mismatch: the file says ${trailer.expected}, its bytes hash to ${trailer.actual}`,
      });
    }
  };
  const awaitTrailer = async (): Promise<TrailerCheck> => {
    let trailer: TrailerCheck;
    try {
      trailer = await trailerCheck;
    } catch (err) {
      throw unreadableSnapshot(path, err);
    }
    addTrailerFindings(trailer);
    return trailer;
  };

  let file: BoltFile;
  try {
    file = BoltFile.open(path);
  } catch (err) {
    if (!(err instanceof SnapshotFileError) || err.kind === "missing") throw err;
    const trailer = await awaitTrailer();
    add("error", { code: "meta", message: err.message });
    return finish({ file: path, fileSize: trailer.fileSize, trailer, findings }, counts);
  }
  try {
    checkMetas(file, (s, p) => add(s, p));
    const needed = file.totalSize;
    if (file.dataSize < needed) {
      add("error", {
        code: "truncated",
        message: `truncated: ${file.dataSize} bytes of data, the database needs ${needed} (${file.highWaterMark} pages of ${file.pageSize})`,
      });
    } else if (file.dataSize > needed && file.hasTrailer) {
      add("warning", {
        code: "extra-bytes",
        message: `${file.dataSize - needed} bytes between the database and the trailer`,
      });
    }

    const visited = new Bitset(file.highWaterMark);
    visited.set(0);
    visited.set(1);
    const freed = checkFreelist(file, visited, (s, p) => add(s, p));
    const tally = options.keys ? new DecryptionTally(keyringOfClones(options.keys)) : undefined;
    const keyChecker =
      options.etcdChecks === false
        ? undefined
        : etcdKeyChecker(
            (p) => add("error", p),
            tally && ((kv, tombstone) => tally.add({ key: kv.key, value: kv.value, tombstone })),
          );
    const hashKv = options.hashKv ? HashKvAccumulator.plan(file, options.hashKv) : undefined;
    const onKey =
      keyChecker && hashKv
        ? (e: Entry) => {
            keyChecker(e);
            hashKv.entry(e);
          }
        : (keyChecker ?? (hashKv ? (e: Entry) => hashKv.entry(e) : undefined));
    let walkIncomplete = file.dataSize < needed;
    const status = scanSnapshot(file, {
      compat: "3.4",
      checkOrder: true,
      descendNested: true,
      visited,
      report: (p) => {
        walkIncomplete = true;
        add("error", p);
      },
      onEntry: onKey
        ? (bucket, e) => {
            if (bucket === "key") onKey(e);
          }
        : undefined,
    });
    const trailer = await awaitTrailer();
    // A walk that had to skip damaged or missing pages saw only part of the tree: its page counts and
    // status would be figures of that part, and its free pages mostly pages it never reached.
    if (walkIncomplete) {
      const report = { file: path, fileSize: trailer.fileSize, trailer, pageSize: file.pageSize };
      return finish({ ...report, pages: file.highWaterMark, metaInUse: file.meta.pageId, findings }, counts);
    }
    let reachable = 0;
    let unreachable = 0;
    for (let id = 0; id < file.highWaterMark; id++) {
      if (visited.has(id)) {
        reachable++;
        if (freed?.has(id)) add("error", { code: "reachable-freed", page: id, message: `page ${id}: reachable freed` });
      } else {
        unreachable++;
        if (freed && !freed.has(id))
          add("error", { code: "unreachable-unfreed", page: id, message: `page ${id}: unreachable unfreed` });
      }
    }
    return finish(
      {
        file: path,
        fileSize: trailer.fileSize,
        trailer,
        pageSize: file.pageSize,
        pages: file.highWaterMark,
        metaInUse: file.meta.pageId,
        reachablePages: reachable,
        freePages: unreachable,
        status,
        ...(hashKv ? { hashKv: hashKv.result() } : {}),
        ...(tally && keyChecker ? { decryption: tally.result() } : {}),
        findings,
      },
      counts,
    );
  } finally {
    file.close();
  }
}

function finish(report: Omit<VerifyReport, "ok">, counts: Map<string, number>): VerifyReport {
  const findings = [...report.findings];
  for (const [code, n] of counts) {
    if (n > MAX_PER_CODE)
      findings.push({ severity: "error", code, message: `... and ${n - MAX_PER_CODE} more "${code}" findings` });
  }
  return { ...report, findings, ok: !findings.some((f) => f.severity === "error") };
}

type Add = (severity: Severity, p: Problem) => void;

function checkMetas(file: BoltFile, add: Add): void {
  for (const [i, m] of file.metas.entries()) {
    if (!m) add("error", { code: "meta", page: i, message: `meta page ${i}: not found` });
    else if (m.invalid) add("error", { code: "meta", page: i, message: `meta page ${i}: ${m.invalid}` });
  }
  const [m0, m1] = file.metas;
  if (m0 && m1 && !m0.invalid && !m1.invalid && file.hasTrailer) {
    // Tx.WriteTo writes both metas from one transaction: page 0 has txid T, page 1 T-1, the rest equal.
    if (m0.pageSize !== m1.pageSize || m0.root !== m1.root || m0.pgid !== m1.pgid || m0.freelist !== m1.freelist) {
      add("warning", { code: "meta-disagree", message: "meta pages 0 and 1 describe different databases" });
    }
  }
  const m = file.meta;
  if (m.root < 2n || m.root >= m.pgid) {
    add("error", {
      code: "page-bounds",
      message: `root page ${m.root} is out of bounds (the database has ${m.pgid} pages)`,
    });
  }
}

/** Reads a persisted freelist (etcd on Linux does not persist one) and marks its own pages reachable. */
function checkFreelist(file: BoltFile, visited: Bitset, add: Add): Bitset | undefined {
  const at = file.meta.freelist;
  if (at === NO_FREELIST) return undefined;
  if (at < 2n || at >= BigInt(file.highWaterMark)) {
    add("error", { code: "freelist", message: `freelist page ${at} is out of bounds` });
    return undefined;
  }
  const id = Number(at);
  let page: ReturnType<BoltFile["page"]>;
  try {
    page = file.page(id);
  } catch (err) {
    if (err instanceof PageError) add("error", { code: "freelist", page: id, message: err.message });
    else throw err;
    return undefined;
  }
  if (page.headerId !== at || page.flags !== FLAG_FREELIST) {
    add("error", {
      code: "freelist",
      page: id,
      message: `page ${id}: expected the freelist page, found type 0x${page.flags.toString(16)} id ${page.headerId}`,
    });
    return undefined;
  }
  for (let p = id; p <= id + page.overflow; p++) visited.set(p);
  let count = page.count;
  let start = PAGE_HEADER_SIZE;
  if (count === 0xffff) {
    const real = page.data.readBigUInt64LE(PAGE_HEADER_SIZE);
    if (real > BigInt((page.data.length - PAGE_HEADER_SIZE - 8) / 8)) {
      add("error", { code: "freelist", page: id, message: `freelist page ${id} claims ${real} ids, more than fit` });
      return undefined;
    }
    count = Number(real);
    start += 8;
  }
  if (start + 8 * count > page.data.length) {
    add("error", { code: "freelist", page: id, message: `freelist page ${id} claims ${count} ids, more than fit` });
    return undefined;
  }
  const freed = new Bitset(file.highWaterMark);
  for (let i = 0; i < count; i++) {
    const free = page.data.readBigUInt64LE(start + 8 * i);
    if (free < 2n || free >= BigInt(file.highWaterMark)) {
      add("error", { code: "freelist", page: id, message: `freelist lists page ${free}, out of bounds` });
      continue;
    }
    const f = Number(free);
    if (freed.has(f)) add("error", { code: "already-freed", page: f, message: `page ${f}: already freed` });
    freed.set(f);
  }
  return freed;
}

/**
 * etcd-level checks on bucket `key`: well-formed revision keys, decodable KeyValues, consistent
 * revisions. `onKeyValue` hears each KeyValue that decodes.
 */
function etcdKeyChecker(
  report: (p: Problem) => void,
  onKeyValue?: (kv: KeyValue, tombstone: boolean) => void,
): (e: Entry) => void {
  return (e) => {
    const rev = parseRevisionKey(e.key);
    if (typeof rev === "string") {
      report({ code: "revision-key", message: `bucket key: ${rev} (key 0x${e.key.toString("hex")})` });
      return;
    }
    // `snapshot restore --bump-revision` leaves a marker revision with an empty value.
    if (e.value.length === 0) return;
    const kv = decodeKeyValue(e.value);
    const at = `revision ${rev.main}/${rev.sub}`;
    if (typeof kv === "string") {
      report({ code: "key-value", message: `bucket key, ${at}: value does not decode as KeyValue: ${kv}` });
      return;
    }
    if (kv.key.length === 0) {
      report({ code: "key-value", message: `bucket key, ${at}: KeyValue without a key` });
      return;
    }
    onKeyValue?.(kv, rev.tombstone);
    if (rev.tombstone) return;
    if (kv.modRevision !== rev.main) {
      report({
        code: "key-value",
        message: `bucket key, ${at}: mod_revision ${kv.modRevision} differs from the revision key`,
      });
    } else if (kv.createRevision < 1n || kv.createRevision > kv.modRevision || kv.version < 1n) {
      report({
        code: "key-value",
        message: `bucket key, ${at}: inconsistent create_revision ${kv.createRevision} / version ${kv.version}`,
      });
    }
  };
}

/**
 * `verifySnapshot` on a worker thread: the structural walk of a multi-GiB file takes seconds of
 * synchronous work, during which this thread must still answer a signal (the walk is then stopped).
 */
export function verifySnapshotOffThread(
  path: string,
  options: VerifyOptions & { readonly signal?: AbortSignal | undefined } = {},
): Promise<VerifyReport> {
  const { signal, ...rest } = options;
  return runWorker<VerifyReport>(
    sibling(import.meta.url, "verify-worker"),
    { verifySnapshotOf: path, options: rest },
    {
      what: `verifying ${path}`,
      signal,
      failure: (f) =>
        f.kind === "missing" || f.kind === "corrupt"
          ? new SnapshotFileError(f.message, f.kind)
          : new OperationError(`verifying ${path} failed: ${f.message}`),
    },
  );
}
