import { randomBytes } from "node:crypto";
import { chmod, mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import {
  CHAIN_PROBLEM_PREFIX,
  checkBackupSnapshot,
  proveBackupChain,
  readManifest,
  recordVerification,
} from "../backup/verify-backup.js";
import { replayChain } from "../continuous/replay.js";
import { type DecryptionProof, proofProblems } from "../encryption/decryption-proof.js";
import type { Keyring } from "../encryption/keyring.js";
import { CancelledError, describe, EtcdError, OperationError, VerificationError } from "../errors.js";
import { EtcdClient } from "../etcd/client.js";
import { createPki, type SandboxPki } from "../localetcd/certs.js";
import { type ExistingMember, LocalEtcdCluster, type MemberPlan, StartTimeoutError } from "../localetcd/cluster.js";
import { releaseDir, trackDir } from "../localetcd/reaper.js";
import { type Logger, silentLogger } from "../logging.js";
import { toolVersion } from "../package-info.js";
import { makeScratchDir } from "../scratch.js";
import type { HashKvOutcome } from "../snapshot/hashkv.js";
import { type Manifest, SNAPSHOT_FILE, type Verification } from "../store/manifest.js";
import type { Store } from "../store/store.js";
import { type Comparison, compareKeyStreams, liveKeyStates } from "./compare-live.js";
import { findEtcd, findRestoreTool, type RestoreTool, restoreMember } from "./restore-tool.js";
import { type SortedLiveKeys, sortLiveKeys } from "./sorted-live-keys.js";

export interface DrillOptions {
  /** Parent of the drill's scratch directory (staged snapshot, restored data, etcd's files); default the OS temp dir. */
  readonly scratchDir?: string;
  /** Stops the drill; everything it started is stopped and removed, and the manifest is left as it was. */
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
  /** Memory for sorting the snapshot's keys, a run at a time, into the scratch directory (default 8 MiB). */
  readonly sortMemoryBytes?: number;
  /** Also prove every encrypted value opens with these keys, as `verify --key-identity|--key-file` does. */
  readonly keyring?: Keyring;
  /**
   * Distinct keys written after the snapshot's compacted revision that the HashKV proof may hold in
   * memory to decide which compacted entries etcd hashes (default DEFAULT_TAIL_KEYS, and at most
   * DEFAULT_TAIL_BYTES of them). A larger tail, or 0 with any tail, makes the drill read every key back instead.
   */
  readonly hashKvTailKeys?: number;
}

/** How the restored etcd was proven to serve the snapshot (recorded in the manifest too). */
export type DrillProof = NonNullable<Verification["proof"]>;

export interface DrillResult {
  readonly ref: string;
  readonly manifest: Manifest;
  readonly verification: Verification;
  readonly problems: readonly string[];
  /** The read-back's comparison; absent when HashKV proved it, or the drill stopped before (etcd did not start). */
  readonly comparison?: Comparison;
  /** Absent when the drill stopped before proving anything. */
  readonly proof?: DrillProof;
  /** Findings that do not fail the drill (a HashKV that disagreed while every key read back equal). */
  readonly warnings: readonly string[];
  /** Seconds per phase, in the order they ran. */
  readonly phases: Readonly<Record<string, number>>;
  readonly seconds: number;
}

const GiB = 1024 ** 3;

/**
 * The proof that a backup restores: verify it (as `verify` does, computing meanwhile the HashKV etcd
 * 3.4 must answer for it), restore it into a scratch data directory, start a throwaway etcd on it
 * (loopback, mutual TLS), and ask that etcd for its HashKV and live key count at the snapshot's
 * revision. When the file alone cannot say what etcd will answer, or etcd answers otherwise, every
 * key and value etcd serves is compared with the snapshot's own live keys instead, as two key-ordered
 * streams (memory stays bounded whatever the size), and that comparison gives the verdict. The etcd
 * is stopped and the scratch directory removed; the result, with the time taken and the proof used,
 * is appended to the manifest's `verifications`.
 */
export async function restoreDrill(store: Store, options: DrillOptions = {}): Promise<DrillResult> {
  const { signal } = options;
  const manifest = await readManifest(store, signal);
  // Tools first: a machine without them says so, and no verdict is recorded about the backup.
  const [tool, etcd] = await Promise.all([findRestoreTool(), findEtcd()]);
  const scratch = await makeScratchDir(options.scratchDir, "hcpeb-drill-");
  trackDir(scratch);
  const run = new DrillRun(store, manifest, scratch, options);
  try {
    await chmod(scratch, 0o700);
    // A backup in a local store is read in place: its restore, and the throwaway etcd on it, start
    // with its verification (on a scratch copy; only the proof waits for the bytes to be proven).
    const inPlace = store.localPath(SNAPSHOT_FILE);
    if (inPlace) run.begin(inPlace, tool, etcd);
    const file = await run.verify();
    const restored = file ? await run.restore(file, tool, etcd) : undefined;
    if (restored && (await run.start())) await run.prove();
  } catch (err) {
    if (signal?.aborted) throw cancelled();
    throw err;
  } finally {
    await run.cleanup();
    releaseDir(scratch);
  }
  if (signal?.aborted) throw cancelled();
  // A continuous backup restores to any point of its chain: the whole chain is replayed too, in a
  // scratch etcd of its own, and must keep etcd's revision numbering to its end.
  if (run.problems.length === 0 && run.chainEnd !== undefined && run.chainEnd > manifest.snapshot.revision)
    await replayWholeChain(store, run, run.chainEnd, options);
  const { checks, problems, comparison, phases, decryption, proof, warnings } = run;
  const seconds = (performance.now() - run.startedAt) / 1000;
  const ok = problems.length === 0;
  const verification: Verification = {
    at: new Date().toISOString(),
    toolVersion: toolVersion(),
    checks,
    ok,
    detail: ok
      ? `restore drill: etcd served ${run.liveKeys} live keys at revision ${manifest.snapshot.revision}, equal to the snapshot's (${proof?.method === "hashkv" ? "its HashKV" : "every key and value read back"})${checks.includes("chain-replayed") ? `; its delta chain replayed to revision ${run.chainEnd}` : ""}`
      : problems.slice(0, 5).join("; "),
    seconds: Math.round(seconds * 1000) / 1000,
    ...(proof ? { proof } : {}),
    ...(decryption ? { decryption } : {}),
  };
  const updated = await recordVerification(store, manifest, verification, signal);
  return {
    ref: store.url,
    manifest: updated,
    verification,
    problems,
    ...(comparison ? { comparison } : {}),
    ...(proof ? { proof } : {}),
    warnings,
    phases,
    seconds,
  };
}

const cancelled = () => new CancelledError("the restore drill was cancelled; its etcd and scratch data were removed");

async function replayWholeChain(store: Store, run: DrillRun, chainEnd: number, options: DrillOptions): Promise<void> {
  const { signal } = options;
  const log = options.logger ?? silentLogger();
  const started = performance.now();
  log.info({ toRevision: chainEnd }, "replaying the delta chain");
  try {
    const facts = await replayChain(
      {
        source: { kind: "backup", store },
        point: { revision: chainEnd },
        ...(options.scratchDir ? { scratchDir: options.scratchDir } : {}),
        ...(signal ? { signal } : {}),
        logger: log,
      },
      async (p) => ({ aligned: p.revisionsAligned, revision: p.replayedRevision, changes: p.changes }),
    );
    run.checks.push("chain-replayed");
    if (!facts.aligned)
      run.problems.push(
        `${CHAIN_PROBLEM_PREFIX}replayed to revision ${facts.revision}, but the scratch etcd's revisions did not follow the source's`,
      );
    log.info({ ...facts, seconds: (performance.now() - started) / 1000 }, "delta chain replayed");
  } catch (err) {
    if (signal?.aborted) throw cancelled();
    if (!(err instanceof VerificationError)) throw err;
    run.problems.push(`${CHAIN_PROBLEM_PREFIX}${err.message}`);
  }
  run.phases.replay = (performance.now() - started) / 1000;
}

/** What the restore step came to: the restored member, or the restore tool's refusal of the file. */
interface Restored {
  readonly member?: ExistingMember;
  readonly refused?: string;
}

/** Why the throwaway etcd did not start on the restored data. */
interface NotStarted {
  readonly notStarted: unknown;
}

/** The HashKV proof's outcome: proven, or why the read-back decides (and whether etcd disagreed). */
type Asked =
  | { readonly proven: true; readonly liveKeys: number; readonly proof: DrillProof }
  | { readonly proven: false; readonly reason: string; readonly disagreed: boolean; readonly proof: DrillProof };

/**
 * One drill's steps and what they found. Each step records its checks and problems and says whether
 * the next one can run; what a step starts (the restore, etcd, a client, the read-back's sort) is
 * released by cleanup().
 */
class DrillRun {
  readonly startedAt = performance.now();
  readonly checks: string[] = [];
  readonly problems: string[] = [];
  readonly warnings: string[] = [];
  readonly phases: Record<string, number> = {};
  /** The last revision of a continuous backup's delta chain, once verification has proven it. */
  chainEnd: number | undefined;
  comparison: Comparison | undefined;
  decryption: DecryptionProof | undefined;
  proof: DrillProof | undefined;
  /** Live keys etcd served at the snapshot's revision, by whichever proof. */
  liveKeys: number | undefined;
  private mark = this.startedAt;
  private readonly log: Logger;
  private readonly signal: AbortSignal | undefined;
  private restoredFrom: { file: string; tool: RestoreTool } | undefined;
  /** What a restored etcd 3.4's HashKV must be, computed during verification's walk. */
  private snapshotHash: HashKvOutcome | undefined;
  private pki: Promise<SandboxPki> | undefined;
  private restoring: Promise<Restored> | undefined;
  private starting: Promise<NotStarted | undefined> | undefined;
  private sorting: Promise<SortedLiveKeys> | undefined;
  private sorted: SortedLiveKeys | undefined;
  private cluster: LocalEtcdCluster | undefined;
  private client: EtcdClient | undefined;
  /** Stops what a step left running when a later step threw (the restore process, the sort's thread). */
  private readonly stopped = new AbortController();
  /** The drill's signal or cleanup(): what stops the restore process and the sort's thread. */
  private readonly stop: AbortSignal;

  constructor(
    private readonly store: Store,
    private readonly manifest: Manifest,
    private readonly scratch: string,
    private readonly options: DrillOptions,
  ) {
    this.log = options.logger ?? silentLogger();
    this.signal = options.signal;
    this.stop = this.signal ? AbortSignal.any([this.signal, this.stopped.signal]) : this.stopped.signal;
  }

  private phase(name: string): number {
    const now = performance.now();
    this.phases[name] = (now - this.mark) / 1000;
    this.mark = now;
    return this.phases[name] as number;
  }

  /** As `verify` does, on a copy staged in the scratch directory (a local store's file is read in place). */
  async verify(): Promise<string | undefined> {
    this.log.info({ ref: this.store.url }, "verifying the backup");
    const tailKeys = this.options.hashKvTailKeys;
    const check = await checkBackupSnapshot(this.store, this.manifest, {
      stageTo: join(this.scratch, "snapshot.db"),
      ...(this.signal ? { signal: this.signal } : {}),
      hashKv: tailKeys === undefined ? {} : { tailKeys },
      // The same proof as verify's, made by the same walk: a backup whose keys do not open its Secrets
      // restores into a cluster that cannot read them, so it fails the drill too.
      ...(this.options.keyring ? { keys: this.options.keyring.keys } : {}),
    });
    this.checks.push(...check.checks);
    this.problems.push(...check.problems);
    this.snapshotHash = check.hashKv;
    // A continuous backup's deltas are proven as verify proves them: the drill's verdict covers them too.
    this.chainEnd = (await proveBackupChain(this.store, this.manifest, this, this.signal))?.toRevision;
    if (check.decryption) {
      this.decryption = check.decryption;
      this.checks.push("decryption");
      this.problems.push(...proofProblems(check.decryption));
    }
    const ok = this.problems.length === 0;
    this.log.info({ ref: this.store.url, ok, seconds: this.phase("verify") }, "backup verified");
    return ok ? check.file : undefined;
  }

  /**
   * Starts the restore into the scratch directory, in its own process, while openssl makes the
   * throwaway etcd's certificates, and then that etcd on the restored data. Neither rejects before
   * the drill looks at it: the restore settles with the restore tool's refusal, if any, the start
   * with why etcd did not start.
   */
  begin(file: string, tool: RestoreTool, etcd: string): void {
    if (this.restoring) return;
    this.restoredFrom = { file, tool };
    this.restoring = this.restoreAndCertify();
    this.restoring.catch(() => {}); // awaited by restore(), or by cleanup() when verification failed
    this.starting = this.restoring.then((r) => (r.member ? this.launch(etcd, r.member) : undefined));
    this.starting.catch(() => {}); // awaited by start(), or by cleanup()
  }

  private async restoreAndCertify(): Promise<Restored> {
    const restoring = this.restoreMember();
    restoring.catch(() => {}); // awaited below; making the certificates may throw first
    const pkiDir = join(this.scratch, "pki");
    await mkdir(pkiDir, { mode: 0o700 });
    this.pki = createPki(pkiDir, "hcpeb-drill-ca");
    this.pki.catch(() => {}); // awaited by launch()
    return restoring.then(
      (member): Restored => ({ member }),
      (err: unknown): Restored => {
        if (!(err instanceof VerificationError)) throw err;
        return { refused: describe(err) };
      },
    );
  }

  /** The restore of a verified backup (begun with its verification when it was read in place). */
  async restore(file: string, tool: RestoreTool, etcd: string): Promise<ExistingMember | undefined> {
    this.checks.push("restore");
    this.begin(file, tool, etcd);
    const { member, refused } = await (this.restoring as Promise<Restored>);
    if (refused) this.problems.push(refused);
    this.log.info({ seconds: this.phase("restore") }, "snapshot restored");
    return member;
  }
  /** Restores the snapshot into `<scratch>/<member>` for a peer port free now; resolves to that member. */
  private async restoreMember(): Promise<ExistingMember> {
    const { file, tool } = this.restoredFrom as { file: string; tool: RestoreTool };
    const [plan] = (await LocalEtcdCluster.plan(1)) as [MemberPlan];
    const dataDir = join(this.scratch, plan.name);
    await restoreMember(
      tool,
      file,
      {
        name: plan.name,
        dataDir,
        initialCluster: `${plan.name}=${plan.peerURL}`,
        initialClusterToken: `hcpeb-drill-${randomBytes(6).toString("hex")}`,
        advertisePeerUrls: plan.peerURL,
        skipHashCheck: true,
      },
      this.stop,
    );
    return { name: plan.name, dataDir, peerPort: plan.peerPort };
  }

  /**
   * A throwaway etcd on the restored data (loopback, mutual TLS), started as soon as the restore was
   * done: exiting on it is a finding about the backup. Not answering in time is not: its clock runs
   * while verification loads the machine, so a timeout is an error and no verdict is recorded. A
   * peer port taken since the restore means restoring again for a new one. The drill's signal, or
   * cleanup(), kills a start in flight at once.
   */
  private async launch(etcd: string, restored: ExistingMember): Promise<NotStarted | undefined> {
    const dbSize = this.manifest.snapshot.dbSize;
    const pki = await (this.pki as Promise<SandboxPki>);
    if (this.stop.aborted) return undefined; // verification failed or a signal came meanwhile
    try {
      this.cluster = await LocalEtcdCluster.startRestored(
        async (attempt) => {
          const member = attempt === 1 ? restored : await this.restoreMember();
          return { members: [member], discard: () => rm(member.dataDir, { recursive: true, force: true }) };
        },
        {
          pki,
          baseDir: this.scratch,
          etcdBinary: etcd,
          // etcd refuses writes (not reads) past its quota; a large backup gets room to start in.
          quotaBytes: dbSize > 1.5 * GiB ? Math.ceil(dbSize * 1.25) : 0,
          startTimeoutMs: 30_000 + Math.ceil(dbSize / GiB) * 30_000,
          signal: this.stop,
        },
      );
      return undefined;
    } catch (err) {
      if (this.stop.aborted) throw err;
      // Its logs went with the scratch directory: the message keeps what the last health check saw.
      if (err instanceof StartTimeoutError)
        throw new OperationError(
          `the throwaway etcd did not become healthy on the restored data within ${err.seconds}s (${err.lastError}); ` +
            "a loaded machine? nothing was recorded: run the drill again",
          { cause: err },
        );
      return { notStarted: err };
    }
  }

  /** Waits for the etcd begun on the restored data; says whether it serves. */
  async start(): Promise<boolean> {
    this.checks.push("etcd-start");
    const failed = await this.starting;
    if (this.signal?.aborted) throw cancelled();
    if (failed) this.problems.push(`etcd did not start on the restored data: ${describe(failed.notStarted)}`);
    const seconds = this.phase("start");
    if (this.cluster) this.log.info({ seconds }, "throwaway etcd started on the restored data");
    return this.cluster !== undefined;
  }

  /**
   * That etcd serves the snapshot at its revision: its HashKV and live key count equal those computed
   * from the file; when they cannot decide, every key and value read back and compared decides.
   */
  async prove(): Promise<void> {
    const cluster = this.cluster as LocalEtcdCluster;
    this.checks.push("live-keys");
    this.client = await EtcdClient.connect({
      endpoint: cluster.endpoint(0),
      tls: await cluster.tlsMaterial(),
      callTimeoutMs: 120_000,
      ...(this.signal ? { signal: this.signal } : {}),
    });
    const asked = await this.askHashKv(this.client);
    const seconds = this.phase("hashkv");
    if (asked.proven) {
      this.checks.push("hashkv");
      this.proof = asked.proof;
      this.liveKeys = asked.liveKeys;
      this.log.info(
        { proof: "hashkv", ...asked.proof, liveKeys: asked.liveKeys, seconds },
        "restored etcd's HashKV and live keys equal the snapshot's",
      );
      return;
    }
    this.log.info({ proof: "read-back", why: asked.reason, seconds }, "HashKV did not decide: reading every key back");
    this.proof = { ...asked.proof, method: "read-back", fallback: asked.reason };
    await this.readBack();
    if (asked.disagreed && this.comparison?.equal) {
      const warning = `${asked.reason}, yet every key and value read back equal: etcd 3.4's HashKV rules as mirrored here do not match this etcd`;
      this.warnings.push(warning);
      // In the manifest too: a scheduled drill's log is seldom read, its verifications are.
      this.proof = { ...this.proof, disagreed: warning };
      this.log.warn({ warning }, "HashKV disagreed with a drill that passed");
    }
  }

  /** The fast proof, or why it cannot give the verdict. Only a signal or a broken connection throws. */
  private async askHashKv(client: EtcdClient): Promise<Asked> {
    const outcome = this.snapshotHash;
    const undecided = (reason: string, proof: DrillProof = { method: "read-back" }, disagreed = false): Asked => ({
      proven: false,
      reason,
      disagreed,
      proof,
    });
    if (!outcome) return undecided("the snapshot's HashKV was not computed");
    if ("undecided" in outcome) return undecided(outcome.undecided);
    const want = outcome.hashKv;
    const revision = this.manifest.snapshot.revision;
    const proof: DrillProof = { method: "hashkv", hash: want.hash, compactRevision: want.compactRevision };
    if (want.revision !== revision)
      return undecided(`the snapshot's last revision ${want.revision} is not the backup's (${revision})`, proof);
    try {
      const { version } = await client.status();
      if (!/^3\.4\./.test(version))
        return undecided(
          `the restored etcd is ${version}, not 3.4: its HashKV rules for compacted revisions differ`,
          proof,
        );
      this.log.info({ revision, compactRevision: want.compactRevision }, "asking the restored etcd for its HashKV");
      // Compacted at its last revision, the store refuses a HashKV there; its current revision is the same one.
      const got = await client.hashKv(want.revision > want.compactRevision ? revision : 0);
      const asked = { ...proof, etcdHash: got.hash };
      if (got.revision < revision)
        return undecided(`the restored etcd is at revision ${got.revision}, not ${revision}`, asked, true);
      if (want.revision <= want.compactRevision && got.revision !== revision)
        return undecided(`the restored etcd moved to revision ${got.revision} (the snapshot's is ${revision})`, asked);
      if (got.compactRevision !== want.compactRevision)
        return undecided(
          `the restored etcd reports compacted revision ${got.compactRevision}, the snapshot ${want.compactRevision}`,
          asked,
          true,
        );
      if (got.hash !== want.hash)
        return undecided(
          `etcd's HashKV is ${hex(got.hash)}, the snapshot's ${hex(want.hash)} at revision ${revision}`,
          asked,
          true,
        );
      const live = await client.count(Buffer.from([0]), revision);
      if (live !== want.liveKeys)
        return undecided(
          `etcd counts ${live} live keys at revision ${revision}, the snapshot ${want.liveKeys}`,
          asked,
          true,
        );
      return { proven: true, liveKeys: live, proof: asked };
    } catch (err) {
      if (this.signal?.aborted || !(err instanceof EtcdError)) throw err;
      return undecided(`etcd did not answer HashKV: ${describe(err)}`, proof);
    }
  }

  /** Every key etcd serves at the backup's revision against the snapshot's, as two key-ordered streams. */
  private async readBack(): Promise<void> {
    const { file } = this.restoredFrom as { file: string };
    const memoryBytes = this.options.sortMemoryBytes;
    this.sorting = sortLiveKeys(file, {
      scratchDir: this.scratch,
      signal: this.stop,
      onProgress: (p) => this.log.info(p, "sorting the snapshot's keys"),
      ...(memoryBytes ? { memoryBytes } : {}),
    });
    const sorted = await this.sorting;
    this.sorted = sorted;
    this.log.info(
      { revisions: sorted.revisions, runs: sorted.runs, seconds: this.phase("sort") },
      "snapshot's keys sorted",
    );
    const revision = this.manifest.snapshot.revision;
    const c = await compareKeyStreams(sorted, liveKeyStates(this.client as EtcdClient, { revision }));
    this.comparison = c;
    this.liveKeys = c.liveKeys;
    const counts = { snapshotKeys: c.snapshotKeys, liveKeys: c.liveKeys, missing: c.missing, extra: c.extra };
    this.log.info({ ...counts, changed: c.changed, seconds: this.phase("compare") }, "live keys compared");
    if (!c.equal) this.problems.push(differenceLine(c, revision));
  }

  async cleanup(): Promise<void> {
    this.stopped.abort();
    this.client?.close();
    // An etcd still starting (verification failed, a signal), a restore or a sort still running was
    // stopped by the abort above: wait for its process and thread to end before the scratch directory goes.
    await this.starting?.catch(() => {});
    await this.cluster?.stop();
    await this.restoring?.catch(() => {});
    await this.sorting?.catch(() => {});
    await this.pki?.catch(() => {}); // openssl, started with the restore, writes into the scratch directory
    await this.sorted?.dispose();
  }
}

const hex = (n: number) => `0x${n.toString(16).padStart(8, "0")}`;

/** How the drill proved its verdict, in one line (the CLI's text output). */
export function proofLine(p: DrillProof): string {
  if (p.method === "hashkv")
    return `etcd's HashKV ${hex(p.etcdHash ?? 0)} equals the snapshot's (compacted revision ${p.compactRevision})`;
  return `every key and value read back (HashKV not used: ${p.fallback})`;
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
