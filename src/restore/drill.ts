import { randomBytes } from "node:crypto";
import { chmod, mkdir, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkBackupSnapshot, readManifest, recordVerification } from "../backup/verify-backup.js";
import { CancelledError, describe, VerificationError } from "../errors.js";
import { EtcdClient } from "../etcd/client.js";
import { createPki } from "../localetcd/certs.js";
import { LocalEtcdCluster } from "../localetcd/cluster.js";
import { releaseDir, trackDir } from "../localetcd/reaper.js";
import { type Logger, silentLogger } from "../logging.js";
import { toolVersion } from "../package-info.js";
import type { Manifest, Verification } from "../store/manifest.js";
import type { Store } from "../store/store.js";
import { type Comparison, compareKeyStreams, liveKeyStates } from "./compare-live.js";
import { findEtcd, findRestoreTool, restoreMember } from "./restore-tool.js";
import { type SortedLiveKeys, sortLiveKeys } from "./sorted-live-keys.js";

export interface DrillOptions {
  /** Parent of the drill's scratch directory (staged snapshot, restored data, etcd's files); default the OS temp dir. */
  readonly scratchDir?: string;
  /** Stops the drill; everything it started is stopped and removed, and the manifest is left as it was. */
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
  /** Memory for sorting the snapshot's keys before spilling to the scratch directory (default 64 MiB). */
  readonly sortMemoryBytes?: number;
}

export interface DrillResult {
  readonly ref: string;
  readonly manifest: Manifest;
  readonly verification: Verification;
  readonly problems: readonly string[];
  /** Absent when the drill stopped before comparing (verification failed, etcd did not start). */
  readonly comparison?: Comparison;
  /** Seconds per phase, in the order they ran. */
  readonly phases: Readonly<Record<string, number>>;
  readonly seconds: number;
}

const GiB = 1024 ** 3;

/**
 * The proof that a backup restores: verify it (as `verify` does), restore it into a scratch data
 * directory, start a throwaway etcd on it (loopback, mutual TLS), and compare every key and value
 * etcd serves at the snapshot's revision with the snapshot's own live keys, as two key-ordered
 * streams (memory stays bounded whatever the size). The etcd is stopped and the scratch directory
 * removed; the result, with the time taken, is appended to the manifest's `verifications`.
 */
