import { hostname, userInfo } from "node:os";
import { CancelledError, describe, OperationError } from "../errors.js";
import type { Logger } from "../logging.js";
import type { HostedClusterTarget } from "./discovery.js";
import { parseHostedCluster } from "./discovery.js";
import { isLockFresh, JOURNAL_ANNOTATION, type Journal, parseJournal, serializeJournal } from "./journal.js";
import { KubeConflictError, KubeTransientError, type ManagementCluster } from "./kube.js";
import { pauseDeadline, pauseState } from "./pause.js";

/**
 * What the quiesce and resume steps need; `now` is the clock deadlines are computed from: the API
 * server's (server-clock.ts), as HyperShift reads them by it.
 */
export interface QuiesceContext {
  readonly cluster: ManagementCluster;
  readonly target: HostedClusterTarget;
  readonly logger: Logger;
  readonly signal?: AbortSignal;
  readonly now?: () => Date;
  /** Poll interval while waiting for the cluster to reach a state (default 100 ms). */
  readonly pollMs?: number;
}

/** What resume needs: it runs after a crash too, from the journal alone, without discovery. */
export interface ResumeContext extends Omit<QuiesceContext, "target"> {
  readonly target: { readonly namespace: string; readonly name: string };
}

type Waiting = Pick<QuiesceContext, "logger" | "signal" | "pollMs">;

const where = (t: { namespace: string; name: string }) => `${t.namespace}/${t.name}`;

/**
 * Phase 3: takes the lock and writes the journal — before anything changes. A fresh journal of
 * another run refuses the backup; a stale one (its run died) is reported: `resume` cleans it up.
 * The patch carries the resourceVersion discovery read, so two backups racing to lock cannot both win.
 */
export async function lockAndJournal(
  ctx: QuiesceContext,
  init: { runId: string; mode: Journal["mode"]; lockMs: number },
  onJournal: (j: Journal) => void = () => {},
): Promise<Journal> {
  const { target } = ctx;
  let hc = target.hostedCluster;
  for (let attempt = 1; ; attempt++) {
    const now = (ctx.now ?? (() => new Date()))();
    const existing = hc.metadata.annotations?.[JOURNAL_ANNOTATION];
    if (existing !== undefined) {
      const j = parseJournal(existing, where(target));
      const who = `${j.holder.user}@${j.holder.host} (pid ${j.holder.pid}, started ${j.startedAt})`;
      if (isLockFresh(j, now))
        throw new OperationError(
          `another backup of ${where(target)} is running: ${who}; wait for it, or if it died run: hcp-etcd-backup resume ${target.name} -n ${target.namespace}`,
        );
      throw new OperationError(
        `an earlier backup of ${where(target)} did not finish (${who}): run hcp-etcd-backup resume ${target.name} -n ${target.namespace} first`,
      );
    }
    const journal: Journal = {
      version: 1,
      runId: init.runId,
      holder: { user: safeUser(), host: hostname(), pid: process.pid },
      startedAt: now.toISOString(),
      lockExpiresAt: new Date(now.getTime() + init.lockMs).toISOString(),
      mode: init.mode,
      original: {
        pausedUntil: hc.spec.pausedUntil ?? null,
        // Not discovery's replicas: they were read before the lock, maybe while another run held the
        // writers at 0. Each writer's originals are read under the lock, as it is scaled (scaleWritersDown).
        writers: [],
      },
      changed: { scaledWriters: [] },
    };
    onJournal(journal);
    try {
      // The resourceVersion makes the lock a compare-and-swap: of two backups racing, one wins.
      await ctx.cluster.patchHostedCluster(
        target.namespace,
        target.name,
        {
          metadata: {
            resourceVersion: hc.metadata.resourceVersion,
            annotations: { [JOURNAL_ANNOTATION]: serializeJournal(journal) },
          },
        },
        ctx.signal,
      );
    } catch (err) {
      // Changed since we read it (its status moves on its own): read it again and decide again.
      if (!(err instanceof KubeConflictError) || attempt >= CONFLICT_ATTEMPTS) throw err;
      hc = parseHostedCluster(
        await ctx.cluster.getHostedCluster(target.namespace, target.name, ctx.signal),
        where(target),
      );
      continue;
    }
    ctx.logger.info(
      { cluster: where(target), runId: journal.runId, lockExpiresAt: journal.lockExpiresAt },
      "locked and journaled",
    );
    return journal;
  }
}

