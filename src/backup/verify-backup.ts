import { createWriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { type ChainCheck, verifyChain } from "../continuous/chain.js";
import { type DecryptionProof, proofProblems } from "../encryption/decryption-proof.js";
import type { AescbcKey, Keyring } from "../encryption/keyring.js";
import { describe, OperationError, UsageError, VerificationError } from "../errors.js";
import type { Logger } from "../logging.js";
import { toolVersion } from "../package-info.js";
import { makeScratchDir } from "../scratch.js";
import type { HashKvOptions, HashKvOutcome } from "../snapshot/hashkv.js";
import type { SnapshotStatus } from "../snapshot/status.js";
import { verifySnapshotOffThread } from "../snapshot/verify.js";
import {
  MANIFEST_FILE,
  type Manifest,
  parseManifest,
  SNAPSHOT_FILE,
  serializeManifest,
  type Verification,
} from "../store/manifest.js";
import type { Store } from "../store/store.js";
import { SnapshotVerifier, TrailerVerifier } from "./verified-stream.js";

export interface BackupVerification {
  readonly ref: string;
  readonly manifest: Manifest;
  readonly verification: Verification;
  /** One line per check that failed. */
  readonly problems: readonly string[];
  /** A continuous backup's delta chain, every segment read and proven (absent: the backup has none). */
  readonly chain?: ChainCheck;
}

export interface VerifyOptions {
  /**
   * The full structural walk needs random access. A local store is read in place; a remote object
   * is staged (mode 0600) in a temp directory under this one while it streams, then removed.
   * `false` skips the walk for remote stores (no local disk to spare).
   */
  readonly scratchDir?: string | false;
  /** Stops the re-read; the manifest is then left as it was. */
  readonly signal?: AbortSignal;
  /**
   * When the result cannot be written back (read-only credentials, a lock the principal may not
   * extend), this hears why and the verification still stands; without it that write's error is thrown.
   */
  readonly onRecordFailed?: (err: unknown) => void;
  /** Also prove every encrypted value opens with these keys (needs the snapshot on disk: not with scratchDir false). */
  readonly keyring?: Keyring;
  /** Hears that the decryption proof runs. */
  readonly logger?: Logger;
}

/**
 * Re-reads a stored backup and proves it still is what its manifest says: the object's SHA-256
 * against its trailer and the manifest, its size, its status (hash, revision, keys) computed from
 * the bytes, and the full structural check of `snapshot verify` (every page, key order, etcd's
 * encoding). The result is appended to the manifest's `verifications`.
 */
export async function verifyBackup(store: Store, options: VerifyOptions = {}): Promise<BackupVerification> {
  const signal = options.signal;
  const manifest = await readManifest(store, signal);
  // A store with the bytes on disk is walked in place; a remote one is staged first.
  const staging =
    store.localPath(SNAPSHOT_FILE) === undefined && options.scratchDir !== false
      ? await makeScratchDir(options.scratchDir, "hcpeb-verify-")
      : undefined;
  let check: SnapshotCheck;
  const { keyring } = options;
  try {
    // The proof is made by the structural walk, which reads every stored value anyway.
    check = await checkBackupSnapshot(store, manifest, {
      ...(staging ? { stageTo: join(staging, SNAPSHOT_FILE) } : {}),
      signal,
      ...(keyring
        ? {
            keys: keyring.keys,
            onWalk: () =>
              options.logger?.info({ keys: keyring.names }, "opening every stored value with the saved keys"),
          }
        : {}),
    });
  } finally {
    if (staging) await rm(staging, { recursive: true, force: true });
  }
  const decryption = check.decryption;
  if (decryption) {
    check.checks.push("decryption");
    check.problems.push(...proofProblems(decryption));
  }
  const chain = await proveBackupChain(store, manifest, check, signal);
  const { checks, problems } = check;
  const verification: Verification = {
    at: new Date().toISOString(),
    toolVersion: toolVersion(),
    checks,
    ok: problems.length === 0,
    ...(problems.length > 0 ? { detail: problems.slice(0, 5).join("; ") } : {}),
    ...(decryption ? { decryption } : {}),
  };
  let updated = manifest;
  try {
    updated = await recordVerification(store, manifest, verification, signal);
  } catch (err) {
    if (!options.onRecordFailed || signal?.aborted) throw err;
    options.onRecordFailed(err);
  }
  return { ref: store.url, manifest: updated, verification, problems, ...(chain ? { chain } : {}) };
}

/** How a problem of the delta chain reads among a verification's problems. */
export const CHAIN_PROBLEM_PREFIX = "delta chain: ";

/**
 * A continuous backup's deltas are part of it (verify and the restore drill alike): a damaged segment
 * must not leave the backup recorded as good. Adds "delta-chain" to `into.checks` and each problem to
 * `into.problems`; nothing (undefined) for a backup without deltas.
 */
export async function proveBackupChain(
  store: Store,
  manifest: Manifest,
  into: { readonly checks: string[]; readonly problems: string[] },
  signal?: AbortSignal,
): Promise<ChainCheck | undefined> {
  const chain = await verifyChain(store, "", manifest.snapshot.revision, signal);
  if (chain.segments === 0 && chain.problems.length === 0) return undefined;
  into.checks.push("delta-chain");
  into.problems.push(...chain.problems.map((p) => `${CHAIN_PROBLEM_PREFIX}${p}`));
  return chain;
}

export async function readManifest(store: Store, signal?: AbortSignal): Promise<Manifest> {
  let body: Buffer;
  try {
    body = await store.read(MANIFEST_FILE, { signal });
  } catch (err) {
    if (signal?.aborted || (await store.exists(MANIFEST_FILE, { signal }).catch(() => true))) throw err;
    throw await notABackup(store, err, signal);
  }
  return parseManifest(body, store.urlOf(MANIFEST_FILE));
}

/**
 * The ref has no manifest: most often it is the store (or a cluster's folder in it) rather than one
 * backup. Say what a backup ref is and how to get one; a store that cannot even be listed keeps its error.
 */
async function notABackup(store: Store, cause: unknown, signal?: AbortSignal): Promise<Error> {
  try {
    for await (const o of store.list("", { signal }))
      if (o.key.endsWith(`/${MANIFEST_FILE}`))
        return new UsageError(
          `${store.url} holds backups but is not one: pass a backup's ref, as \`hcp-etcd-backup list --from ${store.url}\` prints them`,
        );
  } catch {
    return cause instanceof Error ? cause : new OperationError(String(cause));
  }
  return new UsageError(
    `${store.url} is not a backup (it has no ${MANIFEST_FILE}): pass a backup's ref, as \`hcp-etcd-backup list --from <store>\` prints them`,
  );
}

/** Appends a verification to the backup's manifest and writes it back. */
export async function recordVerification(
  store: Store,
  manifest: Manifest,
  verification: Verification,
  signal?: AbortSignal,
): Promise<Manifest> {
  const updated: Manifest = { ...manifest, verifications: [...manifest.verifications, verification] };
  // Under S3 Object Lock the rewrite is a new version of the manifest: it keeps the lock of the one it follows.
  const lock = await store.lockOf(MANIFEST_FILE, { signal });
  const retention =
    lock?.mode && lock.retainUntil && lock.retainUntil > new Date()
      ? { mode: lock.mode, retainUntil: lock.retainUntil }
      : undefined;
  await store.put(MANIFEST_FILE, serializeManifest(updated), { contentType: "application/json", signal, retention });
  return updated;
}

export interface SnapshotCheck {
  /** What was checked, as recorded in `verifications`. */
  readonly checks: string[];
  /** One line per check that failed. */
  readonly problems: string[];
  /** A file holding the verified bytes: the local store's own, or the staged copy. */
  readonly file?: string;
  /** What a restored etcd 3.4's HashKV must answer, when asked for and the structure was walked whole. */
  readonly hashKv?: HashKvOutcome;
  /** With `keys`, when every check passed: whether they open every stored value. */
  readonly decryption?: DecryptionProof;
}

/**
 * Reads a backup's snapshot and proves it is what the manifest says (SHA-256 and trailer, size,
 * status), then walks its structure when the bytes are on disk: in place for a local store, else in
 * `stageTo` (written 0600 while the object streams, left for the caller). Changes nothing in the store.
 */
export async function checkBackupSnapshot(
  store: Store,
  manifest: Manifest,
  options: {
    stageTo?: string;
    signal?: AbortSignal;
    hashKv?: HashKvOptions;
    /** Also prove these keys open every stored value, in the structural walk (see SnapshotCheck.decryption). */
    keys?: readonly AescbcKey[];
    /** Called as the structural walk starts (the stream's checks passed). */
    onWalk?: () => void;
  } = {},
): Promise<SnapshotCheck> {
  const { stageTo, signal } = options;
  let hashKv: HashKvOutcome | undefined;
  const problems: string[] = [];
  const checks = ["sha256-trailer", "byte-count", "status", "manifest"];
  let decryption: DecryptionProof | undefined;
  const inPlace = store.localPath(SNAPSHOT_FILE);
  const file = inPlace ?? stageTo;
  const want = manifest.snapshot;
  const compare = (what: string, got: string | number, expected: string | number) => {
    if (got !== expected) problems.push(`${what} is ${got}, the manifest says ${expected}`);
  };
  const compareStatus = (status: SnapshotStatus) => {
    compare("status hash", status.hash, want.statusHash);
    compare("revision", Number(status.revision), want.revision);
    compare("total keys", status.totalKey, want.totalKeys);
    compare("total size", status.totalSize, want.totalSize);
  };
  try {
    const origin = store.urlOf(SNAPSHOT_FILE);
    const source = store.get(SNAPSHOT_FILE, { signal });
    // Bytes walked from disk below get their status from the walk: the stream proves the trailer
    // alone, so nothing on this thread grows with the database (the status's per-page tables would).
    const verifier = file ? new TrailerVerifier() : new SnapshotVerifier();
    const bytes = verifier.pipe(source, origin);
    await (file && inPlace === undefined ? stage(bytes, file) : drain(bytes));
    const v = verifier.result;
    compare("sha256", v.sha256, want.sha256);
    compare("object size", v.objectSize, want.objectSize);
    if (verifier instanceof SnapshotVerifier) compareStatus(verifier.result.status);
    if (file && problems.length === 0) {
      checks.push("structure", "etcd-encoding");
      // Off this thread: the walk of a large file must not hold up a signal.
      // The stream above proved the trailer on these bytes: the walk does not hash them again.
      const trailer = { present: true, ok: true, actual: v.sha256, expected: v.sha256, fileSize: v.objectSize };
      options.onWalk?.();
      const report = await verifySnapshotOffThread(file, {
        signal,
        trailer,
        ...(options.hashKv ? { hashKv: options.hashKv } : {}),
        ...(options.keys ? { keys: options.keys } : {}),
      });
      // A walk that found damage has no status: its findings are the problems then.
      if (report.status) {
        compareStatus(report.status);
        // The stream's own status check did this: bytes between the database and the trailer are not its.
        compare("image size", v.dbSize, report.status.totalSize);
      }
      for (const f of report.findings) if (f.severity === "error") problems.push(`[${f.code}] ${f.message}`);
      hashKv = report.hashKv;
      // A walk that found damage saw only part of the values: no proof then, as the check failed anyway.
      if (report.decryption && problems.length === 0) decryption = report.decryption;
    }
  } catch (err) {
    if (!(err instanceof VerificationError)) throw err;
    problems.push(describe(err));
  }
  return {
    checks,
    problems,
    ...(file ? { file } : {}),
    ...(hashKv ? { hashKv } : {}),
    ...(decryption ? { decryption } : {}),
  };
}

async function drain(bytes: AsyncIterable<Buffer>): Promise<void> {
  for await (const _ of bytes) {
    // the verifier does the work; the bytes go nowhere
  }
}

async function stage(bytes: AsyncIterable<Buffer>, file: string): Promise<void> {
  try {
    await pipeline(Readable.from(bytes), createWriteStream(file, { mode: 0o600 }));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOSPC" || code === "EACCES" || code === "EROFS") {
      throw new OperationError(
        `cannot stage the snapshot in ${file} for the structural check (${code}): free space, pass --scratch-dir, or --no-structure`,
        { cause: err },
      );
    }
    throw err;
  }
}
