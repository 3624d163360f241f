import { type BackupResult, backupEtcd, type EtcdBackupRequest } from "../backup/etcd-backup.js";
import { CancelledError, describe, EtcdError, OperationError } from "../errors.js";
import { type EtcdClient, type WatchBatch, WatchCompactedError, type WatchProgress } from "../etcd/client.js";
import { directConnector, type EtcdConnector } from "../etcd/connector.js";
import type { Endpoint } from "../etcd/endpoint.js";
import { silentLogger } from "../logging.js";
import { readCatalog } from "../store/catalog.js";
import { backupFolder, validateLabel } from "../store/layout.js";
import { MANIFEST_FILE } from "../store/manifest.js";
import { joinKey } from "../store/store.js";
import { readChain } from "./chain.js";
import {
  type BaseCoverage,
  coverageKey,
  coveredUntil,
  encodeEvent,
  recordKey,
  SEGMENT_MAGIC,
  type SegmentEvent,
  type SegmentRecord,
  segmentKey,
  sha256Hex,
} from "./segment.js";

export interface ContinuousRequest extends EtcdBackupRequest {
  /** Close a segment this long after its first event (default 10 s). */
  readonly segmentMs?: number;
  /** Close a segment once it holds this many bytes (default 8 MiB): also the bound on what is held in memory. */
  readonly segmentMaxBytes?: number;
  /**
   * Start a new chain (a new full backup) once the chain's base is this old: bounds how much a restore
   * replays and lets retention drop old chains. Undefined: one chain until a compaction breaks it.
   */
  readonly fullEveryMs?: number;
  /** Told about each full backup taken (the first one, or after a compaction). */
  readonly onFullBackup?: (result: BackupResult, why: string) => void;
  /**
   * How a full backup is taken (default: backupEtcd of the request, a plain etcd's). `signal` stops it
   * (the request's, or the end of a follower whose next base it was).
   */
  readonly takeFullBackup?: (signal: AbortSignal | undefined) => Promise<BackupResult>;
  /** How a client to watch is had (default: the first endpoint, with the request's TLS and auth). */
  readonly openClient?: () => Promise<{ client: EtcdClient; close(): Promise<void> }>;
  /**
   * Aborted when this process may no longer write the chain (its Lease was lost): it stops at once,
   * without committing what it holds, since another writer may be resuming the chain.
   */
  readonly lost?: AbortSignal;
  readonly onSegment?: (record: SegmentRecord) => void;
  /** Told when etcd was found idle and the newest record rewritten with its later `coveredAt`. */
  readonly onCoverage?: (record: SegmentRecord) => void;
  /**
   * Told when etcd was found idle before the chain's first segment and the base's coverage object
   * (segment.ts, COVERAGE_FILE) written with its later `coveredAt`.
   */
  readonly onBaseCoverage?: (coverage: BaseCoverage) => void;
  readonly onResume?: (folder: string, fromRevision: number) => void;
}

export interface ContinuousResult {
  readonly folder: string;
  readonly lastRevision: number;
  readonly segments: number;
}

/** Where the chain goes on: its backup folder and the next revision it needs. */
interface Position {
  readonly backupId: string;
  readonly folder: string;
  readonly baseRevision: number;
  /** When the base backup was taken (ms since epoch): --full-every counts from here. */
  readonly baseAt: number;
  next: number;
  /** The chain's newest committed record: the one an idle interval's coverage extends. */
  newest?: SegmentRecord;
  /** Without a record yet: until when (ms since epoch) the base's coverage object says etcd was idle. */
  baseCoveredAt?: number;
}

/**
 * Continuous backup of a plain etcd: a full backup (or the newest one of the label, resumed after its
 * newest committed segment), then etcd's watch of every key from the next revision, written as delta
 * segments committed one after the other (segment, then its record). Only one segment is held in
 * memory (at most segmentMaxBytes plus one watch response); the watch is not read while a segment is
 * written. Runs until the signal: then what it holds is committed and it rejects with a CancelledError.
 * A compacted start revision means the chain cannot go on: a new full backup starts a new one.
 */