/**
 * Phase 4a: pauses reconciliation until a deadline (never "true": if this process dies, the
 * cluster resumes by itself then), recorded in the journal first. A cluster that someone else
 * paused for longer ("true", or a later deadline: a maintenance window, OADP) keeps its pause
 * untouched; a deadline that would expire during the run is extended to ours, and resume puts
 * the original back. Returns the journal and the pausedUntil now in force.
 */
export async function pause(
  ctx: QuiesceContext,
  journal: Journal,
  timeoutMs: number,
  onJournal: (j: Journal) => void = () => {},
): Promise<{ journal: Journal; pausedUntil: string }> {
  const now = (ctx.now ?? (() => new Date()))();
  const deadline = pauseDeadline(now, timeoutMs);
  const original = journal.original.pausedUntil;
  const state = pauseState(original, now);
  const holdsLonger =
    original !== null &&
    ((state.kind === "boolean" && state.paused) ||
      (state.kind === "deadline" && state.until.getTime() >= new Date(deadline).getTime()));
  if (holdsLonger) {
    ctx.logger.info(
      { cluster: where(ctx.target), pausedUntil: original },
      "reconciliation already paused; left as it is",
    );
    return { journal, pausedUntil: original };
  }
  const next: Journal = { ...journal, changed: { ...journal.changed, pausedUntil: deadline } };
  // The intent is recorded before the request: a reply lost on the way back still gets resumed.
  onJournal(next);
  await patchJournal(ctx, next, { spec: { pausedUntil: deadline } });
  ctx.logger.info({ cluster: where(ctx.target), pausedUntil: deadline }, "reconciliation paused");
  return { journal: next, pausedUntil: deadline };
}

/**
 * Phase 4b: the pause must reach the HostedControlPlane before the writers are scaled: until then
 * the control-plane operator puts them straight back.
 */
export async function waitForPause(ctx: QuiesceContext, deadline: string, timeoutMs: number): Promise<void> {
  const { target } = ctx;
  await waitUntil(
    ctx,
    timeoutMs,
    `the pause to reach the HostedControlPlane ${target.hcpNamespace}/${target.name}`,
    async () => {
      const hcp = (await ctx.cluster.getHostedControlPlane(target.hcpNamespace, target.name, ctx.signal)) as {
        spec?: { pausedUntil?: string };
        status?: { conditions?: Array<{ type?: string; status?: string }> };
      };
      const inactive = hcp.status?.conditions?.some((c) => c.type === "ReconciliationActive" && c.status === "False");
      return hcp.spec?.pausedUntil === deadline && inactive === true;
    },
  );
}

/**
 * Phase 4c: every writer to zero through the scale subresource, journaled before each change. The
 * rule: a writer's original replicas are read here, under the lock and the pause — never taken from
 * discovery, which ran before the lock (another run may have held the writers at 0 then, or the
 * control-plane operator been half-way through a change); resume puts back what was there when we
 * scaled it. A writer already at 0 (someone else's pause holds it there) is recorded and left exactly
 * as found: not scaled now, not scaled up by resume.
 */
export async function scaleWritersDown(
  ctx: QuiesceContext,
  journal: Journal,
  onJournal: (j: Journal) => void = () => {},
): Promise<Journal> {
  let j = journal;
  const leftAtZero: string[] = [];
  for (const w of ctx.target.writers) {
    const scale = await retrying(ctx, () =>
      ctx.cluster.getDeploymentScale(ctx.target.hcpNamespace, w.name, ctx.signal),
    );
    const replicas = scale.spec?.replicas ?? 0;
    const scaling = replicas > 0;
    j = {
      ...j,
      original: {
        ...j.original,
        writers: [
          ...j.original.writers.filter((o) => o.name !== w.name),
          { namespace: ctx.target.hcpNamespace, name: w.name, replicas },
        ],
      },
      changed: {
        ...j.changed,
        scaledWriters: scaling ? [...j.changed.scaledWriters, w.name] : j.changed.scaledWriters,
      },
    };
    onJournal(j);
    await patchJournal(ctx, j, {});
    if (scaling) await retrying(ctx, () => ctx.cluster.scaleDeployment(ctx.target.hcpNamespace, w.name, 0, ctx.signal));
    else leftAtZero.push(w.name);
  }
  ctx.logger.info(
    { writers: j.changed.scaledWriters, ...(leftAtZero.length > 0 ? { leftAtZero } : {}) },
    "writers scaled to zero",
  );
  return j;
}

