import { createWriteStream } from "node:fs";
import { rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { TrailerVerifier } from "../backup/verified-stream.js";
import { readManifest } from "../backup/verify-backup.js";
import { VerificationError } from "../errors.js";
import { makeScratchDir } from "../scratch.js";
import { SNAPSHOT_FILE } from "../store/manifest.js";
import type { Store } from "../store/store.js";

/** A snapshot on local disk to read objects from, and how to let go of it. */
export interface SnapshotSource {
  readonly path: string;
  /** The backup it came from; undefined for a plain snapshot file. */
  readonly store?: Store;
  release(): Promise<void>;
}

/** A path naming an existing regular file is a snapshot file; anything else is a backup ref. */
export async function isSnapshotFile(ref: string): Promise<boolean> {
  try {
    return (await stat(ref)).isFile();
  } catch {
    return false;
  }
}

/**
 * A backup's snapshot on local disk: read in place from a local store, else staged (0600) in a
 * scratch directory while its SHA-256 is checked against the manifest, removed on release.
 */
export async function backupSnapshot(
  store: Store,
  options: { scratchDir?: string; signal?: AbortSignal } = {},
): Promise<SnapshotSource> {
  const manifest = await readManifest(store, options.signal);
  const inPlace = store.localPath(SNAPSHOT_FILE);
  if (inPlace) return { path: inPlace, store, release: async () => {} };
  const dir = await makeScratchDir(options.scratchDir, "hcpeb-get-");
  const path = join(dir, SNAPSHOT_FILE);
  const release = () => rm(dir, { recursive: true, force: true });
  try {
    const verifier = new TrailerVerifier();
    const bytes = verifier.pipe(store.get(SNAPSHOT_FILE, { signal: options.signal }), store.urlOf(SNAPSHOT_FILE));
    await pipeline(Readable.from(bytes), createWriteStream(path, { mode: 0o600 }));
    if (verifier.result.sha256 !== manifest.snapshot.sha256)
      throw new VerificationError(
        `${store.urlOf(SNAPSHOT_FILE)}: sha256 is ${verifier.result.sha256}, the manifest says ${manifest.snapshot.sha256}: the backup is damaged (run verify)`,
      );
  } catch (err) {
    await release();
    throw err;
  }
  return { path, store, release };
}

/** A snapshot file as it is, else the backup `openStore` opens (staged and checked as backupSnapshot does). */
export async function openSnapshotSource(
  source: string,
  openStore: () => Store,
  options: { scratchDir?: string; signal?: AbortSignal } = {},
): Promise<SnapshotSource> {
  if (await isSnapshotFile(source)) return { path: source, release: async () => {} };
  return backupSnapshot(openStore(), options);
}