export async function followEtcd(req: ContinuousRequest): Promise<ContinuousResult> {
  const label = validateLabel(req.label);
  const segmentMs = req.segmentMs ?? 10_000;
  const maxBytes = req.segmentMaxBytes ?? 8 * 1024 * 1024;
  const connect = req.connect ?? directConnector({ tls: req.tls, auth: req.auth });
  const openClient =
    req.openClient ??
    (async () => {
      const client = await connectFirstAnswering(req.endpoints, connect, req.signal);
      return { client, close: async () => client.close() };
    });
  let position = await resumePosition(req, label);
  if (position) req.onResume?.(position.folder, position.next);
  else position = await fullBackup(req, "no backup of this name to continue from");
  /** A next base begun for --full-every and not handed over: stopped and waited for when the follower ends. */
  let begun: Begun | undefined;
  try {
    for (;;) {
      begun = { stop: new AbortController() };
      position = await followChain(req, position, openClient, { segmentMs, maxBytes }, begun);
    }
  } finally {
    if (begun?.base) {
      begun.stop.abort();
      await begun.base.catch(() => {});
    }
  }
}

/** A full backup begun for --full-every while the chain goes on, and what stops it. */
interface Begun {
  readonly stop: AbortController;
  base?: Promise<BackupResult>;
}

/** One chain followed to its end; resolves to the next chain's start (its base taken and reported). */
async function followChain(
  req: ContinuousRequest,
  position: Position,
  openClient: () => Promise<{ client: EtcdClient; close(): Promise<void> }>,
  limits: { segmentMs: number; maxBytes: number },
  begun: Begun,
): Promise<Position> {
  const log = req.logger ?? silentLogger();
  const { segmentMs, maxBytes } = limits;
  /** A base begun before the chain ended otherwise serves as the next one, unless it failed. */
  const begunBase = async () => (begun.base ? await begun.base.catch(() => undefined) : undefined);
  const { client, close } = await openClient();
  let why: string;
  /** The next chain's base, taken while this chain went on (--full-every). */
  let next: BackupResult | undefined;
  try {
    // An etcd behind the chain's end was restored from an older snapshot (or is another cluster): its
    // revisions from here on are a different history, which must not be appended to this chain.
    const head = (await client.status()).revision;
    if (head < position.next - 1)
      throw new ChainEndedError(
        `etcd is at revision ${head}, behind the end of the chain ${position.folder} (${position.next - 1}): restored from an older snapshot? The chain ends there`,
      );
    const handed = await followFrom(
      client,
      position,
      req,
      { segmentMs, maxBytes, fullEveryMs: req.fullEveryMs },
      begun,
    );
    next = handed.base;
    why = `the chain ${position.folder} was ${formatAge(handed.startedAt - position.baseAt)} old (--full-every): it ends at revision ${position.next - 1}`;
  } catch (err) {
    if (err instanceof ChainEndedError && !req.signal?.aborted) {
      why = err.message;
      log.warn({ folder: position.folder, chainEnd: position.next - 1 }, why);
      const base = await begunBase();
      return base ? basePosition(req, base, why) : await fullBackup(req, why);
    }
    if (!(err instanceof WatchCompactedError)) throw err;
    // The revisions after the chain's end are gone from etcd: the old chain ends where it ended and
    // the new one starts at a new base. Nothing between them is restorable to a point.
    why = `etcd compacted up to revision ${err.compactRevision} before the chain got there: the chain ${position.folder} ends at revision ${position.next - 1}`;
    log.warn({ folder: position.folder, chainEnd: position.next - 1, compactRevision: err.compactRevision }, why);
  } finally {
    await close();
  }
  // A base begun before a compaction ended the chain serves: the next chain checks its start anyway.
  const base = next ?? (await begunBase());
  return base ? basePosition(req, base, why) : await fullBackup(req, why);
}

const takeFullBackup = (req: ContinuousRequest, signal = req.signal): Promise<BackupResult> =>
  req.takeFullBackup ? req.takeFullBackup(signal) : backupEtcd({ ...req, ...(signal ? { signal } : {}) });

async function fullBackup(req: ContinuousRequest, why: string): Promise<Position> {
  return basePosition(req, await takeFullBackup(req), why);
}

/** A new chain's start: after its base, reported with why it was taken. */
function basePosition(req: ContinuousRequest, result: BackupResult, why: string): Position {
  req.onFullBackup?.(result, why);
  const m = result.manifest;
  return {
    backupId: m.backupId,
    folder: backupFolder(m.label, m.backupId),
    baseRevision: m.snapshot.revision,
    baseAt: Date.parse(m.createdAt),
    next: m.snapshot.revision + 1,
  };
}