/** Phase 4d: no writer pod left: nothing writes to etcd any more. */
export async function waitForWritersGone(ctx: QuiesceContext, timeoutMs: number): Promise<void> {
  for (const w of ctx.target.writers) {
    await waitUntil(ctx, timeoutMs, `the pods of ${ctx.target.hcpNamespace}/${w.name} to terminate`, async () => {
      const pods = await ctx.cluster.listPods(ctx.target.hcpNamespace, `app=${w.name}`, ctx.signal);
      return pods.items.length === 0;
    });
  }
  ctx.logger.info({ writers: ctx.target.writers.map((w) => w.name) }, "writer pods gone");
}

/**
 * Puts back exactly what the journal says this run changed — every scaled writer to its recorded
 * replicas (while still paused, so nothing races them), then the original pausedUntil (JSON null
 * when there was none) — and removes the journal. Each step is tried even when an earlier one
 * failed (once unpaused, the control-plane operator repairs a writer we could not); on any failure
 * the journal stays for `resume` and the errors are reported together. Only then does it wait for
 * the writers to be available (when asked, until `waitSignal` fires): a writer that never gets
 * ready must not hold the lock. Safe to run twice, and after a crash. Transient failures are retried.
 */
export async function resumeFromJournal(
  ctx: ResumeContext,
  journal: Journal,
  options: { availableTimeoutMs: number; waitAvailable?: boolean; waitSignal?: AbortSignal },
): Promise<{ restoredWriters: string[]; restoredPause: boolean; available: boolean }> {
  const { target } = ctx;
  const restoredWriters: string[] = [];
  const failures: string[] = [];
  for (const w of journal.original.writers) {
    if (!journal.changed.scaledWriters.includes(w.name)) continue;
    try {
      await retrying(ctx, () => ctx.cluster.scaleDeployment(w.namespace, w.name, w.replicas, ctx.signal));
      restoredWriters.push(w.name);
    } catch (err) {
      failures.push(describe(err));
    }
  }
  const restoredPause = journal.changed.pausedUntil !== undefined;
  const pauseBack = restoredPause ? { spec: { pausedUntil: journal.original.pausedUntil } } : {};
  if (failures.length > 0) {
    // The journal stays for the next `resume`; the pause goes back anyway (once unpaused, the
    // control-plane operator repairs a writer we could not).
    if (restoredPause) {
      try {
        await writeUnderLock(ctx, journal.runId, () => pauseBack);
      } catch (err) {
        failures.push(describe(err));
      }
    }
    throw new OperationError(
      `resuming ${where(target)} failed: ${failures.join("; ")}; the journal is kept: run hcp-etcd-backup resume ${target.name} -n ${target.namespace} once the cause is fixed`,
    );
  }
  // The original pausedUntil and the journal's removal in one conditional write: the lock is released
  // only if it is still this run's, and never half of it.
  try {
    await writeUnderLock(ctx, journal.runId, () => ({
      ...pauseBack,
      metadata: { annotations: { [JOURNAL_ANNOTATION]: null } },
    }));
  } catch (err) {
    throw new OperationError(
      `resuming ${where(target)} failed: ${describe(err)}; the journal is kept: run hcp-etcd-backup resume ${target.name} -n ${target.namespace} once the cause is fixed`,
      { cause: err },
    );
  }
  ctx.logger.info({ cluster: where(target), restoredWriters, restoredPause }, "cluster resumed");
  let available = false;
  if (options.waitAvailable !== false) {
    const waitCtx = { ...ctx, signal: options.waitSignal };
    try {
      for (const w of journal.original.writers) {
        if (!restoredWriters.includes(w.name) || w.replicas === 0) continue;
        await waitUntil(
          waitCtx,
          options.availableTimeoutMs,
          `${w.namespace}/${w.name} to be available again`,
          async () => {
            const d = await ctx.cluster.getDeployment(w.namespace, w.name, waitCtx.signal);
            return (d.status?.availableReplicas ?? 0) >= w.replicas;
          },
        );
      }
      available = true;
      ctx.logger.info({ writers: restoredWriters }, "writers available again");
    } catch (err) {
      // The cluster is resumed and the journal gone; only the wait for readiness was cut short.
      if (!(err instanceof CancelledError)) throw err;
    }
  }
  return { restoredWriters, restoredPause, available };
}

/** The journal on the HostedCluster now, if any (for `resume`). */
export async function readJournal(cluster: ManagementCluster, namespace: string, name: string, signal?: AbortSignal) {
  const hc = parseHostedCluster(await cluster.getHostedCluster(namespace, name, signal), `${namespace}/${name}`);
  const raw = hc.metadata.annotations?.[JOURNAL_ANNOTATION];
  return { hostedCluster: hc, journal: raw === undefined ? undefined : parseJournal(raw, `${namespace}/${name}`) };
}