export async function restoreDrill(store: Store, options: DrillOptions = {}): Promise<DrillResult> {
  const { signal } = options;
  const log = options.logger ?? silentLogger();
  const started = performance.now();
  const phases: Record<string, number> = {};
  let mark = started;
  const phase = (name: string) => {
    const now = performance.now();
    phases[name] = (now - mark) / 1000;
    mark = now;
  };
  const manifest = await readManifest(store, signal);
  // Tools first: a machine without them says so, and no verdict is recorded about the backup.
  const [tool, etcd] = await Promise.all([findRestoreTool(), findEtcd()]);
  const scratch = await mkdtemp(join(options.scratchDir ?? tmpdir(), "hcpeb-drill-"));
  trackDir(scratch);
  const problems: string[] = [];
  const checks: string[] = [];
  let comparison: Comparison | undefined;
  let sorted: SortedLiveKeys | undefined;
  let cluster: LocalEtcdCluster | undefined;
  let client: EtcdClient | undefined;
  try {
    await chmod(scratch, 0o700);
    const check = await checkBackupSnapshot(store, manifest, { stageTo: join(scratch, "snapshot.db"), signal });
    checks.push(...check.checks);
    problems.push(...check.problems);
    phase("verify");
    log.info({ ref: store.url, ok: problems.length === 0, seconds: phases.verify }, "backup verified");
    if (problems.length === 0 && check.file) {
      const [plan] = await LocalEtcdCluster.plan(1);
      const member = plan as NonNullable<typeof plan>;
      const dataDir = join(scratch, member.name);
      // The restore runs in its own process while this one sorts the snapshot's keys.
      const restoring = restoreMember(
        tool,
        check.file,
        {
          name: member.name,
          dataDir,
          initialCluster: `${member.name}=${member.peerURL}`,
          initialClusterToken: `hcpeb-drill-${randomBytes(6).toString("hex")}`,
          advertisePeerUrls: member.peerURL,
        },
        signal,
      );
      restoring.catch(() => {}); // awaited below; the sort may throw first
      // The throwaway etcd's certificates are made meanwhile too (openssl, other processes).
      const pkiDir = join(scratch, "pki");
      await mkdir(pkiDir, { mode: 0o700 });
      const making = createPki(pkiDir, "hcpeb-drill-ca");
      making.catch(() => {});
      checks.push("restore");
      sorted = sortLiveKeys(check.file, {
        scratchDir: scratch,
        ...(options.sortMemoryBytes ? { memoryBytes: options.sortMemoryBytes } : {}),
      });
      const restored = await restoring.then(
        () => true,
        (err: unknown) => {
          if (!(err instanceof VerificationError)) throw err;
          problems.push(describe(err));
          return false;
        },
      );
      phase("restore");
      log.info({ seconds: phases.restore, spilledRuns: sorted.spilledRuns }, "snapshot restored and its keys sorted");
      if (restored) {
        checks.push("etcd-start");
        const dbSize = manifest.snapshot.dbSize;
        const pki = await making;
        try {
          cluster = await LocalEtcdCluster.start({
            existing: [{ name: member.name, dataDir, peerPort: member.peerPort, clientPort: member.clientPort }],
            pki,
            baseDir: scratch,
            etcdBinary: etcd,
            // etcd refuses writes (not reads) past its quota; a large backup gets room to start in.
            quotaBytes: dbSize > 1.5 * GiB ? Math.ceil(dbSize * 1.25) : 0,
            startTimeoutMs: 30_000 + Math.ceil(dbSize / GiB) * 30_000,
          });
        } catch (err) {
          if (signal?.aborted) throw err;
          problems.push(`etcd did not start on the restored data: ${describe(err)}`);
        }
        phase("start");
      }
      if (cluster) {
        checks.push("live-keys");
        client = await EtcdClient.connect({
          endpoint: cluster.endpoint(0),
          tls: await cluster.tlsMaterial(),
          callTimeoutMs: 120_000,
          ...(signal ? { signal } : {}),
        });
        comparison = await compareKeyStreams(sorted, liveKeyStates(client, { revision: manifest.snapshot.revision }));
        phase("compare");
        log.info({ ...summary(comparison), seconds: phases.compare }, "live keys compared");
        if (!comparison.equal) problems.push(differenceLine(comparison, manifest.snapshot.revision));
      }
    }
  } catch (err) {
    if (signal?.aborted)
      throw new CancelledError("the restore drill was cancelled; its etcd and scratch data were removed");
    throw err;
  } finally {
    client?.close();
    await cluster?.stop();
    sorted?.dispose();
    releaseDir(scratch);
  }
  if (signal?.aborted)
    throw new CancelledError("the restore drill was cancelled; its etcd and scratch data were removed");
  const seconds = (performance.now() - started) / 1000;
  const ok = problems.length === 0;
  const verification: Verification = {
    at: new Date().toISOString(),
    toolVersion: toolVersion(),
    checks,
    ok,
    detail: ok
      ? `restore drill: etcd served ${comparison?.liveKeys} live keys at revision ${manifest.snapshot.revision}, equal to the snapshot's`
      : problems.slice(0, 5).join("; "),
    seconds: Math.round(seconds * 1000) / 1000,
  };
  const updated = await recordVerification(store, manifest, verification, signal);
  return {
    ref: store.url,
    manifest: updated,
    verification,
    problems,
    ...(comparison ? { comparison } : {}),
    phases,
    seconds,
  };
}

function summary(c: Comparison) {
  return { snapshotKeys: c.snapshotKeys, liveKeys: c.liveKeys, missing: c.missing, extra: c.extra, changed: c.changed };
}

/** One line for a comparison that found differences: the counts, then the first few keys. */
export function differenceLine(c: Comparison, revision: number): string {
  const examples = c.examples
    .slice(0, 3)
    .map((d) => (d.problem === "changed" ? `${d.key} (${d.fields?.join(", ")})` : `${d.key} (${d.problem})`))
    .join(", ");
  return (
    `restored etcd differs from the snapshot at revision ${revision}: ${c.missing} keys missing, ` +
    `${c.extra} extra, ${c.changed} changed of ${c.snapshotKeys}; e.g. ${examples}`
  );
}