/** The newest backup of the label and the revision after its newest committed segment; removes uncommitted ones. */
async function resumePosition(req: ContinuousRequest, label: string): Promise<Position | undefined> {
  const signal = req.signal;
  const { backups } = await readCatalog(req.store, { label, ...(signal ? { signal } : {}) });
  const newest = backups.find((b) => b.manifest.label === label);
  if (!newest) return undefined;
  const baseRevision = newest.manifest.snapshot.revision;
  const chain = await readChain(req.store, newest.folder, baseRevision, signal);
  // Written by a writer killed before its record: never listed, and in the way of the next segment.
  if (chain.uncommitted.length > 0) await req.store.delete(chain.uncommitted, signal ? { signal } : {});
  const last = chain.records.at(-1);
  const coverage = chain.coverage?.baseBackupId === newest.manifest.backupId ? chain.coverage : undefined;
  // A base coverage the first record superseded, left by a writer killed before it removed it: readers
  // ignore it, and nothing stale should lie beside the chain.
  const staleCoverage = coverageKey(newest.folder);
  if (last && (await req.store.exists(staleCoverage, signal ? { signal } : {})))
    await req.store.delete([staleCoverage], signal ? { signal } : {});
  return {
    backupId: newest.manifest.backupId,
    folder: newest.folder,
    baseRevision,
    baseAt: Date.parse(newest.manifest.createdAt),
    next: (last?.toRevision ?? baseRevision) + 1,
    ...(last ? { newest: last } : {}),
    ...(!last && coverage ? { baseCoveredAt: Date.parse(coverage.coveredAt) } : {}),
  };
}

/**
 * A client of the first member that answers, in the order given: a member that is down does not
 * stop the chain (a restarted follower would otherwise try the same dead member every time).
 */
export async function connectFirstAnswering(
  endpoints: readonly Endpoint[],
  connect: EtcdConnector,
  signal?: AbortSignal,
): Promise<EtcdClient> {
  const failures: string[] = [];
  for (const endpoint of endpoints) {
    let client: EtcdClient | undefined;
    try {
      // Inside the try: with --user/--password, connecting authenticates, and a member that is down fails here.
      client = await connect(endpoint, { signal, callTimeoutMs: 30_000 });
      await client.status();
      return client;
    } catch (err) {
      client?.close();
      if (signal?.aborted) throw err;
      failures.push(`${endpoint.url}: ${describe(err)}`);
    }
  }
  throw new EtcdError(`no etcd member answers, so the watch cannot start: ${failures.join("; ") || "no endpoint"}`);
}

const TIMEOUT = Symbol("timeout");
const HANDOVER = Symbol("handover");
/** How long a stored next base may wait for the chain to reach its revision before a warning. */
const HANDOVER_PATIENCE_MS = 60_000;

/** The next chain's full backup while it is taken (settled never rejects), and what became of it. */
interface Handover {
  settled: Promise<typeof HANDOVER>;
  readonly startedAt: number;
  outcome?: { readonly result: BackupResult } | { readonly error: unknown };
}

/**
 * Follows the watch from `position.next`, committing segments. When the chain is due for a new full
 * backup (--full-every), that backup is taken while the chain goes on, and the chain ends once it
 * holds every revision up to the new base's (committed): no point between the two is lost, and the
 * changes made meanwhile wait for no snapshot. Returns the new base then; otherwise only throws.
 */
