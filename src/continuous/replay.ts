import { createHash, randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { chmod, mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { CancelledError, UsageError, VerificationError } from "../errors.js";
import { EtcdClient, type TxnOp } from "../etcd/client.js";
import { TxnChannel } from "../etcd/txn-channel.js";
import { createPki } from "../localetcd/certs.js";
import { LocalEtcdCluster, type MemberPlan } from "../localetcd/cluster.js";
import { releaseDir, trackDir } from "../localetcd/reaper.js";
import { type Logger, silentLogger } from "../logging.js";
import { type RestoreLayout, type RestoreLocalResult, restoreLocal } from "../restore/local.js";
import { findEtcd, findRestoreTool, restoreMember } from "../restore/restore-tool.js";
import { type RestoreSource, unsoundSnapshot, verifySource } from "../restore/source.js";
import { makeMemoryDir, makeScratchDir } from "../scratch.js";
import { readChain, readSegment } from "./chain.js";
import { coveredUntil, type SegmentEvent, type SegmentRecord } from "./segment.js";

/** The point to restore to: a source revision, or a time (every change the backup had received by then). */
export type RestorePoint = { readonly revision: number } | { readonly time: Date };

export interface ReplayOptions {
  readonly source: RestoreSource;
  readonly point: RestorePoint;
  readonly scratchDir?: string;
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
  /**
   * The scratch etcd is compacted at its current revision after a segment once this many revisions
   * or bytes were replayed since the last compaction (default 100,000 and 256 MiB): the history is
   * nobody's concern there, and an hour of changes kept whole would outgrow etcd's quota.
   */
  readonly compactEvery?: { readonly revisions: number; readonly bytes: number };
}

export interface PointInTimeOptions extends ReplayOptions {
  readonly dataDir: string;
  readonly layout: RestoreLayout;
}

/** What a replay reached, and how it knows. */
export interface ReplayFacts {
  /** The backup's own revision, where replay started. */
  readonly baseRevision: number;
  /** The last source revision replayed (the base revision when none was). */
  readonly replayedRevision: number;
  readonly segments: number;
  readonly changes: number;
  /** Live keys of the replayed state and the SHA-256 of them in key order (u32 key length, key, u32 value length, value). */
  readonly liveKeys: number;
  readonly stateSha256: string;
  /** Whether the scratch etcd's revision matched the source's after every replayed revision. */
  readonly revisionsAligned: boolean;
}

export interface PointInTimeResult extends RestoreLocalResult, ReplayFacts {}

/** The facts alone, out of a replayed point (which also holds its etcd, snapshot and scratch). */
export function replayFactsOf(p: ReplayFacts): ReplayFacts {
  const { baseRevision, replayedRevision, segments, changes, liveKeys, stateSha256, revisionsAligned } = p;
  return { baseRevision, replayedRevision, segments, changes, liveKeys, stateSha256, revisionsAligned };
}

/** The scratch etcd holding the state at the point, for as long as the callback runs. */
export interface ReplayedPoint extends ReplayFacts {
  /** Its snapshot, read while its leases are still kept alive (an expiry would delete keys from it). */
  snapshot(): AsyncIterable<{ readonly blob: Buffer; readonly remaining: number }>;
  readonly endpoint: string;
  /** The checks behind it: the base's verification, the segments' SHA-256, the chain's contiguity. */
  readonly checks: readonly string[];
  /** A directory for files of its own, removed with everything else afterwards. */
  readonly scratch: string;
  /** Stops the scratch etcd early (its snapshot taken), freeing memory for what comes next. */
  stop(): Promise<void>;
}

/**
 * Restores the state of a continuous backup's chain at a point: the verified full snapshot restored
 * into a scratch etcd (loopback, mutual TLS), the committed segments replayed in revision order up to
 * the point, one Txn per source revision (so etcd's revision numbering stays the source's, checked
 * after every one), then a snapshot of that etcd restored into the data directory as `restore local`
 * does. A damaged segment or a gap before the point stops it: nothing is restored past a problem.
 */
export function restoreAtPoint(options: PointInTimeOptions): Promise<PointInTimeResult> {
  const log = options.logger ?? silentLogger();
  const { signal } = options;
  return replayChain(options, async (p) => {
    const file = join(p.scratch, "at-point.db");
    await pipeline(
      (async function* () {
        for await (const chunk of p.snapshot()) yield chunk.blob;
      })(),
      createWriteStream(file, { mode: 0o600 }),
    );
    await p.stop();
    const restored = await restoreLocal({
      source: { kind: "file", path: file },
      dataDir: options.dataDir,
      layout: options.layout,
      ...(signal ? { signal } : {}),
      logger: log,
    });
    return {
      ...restored,
      origin: options.source.kind === "backup" ? options.source.store.url : restored.origin,
      revision: p.replayedRevision,
      ...replayFactsOf(p),
      checks: [...p.checks, ...restored.checks],
    };
  });
}

/**
 * The chain replayed up to the point in a scratch etcd, which `use` may read (its snapshot) before
 * everything is stopped and removed, whatever `use` does.
 */
export async function replayChain<T>(options: ReplayOptions, use: (point: ReplayedPoint) => Promise<T>): Promise<T> {
  const { signal, source } = options;
  const log = options.logger ?? silentLogger();
  if (source.kind !== "backup")
    throw new UsageError(
      "--at-revision/--at-time need a backup ref (a continuous backup's folder), not a snapshot file",
    );
  const store = source.store;
  const [tool, etcd] = await Promise.all([findRestoreTool(), findEtcd()]);
  const scratch = await makeScratchDir(options.scratchDir, "hcpeb-pitr-");
  trackDir(scratch);
  const keepingAlive = new AbortController();
  let cluster: LocalEtcdCluster | undefined;
  let client: EtcdClient | undefined;
  let txns: TxnChannel | undefined;
  /** RAM-backed directories for the scratch etcd: its data directory's parent, or its WAL's alone. */
  let etcdRoot: string | undefined;
  let walRoot: string | undefined;
  const dropMemory = async () => {
    const dirs = [etcdRoot, walRoot].filter((d) => d !== undefined);
    etcdRoot = undefined;
    walRoot = undefined;
    // Each tried whatever became of the other: a directory left in RAM holds memory until a reboot.
    const removed = await Promise.allSettled(dirs.map((d) => rm(d, { recursive: true, force: true })));
    for (const d of dirs) releaseDir(d);
    const failed = removed.find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
  };
  try {
    await chmod(scratch, 0o700);
    const verified = await verifySource(source, { stageTo: join(scratch, "snapshot.db"), signal });
    if (verified.problems.length > 0) throw unsoundSnapshot(verified);
    const baseRevision = verified.revision;
    const chain = await readChain(store, "", baseRevision, signal);
    const last = chain.records.at(-1);
    const chainEnd = last?.toRevision ?? baseRevision;
    // No segment yet: the base's idle coverage (when it names this backup) is how far a time may go.
    const baseCoveredAt =
      !last && chain.coverage && (!verified.manifest || chain.coverage.baseBackupId === verified.manifest.backupId)
        ? chain.coverage.coveredAt
        : undefined;
    const coveredTo = last ? coveredUntil(last) : (baseCoveredAt ?? verified.manifest?.createdAt);
    const window = `the chain covers revisions ${baseRevision}..${chainEnd}${coveredTo ? ` (up to ${coveredTo})` : ""}`;
    const target = targetOf(
      options.point,
      baseRevision,
      chainEnd,
      verified.manifest?.createdAt,
      coveredTo,
      window,
      chain.records,
      chain.records.length > 0 || chain.coverage !== undefined || chain.problems.length > 0,
    );
    if (target.revision > chain.contiguousTo)
      throw new VerificationError(
        `cannot restore past revision ${chain.contiguousTo}: ${chain.problems[0]} (restore to an earlier point)`,
      );
    log.info({ baseRevision, target: target.revision, segments: chain.records.length }, "replaying the chain");
    // The scratch etcd syncs its WAL once per replayed revision, and writes its database: on a disk
    // those syncs are most of the replay's time. Nothing needs either to survive (a replay cut short
    // starts over), so they go to RAM when a tmpfs has room and the machine memory to spare: the whole
    // etcd when its database and every change replayed fit, else its WAL alone. Sized for the worst
    // case (no purge, every change kept), it cannot overflow mid-replay. --scratch-dir puts everything
    // where the user said.
    if (options.scratchDir === undefined) {
      const replayBytes = chain.records
        .filter((r) => r.fromRevision <= target.revision)
        .reduce((n, r) => n + r.bytes, 0);
      const walBytes = WAL_FILE_BYTES * 4 + Math.ceil(replayBytes * 1.25);
      etcdRoot = await makeMemoryDir("hcpeb-pitr-etcd-", walBytes + Math.ceil(verified.dbSize * 1.25) + replayBytes);
      if (!etcdRoot) walRoot = await makeMemoryDir("hcpeb-pitr-wal-", walBytes);
      for (const dir of [etcdRoot, walRoot]) if (dir) trackDir(dir);
    }
    log.info(
      { inMemory: etcdRoot ? "database and WAL" : walRoot ? "WAL" : "nothing", scratch },
      "scratch etcd's place",
    );
    const [plan] = (await LocalEtcdCluster.plan(1)) as [MemberPlan];
    const pkiDir = join(scratch, "pki");
    await mkdir(pkiDir, { mode: 0o700 });
    const pki = await createPki(pkiDir, "hcpeb-pitr-ca");
    const dbSize = verified.dbSize;
    cluster = await LocalEtcdCluster.startRestored(
      async () => {
        const dataDir = join(etcdRoot ?? scratch, `${plan.name}-${randomBytes(3).toString("hex")}`);
        const walDir = walRoot ? join(walRoot, `wal-${randomBytes(3).toString("hex")}`) : undefined;
        await restoreMember(
          tool,
          verified.file,
          {
            name: plan.name,
            dataDir,
            initialCluster: `${plan.name}=${plan.peerURL}`,
            initialClusterToken: `hcpeb-pitr-${randomBytes(6).toString("hex")}`,
            advertisePeerUrls: plan.peerURL,
            skipHashCheck: true,
            ...(walDir ? { walDir } : {}),
          },
          signal,
        );
        return {
          members: [{ name: plan.name, dataDir, peerPort: plan.peerPort, ...(walDir ? { walDir } : {}) }],
          discard: async () => {
            await rm(dataDir, { recursive: true, force: true });
            if (walDir) await rm(walDir, { recursive: true, force: true });
          },
        };
      },
      {
        pki,
        baseDir: scratch,
        etcdBinary: etcd,
        // Replay adds history: room beyond etcd's 2 GiB default for a large base (gardener #133, #604).
        quotaBytes: Math.max(8 * 1024 ** 3, Math.ceil(dbSize * 2)),
        startTimeoutMs: 30_000 + Math.ceil(dbSize / 1024 ** 3) * 30_000,
        // A WAL in RAM is purged as snapshots cover it (etcd's default would keep 100,000 entries).
        ...(etcdRoot || walRoot ? { snapshotCount: 10_000 } : {}),
      },
    );
    client = await EtcdClient.connect({
      endpoint: cluster.endpoint(0),
      tls: await cluster.tlsMaterial(),
      callTimeoutMs: 120_000,
      ...(signal ? { signal } : {}),
    });
    // The replay's Txns go through a channel of their own: the client's work per call is on its critical path.
    txns = await TxnChannel.open(cluster.endpoint(0), await cluster.tlsMaterial(), {
      callTimeoutMs: 120_000,
      ...(signal ? { signal } : {}),
    });
    // Leases: the base's leases are in the scratch etcd and would expire there during a long replay,
    // deleting keys (and adding revisions) that the source never deleted then. So every lease is kept
    // alive while replaying; a source lease expiring is replayed as the deletes etcd recorded for it.
    const leases = new Set(await client.leaseIds());
    client.keepLeasesAlive(() => leases, LEASE_REFRESH_MS, keepingAlive.signal);
    const startRevision = (await client.status()).revision;
    // An empty snapshot reads as revision 0; etcd serves an empty store as revision 1.
    let aligned = startRevision === Math.max(baseRevision, 1);
    let replayed = baseRevision;
    let segments = 0;
    let changes = 0;
    const compactEvery = options.compactEvery ?? { revisions: 100_000, bytes: 256 * 1024 ** 2 };
    const sinceCompaction = { revisions: 0, bytes: 0 };
    let scratchRevision = startRevision;
    for (const record of chain.records) {
      if (record.fromRevision > target.revision) break;
      // Nothing in it was received by the time: neither read nor counted.
      if (target.time && Date.parse(record.firstEventAt ?? record.openedAt) > target.time.getTime()) break;
      checkAborted(signal);
      let events: SegmentEvent[];
      try {
        events = await readSegment(store, "", record, signal);
      } catch (err) {
        if (!(err instanceof VerificationError)) throw err;
        throw new VerificationError(
          `${err.message}: cannot restore past revision ${record.fromRevision - 1}; nothing was restored`,
        );
      }
      segments++;
      for (const group of byRevision(events)) {
        const first = group[0] as SegmentEvent;
        if (first.revision > target.revision || (target.time && first.at > target.time.getTime())) break;
        for (const e of group)
          if (e.type === "put" && e.lease !== "0" && !leases.has(e.lease)) {
            // Granted again under the source's ID and TTL, so the restored key expires as it would have.
            await client.leaseGrant(e.leaseTtl || UNKNOWN_LEASE_TTL_S, e.lease);
            leases.add(e.lease);
          }
        const got = await txns.txn(group.map(toOp));
        scratchRevision = got;
        if (got !== first.revision) aligned = false;
        replayed = first.revision;
        changes += group.length;
        sinceCompaction.revisions++;
      }
      sinceCompaction.bytes += record.bytes;
      if (sinceCompaction.revisions >= compactEvery.revisions || sinceCompaction.bytes >= compactEvery.bytes) {
        // At the scratch etcd's own revision (the source's, unless the replay lost alignment, which
        // is reported, not made worse). A compaction adds no revision: the alignment holds across it.
        await client.compact(scratchRevision);
        log.debug({ revision: scratchRevision }, "scratch etcd compacted");
        sinceCompaction.revisions = 0;
        sinceCompaction.bytes = 0;
      }
    }
    const state = await stateHash(client);
    log.info(
      { replayedRevision: replayed, changes, segments, liveKeys: state.keys, stateSha256: state.sha256, aligned },
      "chain replayed",
    );
    const live = client;
    const endpoint = cluster.endpoint(0);
    return await use({
      baseRevision,
      replayedRevision: replayed,
      segments,
      changes,
      liveKeys: state.keys,
      stateSha256: state.sha256,
      revisionsAligned: aligned,
      endpoint,
      checks: [...verified.checks, "segments-sha256", "chain-contiguous"],
      scratch,
      snapshot: () => live.snapshot(signal),
      stop: async () => {
        // Kept alive until the snapshot is read: an expiry before it would delete keys from it.
        keepingAlive.abort();
        txns?.close();
        client?.close();
        client = undefined;
        await cluster?.stop();
        cluster = undefined;
        await dropMemory();
      },
    });
  } finally {
    keepingAlive.abort();
    txns?.close();
    client?.close();
    try {
      await cluster?.stop();
    } finally {
      try {
        await dropMemory();
      } finally {
        await rm(scratch, { recursive: true, force: true });
        releaseDir(scratch);
      }
    }
  }
}

function targetOf(
  point: RestorePoint,
  base: number,
  chainEnd: number,
  createdAt: string | undefined,
  /** Until when every change is in the chain: the newest record's coverage, else the base's. */
  coveredTo: string | undefined,
  window: string,
  records: readonly SegmentRecord[],
  /** Whether the backup has a delta chain at all (a record, a coverage or a problem with one). */
  hasChain: boolean,
): { revision: number; time?: Date } {
  if ("revision" in point) {
    if (point.revision < base || point.revision > chainEnd)
      throw new UsageError(`revision ${point.revision} is outside this backup: ${window}`);
    return { revision: point.revision };
  }
  const t = point.time.getTime();
  if (createdAt && t < new Date(createdAt).getTime())
    throw new UsageError(`${point.time.toISOString()} is before this backup was taken (${createdAt}): ${window}`);
  // Past it, etcd may have changed what the chain does not hold: a time there is refused, segment or not.
  if (coveredTo && t > new Date(coveredTo).getTime())
    throw new UsageError(
      hasChain
        ? `${point.time.toISOString()} is after the chain's coverage: ${window}`
        : `${point.time.toISOString()} is after this backup was taken (${coveredTo}) and it has no delta chain (not a continuous backup, or its follower wrote nothing yet): restore it without --at-time`,
    );
  // The last segment with anything received by then: problems after it are no reason to refuse the point.
  let revision = base;
  for (const r of records) if (Date.parse(r.firstEventAt ?? r.openedAt) <= t) revision = r.toRevision;
  return { revision, time: point.time };
}

/** Consecutive events of one revision (a segment holds them in revision order). */
function* byRevision(events: readonly SegmentEvent[]): Generator<SegmentEvent[]> {
  let group: SegmentEvent[] = [];
  for (const e of events) {
    if (group.length > 0 && (group[0] as SegmentEvent).revision !== e.revision) {
      yield group;
      group = [];
    }
    group.push(e);
  }
  if (group.length > 0) yield group;
}

const toOp = (e: SegmentEvent): TxnOp =>
  e.type === "put" ? { type: "put", key: e.key, value: e.value, lease: e.lease } : { type: "delete", key: e.key };

/** etcd's shortest lease TTL is a few seconds: refreshing every half second keeps any lease alive. */
const LEASE_REFRESH_MS = 500;
/** etcd preallocates its WAL in files of this size. */
const WAL_FILE_BYTES = 64 * 1024 ** 2;
/** A lease the follower could not ask about (gone right after the put): short-lived, so a short TTL. */
const UNKNOWN_LEASE_TTL_S = 60;

/** Every live key and value in key order, hashed page by page (memory: one page). */
export async function stateHash(client: EtcdClient): Promise<{ keys: number; sha256: string }> {
  const hash = createHash("sha256");
  let keys = 0;
  let from = Buffer.from([0]);
  let revision = 0;
  for (;;) {
    const page = await client.range({ key: from, rangeEnd: Buffer.from([0]), limit: 1000, revision });
    revision = page.revision;
    for (const kv of page.kvs) hashEntry(hash, kv.key, kv.value);
    keys += page.kvs.length;
    const lastKv = page.kvs.at(-1);
    if (!page.more || !lastKv) break;
    from = Buffer.concat([lastKv.key, Buffer.from([0])]);
  }
  return { keys, sha256: hash.digest("hex") };
}

export function hashEntry(hash: ReturnType<typeof createHash>, key: Buffer, value: Buffer): void {
  const len = Buffer.allocUnsafe(4);
  len.writeUInt32BE(key.length);
  hash.update(len).update(key);
  len.writeUInt32BE(value.length);
  hash.update(len).update(value);
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError("the point-in-time restore was cancelled; nothing was left behind");
}
