import { describe, VerificationError } from "../errors.js";
import { toolVersion } from "../package-info.js";
import { verifySnapshot } from "../snapshot/verify.js";
import { LocalStore } from "../store/local-store.js";
import {
  MANIFEST_FILE,
  type Manifest,
  parseManifest,
  SNAPSHOT_FILE,
  serializeManifest,
  type Verification,
} from "../store/manifest.js";
import type { Store } from "../store/store.js";
import { SnapshotVerifier } from "./verified-stream.js";

export interface BackupVerification {
  readonly ref: string;
  readonly manifest: Manifest;
  readonly verification: Verification;
  /** One line per check that failed. */
  readonly problems: readonly string[];
}

/**
 * Re-reads a stored backup and proves it still is what its manifest says: the object's SHA-256
 * against its trailer and the manifest, its size, its status (hash, revision, keys) computed from
 * the bytes, and — for a local store, where the file can be read at random — the full structural
 * check of `snapshot verify`. The result is appended to the manifest's `verifications`.
 */
export async function verifyBackup(store: Store): Promise<BackupVerification> {
  const manifest = parseManifest(await store.read(MANIFEST_FILE), store.urlOf(MANIFEST_FILE));
  const problems: string[] = [];
  const checks = ["sha256-trailer", "byte-count", "status", "manifest"];
  const verifier = new SnapshotVerifier();
  try {
    for await (const _ of verifier.pipe(store.get(SNAPSHOT_FILE), store.urlOf(SNAPSHOT_FILE))) {
      // the verifier does the work; the bytes go nowhere
    }
    const v = verifier.result;
    const want = manifest.snapshot;
    const compare = (what: string, got: string | number, expected: string | number) => {
      if (got !== expected) problems.push(`${what} is ${got}, the manifest says ${expected}`);
    };
    compare("sha256", v.sha256, want.sha256);
    compare("object size", v.objectSize, want.objectSize);
    compare("status hash", v.status.hash, want.statusHash);
    compare("revision", Number(v.status.revision), want.revision);
    compare("total keys", v.status.totalKey, want.totalKeys);
    compare("total size", v.status.totalSize, want.totalSize);
  } catch (err) {
    if (!(err instanceof VerificationError)) throw err;
    problems.push(describe(err));
  }
  if (store instanceof LocalStore && problems.length === 0) {
    checks.push("structure", "etcd-encoding");
    const report = await verifySnapshot(store.urlOf(SNAPSHOT_FILE));
    for (const f of report.findings) if (f.severity === "error") problems.push(`[${f.code}] ${f.message}`);
  }
  const verification: Verification = {
    at: new Date().toISOString(),
    toolVersion: toolVersion(),
    checks,
    ok: problems.length === 0,
    ...(problems.length > 0 ? { detail: problems.slice(0, 5).join("; ") } : {}),
  };
  const updated: Manifest = { ...manifest, verifications: [...manifest.verifications, verification] };
  await store.put(MANIFEST_FILE, serializeManifest(updated), { contentType: "application/json" });
  return { ref: store.url, manifest: updated, verification, problems };
}
