import { stat } from "node:fs/promises";
import { join } from "node:path";
import { checkBackupSnapshot, readManifest } from "../backup/verify-backup.js";
import { VerificationError } from "../errors.js";
import { unreadableSnapshot } from "../snapshot/errors.js";
import { verifySnapshot } from "../snapshot/verify.js";
import { MANIFEST_FILE, type Manifest } from "../store/manifest.js";
import { openStore, type StoreSettings } from "../store/open-store.js";
import type { Store } from "../store/store.js";

/** What a restore reads: a snapshot file, or a backup in a store (its folder's URL or path). */
export type RestoreSource =
  | { readonly kind: "file"; readonly path: string }
  | { readonly kind: "backup"; readonly store: Store };

/**
 * `s3://...` and `file://...` are backup refs; a plain path is a backup when it is a folder with a
 * manifest, else a snapshot file.
 */
export async function resolveSource(ref: string, settings: StoreSettings = {}): Promise<RestoreSource> {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(ref)) return { kind: "backup", store: openStore(ref, settings) };
  const s = await stat(ref).catch((err: unknown) => {
    throw unreadableSnapshot(ref, err);
  });
  if (s.isDirectory()) {
    const hasManifest = await stat(join(ref, MANIFEST_FILE)).then(
      () => true,
      () => false,
    );
    if (!hasManifest) throw unreadableSnapshot(ref, "is a directory without a backup manifest");
    return { kind: "backup", store: openStore(ref, settings) };
  }
  return { kind: "file", path: ref };
}

/** A snapshot proven sound, on local disk, ready to restore. */
export interface VerifiedSource {
  readonly file: string;
  readonly revision: number;
  readonly dbSize: number;
  /** The backup's manifest, when the source is a backup. */
  readonly manifest?: Manifest;
  /** What was checked (as a manifest's `verifications` names it). */
  readonly checks: readonly string[];
  /** One line per failed check; empty when sound. */
  readonly problems: readonly string[];
  /** Where the snapshot came from, for messages. */
  readonly origin: string;
}

/**
 * Proves the snapshot before anything is restored from it: a file by `snapshot verify` (trailer,
 * every page, etcd's encoding); a backup also against its manifest, a remote one streamed to
 * `stageTo` (0600) on the way. Read-only: the store is not written.
 */
export async function verifySource(
  source: RestoreSource,
  options: { stageTo: string; signal?: AbortSignal },
): Promise<VerifiedSource> {
  if (source.kind === "file") {
    const report = await verifySnapshot(source.path);
    const problems = report.findings.filter((f) => f.severity === "error").map((f) => `[${f.code}] ${f.message}`);
    return {
      file: source.path,
      revision: report.status ? Number(report.status.revision) : 0,
      dbSize: report.fileSize,
      checks: ["sha256-trailer", "structure", "etcd-encoding"],
      problems,
      origin: source.path,
    };
  }
  const { store } = source;
  const manifest = await readManifest(store, options.signal);
  const check = await checkBackupSnapshot(store, manifest, { stageTo: options.stageTo, signal: options.signal });
  return {
    file: check.file ?? options.stageTo,
    revision: manifest.snapshot.revision,
    dbSize: manifest.snapshot.dbSize,
    manifest,
    checks: check.checks,
    problems: check.problems,
    origin: store.url,
  };
}

/** The one-line error for a snapshot that failed its checks. */
export function unsoundSnapshot(v: VerifiedSource): VerificationError {
  const more = v.problems.length > 1 ? ` (and ${v.problems.length - 1} more)` : "";
  return new VerificationError(
    `snapshot ${v.origin} failed verification, nothing was restored: ${v.problems[0]}${more}`,
  );
}
