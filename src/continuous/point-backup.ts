import { RAW_KEY_OBJECT } from "../backup/hosted-keys.js";
import { snapshotFacts } from "../backup/manifest-builder.js";
import { SnapshotVerifier } from "../backup/verified-stream.js";
import { readManifest } from "../backup/verify-backup.js";
import type { Logger } from "../logging.js";
import { toolVersion } from "../package-info.js";
import { backupFolder, backupId } from "../store/layout.js";
import { MANIFEST_FILE, type Manifest, SNAPSHOT_FILE, serializeManifest } from "../store/manifest.js";
import { joinKey, type Store } from "../store/store.js";
import { type ReplayFacts, type RestorePoint, replayChain, replayFactsOf } from "./replay.js";

export interface PointBackupRequest {
  /** The continuous backup's folder. */
  readonly backup: Store;
  /** The store root that folder is in: the new backup goes beside it, under the same label. */
  readonly root: Store;
  readonly point: RestorePoint;
  readonly scratchDir?: string;
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
}

export interface PointBackup {
  /** The new backup's folder, relative to the root. */
  readonly folder: string;
  readonly manifest: Manifest;
  readonly facts: ReplayFacts;
}

/**
 * The state of a continuous backup at a point, as a backup of its own: the chain replayed in a scratch
 * etcd (`replayChain`), that etcd's snapshot streamed into a new folder beside the original under the
 * same label and proven on the way (SHA-256 trailer, byte count, status), the saved keys copied, and a
 * manifest (written last, the commit) that says where it came from. HyperShift's etcd-init downloads
 * one snapshot from one URL: this is the snapshot `restore prepare --at-*` presigns.
 */
export async function backupAtPoint(req: PointBackupRequest): Promise<PointBackup> {
  const { signal } = req;
  const base = await readManifest(req.backup, signal);
  const startedAt = new Date();
  return replayChain(
    {
      source: { kind: "backup", store: req.backup },
      point: req.point,
      ...(req.scratchDir ? { scratchDir: req.scratchDir } : {}),
      ...(signal ? { signal } : {}),
      ...(req.logger ? { logger: req.logger } : {}),
    },
    async (p) => {
      const id = backupId(new Date(), p.replayedRevision);
      const folder = backupFolder(base.label, id);
      const verifier = new SnapshotVerifier();
      const streamStart = performance.now();
      await req.root.put(joinKey(folder, SNAPSHOT_FILE), verifier.pipe(p.snapshot(), p.endpoint), {
        contentType: "application/octet-stream",
        ...(signal ? { signal } : {}),
      });
      const snapshotSeconds = (performance.now() - streamStart) / 1000;
      await p.stop();
      // The keys that open the state's values: the same as the chain's base (a rotation would have started a new chain's base with its keys).
      for await (const o of req.backup.list("", signal ? { signal } : {})) {
        const name = o.key;
        // Only the backup folder's own key files (encryption-key[.age], -backup, -listed-<name>), not the deltas.
        if (!name.startsWith(RAW_KEY_OBJECT) || name.includes("/")) continue;
        await req.root.put(joinKey(folder, name), await req.backup.read(name, signal ? { signal } : {}), {
          ...(signal ? { signal } : {}),
        });
      }
      const finished = new Date();
      const manifest: Manifest = {
        ...base,
        tool: { name: "hcp-etcd-backup", version: toolVersion() },
        backupId: id,
        createdAt: finished.toISOString(),
        writerDowntime: undefined,
        memberSnapshots: undefined,
        objectLock: undefined,
        snapshot: snapshotFacts(verifier.result),
        timings: {
          startedAt: startedAt.toISOString(),
          finishedAt: finished.toISOString(),
          snapshotSeconds,
          totalSeconds: (finished.getTime() - startedAt.getTime()) / 1000,
        },
        verifications: [
          {
            at: finished.toISOString(),
            toolVersion: toolVersion(),
            checks: [...p.checks, "sha256-trailer", "byte-count", "status"],
            ok: true,
            detail: "the chain replayed to the point; the snapshot checked while streaming from the replaying etcd",
          },
        ],
        pointInTime: {
          fromBackupId: base.backupId,
          baseRevision: p.baseRevision,
          revision: p.replayedRevision,
          ...("time" in req.point ? { at: req.point.time.toISOString() } : {}),
          segments: p.segments,
          changes: p.changes,
          liveKeys: p.liveKeys,
          stateSha256: p.stateSha256,
        },
      };
      await req.root.put(joinKey(folder, MANIFEST_FILE), serializeManifest(manifest), {
        contentType: "application/json",
        ...(signal ? { signal } : {}),
      });
      return {
        folder,
        manifest,
        facts: replayFactsOf(p),
      };
    },
  );
}