async function followFrom(
  client: EtcdClient,
  position: Position,
  req: ContinuousRequest,
  limits: { segmentMs: number; maxBytes: number; fullEveryMs: number | undefined },
  begun: Begun,
): Promise<{ readonly base: BackupResult; readonly startedAt: number }> {
  const log = req.logger ?? silentLogger();
  const leaseTtls = new LeaseTtls();
  const watching = new AbortController();
  const stopWatch = () => watching.abort();
  req.signal?.addEventListener("abort", stopWatch, { once: true });
  // Idle etcd writes no segment, so the chain's coverage would age though nothing is missing: at each
  // interval without a change, etcd's watch is asked how far it got (a progress request), and a report
  // that it has nothing after the last committed revision extends the newest record's `coveredAt`,
  // once the cluster (not only the watched member) confirms it has no later revision.
  // One object rewritten in place, not a new one per interval. Before the chain's first segment there
  // is no record: the base's coverage object (segment.ts, COVERAGE_FILE) is that object then.
  const progress: WatchProgress = {};
  /** When the unanswered progress request was sent: cleared by its answer or by a commit. */
  let askedAt: number | undefined;
  let nextAsk = Date.now() + limits.segmentMs;
  const batches = client.watchAll(position.next, watching.signal, progress)[Symbol.asyncIterator]();
  log.info({ folder: position.folder, fromRevision: position.next }, "following etcd's watch");
  let frames: Buffer[] = [SEGMENT_MAGIC];
  let bytes = SEGMENT_MAGIC.length;
  let events = 0;
  let openedAt = new Date();
  let firstAt = 0;
  let lastAt = 0;
  let lastRevision = position.next - 1;
  // A base removed meanwhile (a prune while etcd was idle): segments without it restore nothing.
  const requireBase = async () => {
    if (!(await req.store.exists(joinKey(position.folder, MANIFEST_FILE))))
      throw new ChainEndedError(
        `the base backup of the chain ${position.folder} is gone (pruned?): a new full backup starts a new chain`,
      );
  };
  const putRecord = (record: SegmentRecord, o: { replace?: boolean } = {}) =>
    req.store.put(
      recordKey(position.folder, record.fromRevision, record.toRevision),
      Buffer.from(`${JSON.stringify(record, null, 2)}\n`),
      { contentType: "application/json", ...o },
    );
  const commit = async () => {
    if (events === 0) return;
    const body = Buffer.concat(frames, bytes);
    const record: SegmentRecord = {
      schemaVersion: 1,
      baseBackupId: position.backupId,
      baseRevision: position.baseRevision,
      fromRevision: position.next,
      toRevision: lastRevision,
      events,
      bytes: body.length,
      sha256: sha256Hex(body),
      openedAt: openedAt.toISOString(),
      closedAt: new Date().toISOString(),
      firstEventAt: new Date(firstAt).toISOString(),
      lastEventAt: new Date(lastAt).toISOString(),
    };
    await requireBase();
    // No signal: a stop commits what it holds. The record goes last: until then the segment does not exist.
    await req.store.put(segmentKey(position.folder, record.fromRevision, record.toRevision), body, {
      contentType: "application/octet-stream",
    });
    await putRecord(record);
    // The chain's first record supersedes the base's coverage (readers ignore it from now on): removed,
    // best effort, so that nothing stale lies beside the chain.
    if (!position.newest)
      await req.store.delete([coverageKey(position.folder)]).catch((err: unknown) => {
        log.debug({ error: describe(err) }, "the base's coverage object could not be removed (ignored by readers)");
      });
    log.info(
      { segment: `${record.fromRevision}-${record.toRevision}`, events, bytes: body.length },
      "segment committed",
    );
    req.onSegment?.(record);
    position.next = lastRevision + 1;
    position.newest = record;
    // A request asked before these events is about a revision now committed: it covers nothing new.
    askedAt = undefined;
    nextAsk = Date.now() + limits.segmentMs;
    frames = [SEGMENT_MAGIC];
    bytes = SEGMENT_MAGIC.length;
    events = 0;
    openedAt = new Date();
  };
  /** Every change etcd made before `asked` is committed: says so in the newest record. */
  const cover = async (asked: number) => {
    const newest = position.newest;
    const coveredSince = newest ? Date.parse(coveredUntil(newest)) : (position.baseCoveredAt ?? position.baseAt);
    if (asked <= coveredSince) return;
    const chainEnd = position.next - 1;
    if (req.lost?.aborted) throw req.lost.reason;
    await requireBase();
    // The watched member's progress is its own revision: one cut off from the others, or behind them,
    // would report the chain's end while the cluster takes writes. A linearizable read goes through the
    // leader: equal to the chain's end, nothing was written anywhere before `asked`.
    let clusterRevision: number;
    try {
      clusterRevision = await client.clusterRevision();
    } catch (err) {
      log.debug({ error: describe(err) }, "coverage not extended: etcd's cluster revision could not be read");
      return;
    }
    if (clusterRevision !== chainEnd) {
      log.debug(
        { revision: chainEnd, clusterRevision },
        "coverage not extended: the cluster is past the watched member's report",
      );
      return;
    }
    if (!newest) {
      // Idle since the full backup: no record to extend, the base's coverage object says it instead.
      const coverage: BaseCoverage = {
        schemaVersion: 1,
        baseBackupId: position.backupId,
        baseRevision: position.baseRevision,
        coveredAt: new Date(asked).toISOString(),
      };
      await req.store.put(coverageKey(position.folder), Buffer.from(`${JSON.stringify(coverage, null, 2)}\n`), {
        contentType: "application/json",
        replace: true,
      });
      position.baseCoveredAt = asked;
      log.debug(
        { revision: chainEnd, coveredAt: coverage.coveredAt },
        "etcd idle since the full backup: coverage extended",
      );
      req.onBaseCoverage?.(coverage);
      return;
    }
    const record: SegmentRecord = { ...newest, coveredAt: new Date(asked).toISOString() };
    // A whole-object overwrite (a rename locally, a PUT in S3): readers see the old record or the new
    // one. `replace`: a rewrite killed earlier leaves a temp file that must not block every later one.
    await putRecord(record, { replace: true });
    position.newest = record;
    log.debug({ revision: record.toRevision, coveredAt: record.coveredAt }, "etcd idle: coverage extended");
    req.onCoverage?.(record);
  };
  /** The next chain's full backup while it is taken, and what became of it. */
  let handover: Handover | undefined;
  const startHandover = () => {
    if (handover) return;
    log.info(
      { folder: position.folder, revision: position.next - 1 },
      "taking the next chain's full backup (--full-every); this chain goes on until its base is stored",
    );
    const signal = req.signal ? AbortSignal.any([req.signal, begun.stop.signal]) : begun.stop.signal;
    const base = takeFullBackup(req, signal);
    begun.base = base;
    const h: Handover = {
      startedAt: Date.now(),
      settled: base.then(
        (result) => {
          h.outcome = { result };
          return HANDOVER;
        },
        (error: unknown) => {
          h.outcome = { error };
          return HANDOVER;
        },
      ),
    };
    handover = h;
  };
  /** When a next base that has not reached the chain yet was first found waiting (to say so once). */
  let waitingSince: number | undefined;
  /** After a failed next base: not before this time again. */
  let retryAt = 0;
  /** When the next chain's base is due (--full-every), unless one is being taken. */
  const fullDueAt = (): number | undefined =>
    limits.fullEveryMs === undefined || handover ? undefined : Math.max(position.baseAt + limits.fullEveryMs, retryAt);
  /** The new base, once this chain holds every revision up to its snapshot's, committed. */
  const handedOver = async (): Promise<{ base: BackupResult; startedAt: number } | undefined> => {
    const h = handover;
    const outcome = h?.outcome;
    if (!h || !outcome) return undefined;
    if ("error" in outcome) {
      // The chain goes on; the next base is tried again an interval later (at most a minute).
      log.warn(
        { folder: position.folder, error: describe(outcome.error) },
        "the next chain's full backup failed: this chain goes on, and it is tried again",
      );
      handover = undefined;
      begun.base = undefined;
      retryAt = Date.now() + Math.min(limits.fullEveryMs ?? 60_000, 60_000);
      return undefined;
    }
    const baseRevision = outcome.result.manifest.snapshot.revision;
    if (events > 0 && lastRevision >= baseRevision) await commit();
    if (position.next - 1 >= baseRevision) return { base: outcome.result, startedAt: h.startedAt };
    waitingSince ??= Date.now();
    if (Date.now() - waitingSince > HANDOVER_PATIENCE_MS) {
      waitingSince = Number.POSITIVE_INFINITY; // said once
      log.warn(
        { folder: position.folder, chainEnd: position.next - 1, baseRevision },
        "the next chain's base is stored, but this chain has not reached its revision yet: still following",
      );
    }
    return undefined;
  };
  let pending: Promise<IteratorResult<WatchBatch>> | undefined;
  try {
    for (;;) {
      const handed = await handedOver();
      if (handed) return handed;
      pending ??= batches.next();
      const fullDue = fullDueAt();
      const segmentDue = events === 0 ? undefined : firstAt + limits.segmentMs;
      // An unanswered request is asked again after an interval: a lost answer must not end the heartbeat.
      const askDue = events === 0 ? (askedAt === undefined ? nextAsk : askedAt + limits.segmentMs) : undefined;
      const due = Math.min(
        fullDue ?? Number.POSITIVE_INFINITY,
        segmentDue ?? Number.POSITIVE_INFINITY,
        askDue ?? Number.POSITIVE_INFINITY,
      );
      const r = await raceTimeout(
        handover && !handover.outcome ? Promise.race([pending, handover.settled]) : pending,
        due === Number.POSITIVE_INFINITY ? undefined : Math.max(0, due - Date.now()),
      );
      if (r === HANDOVER) continue; // the watch's next batch is still pending
      if (r === TIMEOUT) {
        if (askDue !== undefined && Date.now() >= askDue && progress.request) {
          if (askedAt !== undefined)
            log.debug(
              { askedAt: new Date(askedAt).toISOString() },
              "etcd has not answered the watch's progress request: asking again",
            );
          // Whichever request an answer is to, coverage is only claimed up to the latest ask: the
          // cluster's revision is read after the answer, so the claim holds for any earlier time.
          askedAt = Date.now();
          progress.request();
        }
        await commit();
        if (fullDue !== undefined && Date.now() >= fullDue) startHandover();
        continue;
      }
      pending = undefined;
      if (r.done) throw new Error("the watch ended");
      if (r.value.events.length === 0 && askedAt !== undefined) {
        const asked = askedAt;
        askedAt = undefined;
        nextAsk = asked + limits.segmentMs;
        // Equal, not at least: etcd 3.4 may report its store's revision before the watch has sent
        // every event up to it; nothing held uncommitted either.
        if (events === 0 && r.value.headerRevision === position.next - 1) await cover(asked);
        continue;
      }
      const now = Date.now();
      for (const e of r.value.events) {
        if (e.revision < position.next) continue; // already committed (never expected: the watch starts after it)
        const leaseTtl = e.type === "put" && e.lease !== "0" ? await leaseTtls.of(client, e.lease) : 0;
        const frame = encodeEvent({ ...e, at: now, leaseTtl } satisfies SegmentEvent);
        frames.push(frame);
        bytes += frame.length;
        if (events === 0) firstAt = now;
        events++;
        lastAt = now;
        lastRevision = e.revision;
      }
      // A batch holds whole revisions: closing after it never splits one. The clock is checked here
      // too: under a steady stream the next batch may always be ready before the timer fires.
      const after = Date.now();
      if (bytes >= limits.maxBytes || (events > 0 && after >= firstAt + limits.segmentMs)) await commit();
      const nextFull = fullDueAt();
      if (nextFull !== undefined && after >= nextFull) startHandover();
    }
  } catch (err) {
    if (req.lost?.aborted) throw req.lost.reason;
    if (req.signal?.aborted) {
      // A base gone meanwhile: nothing to commit to, and a stop starts no new chain.
      await commit().catch((e: unknown) => {
        if (!(e instanceof ChainEndedError)) throw e;
      });
      throw new CancelledError(
        `continuous backup stopped: every change up to revision ${position.next - 1} is committed in ${position.folder}`,
      );
    }
    // The watch failed: what was received is sound, so commit it before anything else happens.
    await commit();
    throw err;
  } finally {
    req.signal?.removeEventListener("abort", stopWatch);
    watching.abort();
    pending?.catch(() => {});
  }
}

/** The chain cannot go on (its base is gone, or etcd is behind it): the follower starts a new one. */
class ChainEndedError extends OperationError {}

/**
 * The TTL each lease was granted with, asked of the source once per lease: the watch names a put's
 * lease but not its TTL, and a restore grants the lease again with it. A lease already gone when asked
 * (revoked or expired right after the put) is recorded as 0: unknown.
 */
class LeaseTtls {
  private readonly known = new Map<string, number>();

  async of(client: EtcdClient, lease: string): Promise<number> {
    const cached = this.known.get(lease);
    if (cached !== undefined) return cached;
    const ttl = (await client.leaseGrantedTtl(lease)) ?? 0;
    // Bounded: leases come and go; forgetting one costs one more question.
    if (this.known.size >= 100_000) this.known.clear();
    this.known.set(lease, ttl);
    return ttl;
  }
}

/** `6h`, `90s`: how old a chain is, in the unit people set --full-every in. */
function formatAge(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  return `${(s / 3600).toFixed(1).replace(/\.0$/, "")}h`;
}

function raceTimeout<T>(p: Promise<T>, ms: number | undefined): Promise<T | typeof TIMEOUT> {
  if (ms === undefined) return p;
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<typeof TIMEOUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMEOUT), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