async function patchJournal(ctx: QuiesceContext, journal: Journal, extra: { spec?: object }): Promise<void> {
  await writeUnderLock(ctx, journal.runId, () => ({
    ...extra,
    metadata: { annotations: { [JOURNAL_ANNOTATION]: serializeJournal(journal) } },
  }));
}

/** How many times a write under the lock re-reads after a 409 before it gives up (another writer every 100 ms is survived). */
const CONFLICT_ATTEMPTS = 10;

/**
 * A write to the HostedCluster while we hold the lock, as a compare-and-swap: read it, check the
 * journal on it is still this run's, send the patch conditional on the resourceVersion just read.
 * A 409 (anything changed it meanwhile: its status, a label, another tool) reads again and decides
 * again; a journal that is no longer ours (a `resume --force` and another run took over) stops the
 * write instead of overwriting the other run's journal. `body` gets the object read, so a write can
 * depend on it.
 */
async function writeUnderLock(
  ctx: Pick<QuiesceContext, "cluster" | "logger" | "signal" | "pollMs"> & {
    readonly target: { readonly namespace: string; readonly name: string };
  },
  runId: string,
  body: () => { spec?: object; metadata?: { annotations?: Record<string, string | null> } },
): Promise<void> {
  const { target } = ctx;
  for (let attempt = 1; ; attempt++) {
    const hc = parseHostedCluster(
      await retrying(ctx, () => ctx.cluster.getHostedCluster(target.namespace, target.name, ctx.signal)),
      where(target),
    );
    const raw = hc.metadata.annotations?.[JOURNAL_ANNOTATION];
    const holder = raw === undefined ? undefined : parseJournal(raw, where(target));
    if (holder?.runId !== runId)
      throw new OperationError(
        `the lock on ${where(target)} is no longer this run's (${holder ? `backup run ${holder.runId} by ${holder.holder.user}@${holder.holder.host} holds it` : "its journal was removed"}): stopped rather than overwrite it`,
      );
    const b = body();
    try {
      await retrying(
        ctx,
        () =>
          ctx.cluster.patchHostedCluster(
            target.namespace,
            target.name,
            { ...b, metadata: { ...b.metadata, resourceVersion: hc.metadata.resourceVersion } },
            ctx.signal,
          ),
        // A conflict is decided here, after a fresh read; other transient failures are retried as they are.
        5,
        (err) => !(err instanceof KubeConflictError),
      );
      return;
    } catch (err) {
      if (!(err instanceof KubeConflictError) || attempt >= CONFLICT_ATTEMPTS) {
        if (err instanceof KubeConflictError)
          throw new OperationError(
            `${where(target)} kept changing under us: ${CONFLICT_ATTEMPTS} conditional writes in a row met a conflict (another controller or tool updates it constantly)`,
            { cause: err },
          );
        throw err;
      }
      ctx.logger.debug({ attempt, cluster: where(target) }, "HostedCluster changed meanwhile: reading it again");
      await delay(ctx, Math.min(50 * attempt, 300) * (0.5 + Math.random()));
    }
  }
}

/** Retries what the API may answer differently a moment later (5xx, 429, conflicts, dropped connections). */
async function retrying<T>(
  ctx: Waiting,
  work: () => Promise<T>,
  attempts = 5,
  retryable: (err: KubeTransientError) => boolean = () => true,
): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await work();
    } catch (err) {
      if (!(err instanceof KubeTransientError) || !retryable(err) || i >= attempts) throw err;
      ctx.logger.warn({ attempt: i, error: err.message }, "Kubernetes request failed, retrying");
      await delay(ctx, 200 * 2 ** (i - 1));
    }
  }
}

async function waitUntil(ctx: Waiting, timeoutMs: number, what: string, done: () => Promise<boolean>) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await done()) return;
    } catch (err) {
      // One failed poll is not a failed wait: the deadline decides.
      if (!(err instanceof KubeTransientError)) throw err;
      ctx.logger.debug({ error: err.message }, "poll failed, polling again");
    }
    if (Date.now() >= deadline)
      throw new OperationError(`timed out after ${Math.round(timeoutMs / 1000)}s waiting for ${what}`);
    await delay(ctx, ctx.pollMs ?? 100);
  }
}

function delay(ctx: Waiting, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    if (ctx.signal?.aborted) return reject(new CancelledError("cancelled while waiting"));
    const t = setTimeout(() => {
      ctx.signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new CancelledError("cancelled while waiting"));
    };
    ctx.signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return String(process.getuid?.() ?? "unknown");
  }
}
