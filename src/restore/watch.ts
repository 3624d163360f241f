import { setTimeout as sleep } from "node:timers/promises";
import type { V1Pod } from "@kubernetes/client-node";
import { CancelledError, describe, UsageError } from "../errors.js";
import { surveyMembers } from "../etcd/survey.js";
import { discoverHostedCluster, type HostedClusterTarget } from "../hostedcluster/discovery.js";
import { type EtcdAccess, reachEtcd } from "../hostedcluster/etcd-access.js";
import { KubeTransientError, KubeUnreachableError, type ManagementCluster } from "../hostedcluster/kube.js";
import type { Logger } from "../logging.js";
import { withoutUrlSecrets } from "../redact.js";
import { type EtcdEvidence, type EtcdFinding, evidenceFrom, judgeEtcd } from "./watch-etcd.js";
import { type Condition, ETCD_SNAPSHOT_RESTORED, type Observation, observe } from "./watch-observe.js";
import {
  ETCD_CONTAINER,
  ETCD_INIT,
  etcdContainerTrouble,
  hasExited,
  initContainerView,
  judgeEtcdContainer,
  judgeInit,
} from "./watch-pods.js";

export interface WatchOptions {
  readonly cluster: ManagementCluster;
  readonly namespace: string;
  readonly name: string;
  /** Bounds the whole wait: the restore, etcd coming up, and the proof. */
  readonly timeoutMs: number;
  /** Time between two looks at the API server and etcd (default 2 s). */
  readonly pollMs?: number;
  /** --endpoints: reach etcd there instead of through the pods (TLS still from the cluster's Secrets). */
  readonly endpoints?: string;
  readonly portForward?: boolean;
  /** The revision of the backup that was restored (its manifest): etcd must be at least there. */
  readonly backupRevision?: number;
  readonly signal?: AbortSignal;
  readonly logger: Logger;
  /** A line each time something changes (a pod's etcd-init, the condition, ready members). */
  readonly onProgress?: (line: string) => void;
}

/** One reason the restore is not proven, as one line (secrets redacted). */
export interface Finding {
  /** etcd: etcd answered, and wrongly; etcd-access: a member could not be asked; etcd-pod: an etcd container keeps exiting. */
  readonly source: "etcd-init" | "etcd-pod" | "condition" | "etcd" | "etcd-access" | "waiting";
  readonly line: string;
}

export interface WatchResult {
  /** proven: every check holds; failed: a finding that waiting cannot change; timed-out: still missing pieces. */
  readonly verdict: "proven" | "failed" | "timed-out";
  readonly cluster: string;
  readonly restoreUrl?: string;
  readonly findings: readonly Finding[];
  readonly pods: ReadonlyArray<{ readonly pod: string; readonly etcdInit: string }>;
  readonly controlPlaneCondition?: Condition;
  readonly hostedClusterCondition?: Condition;
  readonly etcd?: EtcdEvidence & { readonly reachedBy: EtcdAccess["how"] };
  readonly seconds: number;
}

/** What one look found: fatal findings, what is still missing, and a status line per subject. */
interface Step {
  readonly fatal: Finding[];
  readonly missing: Finding[];
  readonly status: Map<string, string>;
  readonly pods: Array<{ pod: string; etcdInit: string }>;
}

/** What the watch saw last: the answer's details when it ends. */
interface Seen {
  readonly obs?: Observation;
  readonly step?: Step;
  readonly etcd?: WatchResult["etcd"];
  /** What the last proof over etcd found still wrong. */
  readonly proofMissing?: Finding[];
}

function resultOf(
  verdict: WatchResult["verdict"],
  findings: Finding[],
  last: Seen,
  cluster: string,
  started: number,
): WatchResult {
  const obs = last.obs;
  return {
    verdict,
    cluster,
    ...(obs?.restoreUrl ? { restoreUrl: obs.restoreUrl } : {}),
    findings,
    pods: last.step?.pods ?? [],
    ...(obs?.controlPlane?.condition ? { controlPlaneCondition: obs.controlPlane.condition } : {}),
    ...(obs?.hostedClusterCondition ? { hostedClusterCondition: obs.hostedClusterCondition } : {}),
    ...(last.etcd ? { etcd: last.etcd } : {}),
    seconds: (Date.now() - started) / 1000,
  };
}

/**
 * Follows a hosted cluster's restore from `restoreSnapshotURL` to the end, then proves it over
 * etcd itself. Ends at the first finding that waiting cannot change (an S3 refusal, a skipped
 * restore, a split brain), when everything holds, or at the timeout with what was still missing.
 */
export async function watchRestore(options: WatchOptions): Promise<WatchResult> {
  const started = Date.now();
  const deadline = started + options.timeoutMs;
  // The deadline also cancels a look in progress (an etcd member that takes its time to answer).
  const expiry = AbortSignal.timeout(options.timeoutMs);
  const o: WatchOptions = {
    ...options,
    signal: options.signal ? AbortSignal.any([options.signal, expiry]) : expiry,
  };
  const pollMs = o.pollMs ?? 2000;
  const cluster = `${o.namespace}/${o.name}`;
  const logs = new Map<string, string>();
  const shown = new Map<string, string>();
  let access: { target: HostedClusterTarget; access: EtcdAccess } | undefined;
  let last: Seen = {};
  const result = (verdict: WatchResult["verdict"], findings: Finding[]) =>
    resultOf(verdict, findings, last, cluster, started);
  const timedOut = (missing: Finding[]) =>
    result(
      "timed-out",
      missing.map((m) => ({ source: m.source, line: `still missing after ${formatDuration(o.timeoutMs)}: ${m.line}` })),
    );
  let missing: Finding[] = [{ source: "waiting", line: "no answer from the API server yet" }];
  // Until the API server has answered once, not reaching it is a wrong kubeconfig, not a hiccup to wait out.
  let answered = false;
  try {
    for (;;) {
      try {
        const obs = await observe(o.cluster, o.namespace, o.name, o.signal);
        answered = true;
        const step = await evaluate(o, obs, logs);
        last = { ...last, obs, step };
        report(o, shown, step.status);
        if (step.fatal.length > 0) return result("failed", step.fatal);
        missing = step.missing;
        if (missing.length === 0) {
          // What the last proof found stays the answer if the deadline cuts this one short.
          missing = last.proofMissing ?? [{ source: "etcd-access", line: "etcd has not answered yet" }];
          access ??= await openAccess(o);
          const replicas = obs.statefulSet?.replicas ?? 1;
          const proof = await prove(o, access, replicas);
          last = { ...last, etcd: { ...proof.evidence, reachedBy: access.access.how } };
          report(o, shown, new Map([["etcd", proof.summary]]));
          if (proof.fatal.length > 0) return result("failed", proof.fatal);
          if (proof.missing.length === 0) return result("proven", []);
          missing = proof.missing;
          last = { ...last, proofMissing: missing };
          // A member that did not answer may be a pod that moved: reach the members afresh next time.
          if (proof.unreachable) {
            await access.access.close();
            access = undefined;
          }
        }
      } catch (err) {
        if (expiry.aborted && !options.signal?.aborted) return timedOut(missing);
        if (err instanceof KubeUnreachableError && !answered) throw err;
        // The API server or etcd not answering for a moment is something to wait out, not a verdict.
        if (!(err instanceof KubeTransientError) && !isNotReadyYet(err)) throw err;
        missing = [{ source: "waiting", line: describe(err) }];
        if (isNotReadyYet(err) && access) {
          await access.access.close();
          access = undefined;
        }
      }
      const left = deadline - Date.now();
      if (left <= 0) return timedOut(missing);
      try {
        await pause(Math.min(pollMs, left), o.signal);
      } catch (err) {
        if (expiry.aborted && !options.signal?.aborted) return timedOut(missing);
        throw err;
      }
    }
  } finally {
    await access?.access.close();
  }
}

async function evaluate(o: WatchOptions, obs: Observation, logs: Map<string, string>): Promise<Step> {
  const fatal: Finding[] = [];
  const missing: Finding[] = [];
  const status = new Map<string, string>();
  const pods: Array<{ pod: string; etcdInit: string }> = [];
  const hcp = `HostedControlPlane ${obs.hcpNamespace}/${o.name}`;
  status.set("url", obs.restoreUrl ? `restoring from ${obs.restoreUrl}` : "no restoreSnapshotURL: checking etcd only");
  if (!obs.controlPlane) missing.push({ source: "waiting", line: `${hcp} does not exist yet` });
  if (!obs.statefulSet)
    missing.push({ source: "waiting", line: `StatefulSet ${obs.hcpNamespace}/etcd does not exist yet` });
  for (const pod of obs.pods) {
    const p = await evaluatePod(o, obs.hcpNamespace, pod, logs);
    fatal.push(...p.fatal);
    missing.push(...p.missing);
    for (const [k, line] of p.status) status.set(k, line);
    pods.push({ pod: p.pod, etcdInit: p.state });
  }
  for (const [who, c] of [
    [hcp, obs.controlPlane?.condition],
    [`HostedCluster ${o.namespace}/${o.name}`, obs.hostedClusterCondition],
  ] as const) {
    if (c?.status === "False")
      fatal.push({
        source: "condition",
        line: `${who} reports ${ETCD_SNAPSHOT_RESTORED}=False (${c.reason ?? "no reason"}): ${withoutUrlSecrets(c.message ?? "")}`,
      });
  }
  const restored = obs.controlPlane?.condition;
  status.set(
    "condition",
    `${ETCD_SNAPSHOT_RESTORED}: ${restored ? `${restored.status} (${restored.reason ?? ""})` : "not set"}`,
  );
  if (obs.restoreUrl && obs.controlPlane && restored?.status !== "True")
    missing.push({ source: "waiting", line: `${hcp} has no ${ETCD_SNAPSHOT_RESTORED}=True condition yet` });
  if (obs.statefulSet) {
    const { ready, replicas } = obs.statefulSet;
    status.set("ready", `etcd members ready: ${ready}/${replicas}`);
    if (ready < replicas) missing.push({ source: "waiting", line: `etcd has ${ready}/${replicas} members ready` });
  }
  return { fatal, missing, status, pods };
}

/** One etcd pod: its etcd-init (state and log), and its etcd container if that keeps exiting. */
async function evaluatePod(
  o: WatchOptions,
  namespace: string,
  pod: V1Pod,
  logs: Map<string, string>,
): Promise<{ pod: string; state: string; fatal: Finding[]; missing: Finding[]; status: Map<string, string> }> {
  const fatal: Finding[] = [];
  const missing: Finding[] = [];
  const status = new Map<string, string>();
  const view = initContainerView(pod);
  const log = hasExited(view) ? await readLog(o, namespace, view.pod, ETCD_INIT, view.logKey, logs) : {};
  if (log.refused)
    fatal.push({ source: "etcd-init", line: `cannot read the ${ETCD_INIT} log of ${view.pod}: ${log.refused}` });
  const verdict = judgeInit(view, log.text);
  let state: string;
  switch (verdict.outcome) {
    case "absent":
      state = "no etcd-init";
      break;
    case "restored":
      state = "restored the snapshot";
      break;
    case "pending":
      state = verdict.what;
      missing.push({ source: "waiting", line: `${view.pod}: ${verdict.what}` });
      break;
    case "failed":
      state = verdict.diagnosis.summary;
      (verdict.diagnosis.fatal ? fatal : missing).push({
        source: "etcd-init",
        line: `${view.pod} init container ${ETCD_INIT}: ${state}`,
      });
      break;
  }
  status.set(view.pod, `${view.pod}: ${state}${view.podReady ? " (ready)" : ""}`);
  const trouble = etcdContainerTrouble(pod);
  if (trouble) {
    const etcdLog = await readLog(o, namespace, trouble.pod, ETCD_CONTAINER, trouble.logKey, logs);
    if (etcdLog.refused)
      fatal.push({
        source: "etcd-pod",
        line: `cannot read the ${ETCD_CONTAINER} log of ${view.pod}: ${etcdLog.refused}`,
      });
    const j = judgeEtcdContainer(trouble, etcdLog.text);
    (j.fatal ? fatal : missing).push({ source: "etcd-pod", line: j.line });
    status.set(`${view.pod}/etcd`, j.line);
  }
  return { pod: view.pod, state, fatal, missing, status };
}

/**
 * The log of one container instance (`key`), read once. A read the API server may answer later
 * (a container not started yet: 400; a hiccup: 5xx) is retried on the next look; a refusal (RBAC)
 * is returned as `refused`, since without the log the failure cannot be named.
 */
async function readLog(
  o: WatchOptions,
  namespace: string,
  pod: string,
  container: string,
  key: string,
  cache: Map<string, string>,
): Promise<{ text?: string; refused?: string }> {
  const cached = cache.get(key);
  if (cached !== undefined) return { text: cached };
  try {
    const text = withoutUrlSecrets(await o.cluster.readPodLog(namespace, pod, container, 200, o.signal));
    cache.set(key, text);
    return { text };
  } catch (err) {
    if (err instanceof CancelledError) throw err;
    if (err instanceof KubeTransientError || /\(400\)/.test(describe(err))) {
      o.logger.debug({ pod, container, error: describe(err) }, "container log not readable yet");
      return {};
    }
    return { refused: describe(err) };
  }
}

async function openAccess(o: WatchOptions): Promise<{ target: HostedClusterTarget; access: EtcdAccess }> {
  const target = await discoverHostedCluster(o.cluster, o.namespace, o.name, { writers: [], signal: o.signal });
  const access = await reachEtcd(o.cluster, target, {
    endpoints: o.endpoints,
    portForward: o.portForward,
    logger: o.logger,
    ...(o.signal ? { signal: o.signal } : {}),
  });
  return { target, access };
}

async function prove(
  o: WatchOptions,
  a: { target: HostedClusterTarget; access: EtcdAccess },
  replicas: number,
): Promise<{ fatal: Finding[]; missing: Finding[]; unreachable: boolean; evidence: EtcdEvidence; summary: string }> {
  const survey = await surveyMembers(a.access.endpoints, a.access.connect, { signal: o.signal });
  const podOf = new Map<string, string>();
  if (a.access.how !== "endpoints")
    for (const [i, e] of a.access.endpoints.entries()) podOf.set(e.url, a.target.etcdPods[i]?.name ?? e.url);
  const evidence = evidenceFrom(survey, (url) => podOf.get(url) ?? url, replicas, o.backupRevision);
  const findings = judgeEtcd(evidence);
  const ids = new Set(evidence.members.map((m) => m.clusterId));
  const revisions = [...new Set(evidence.members.map((m) => m.revision))].join("/");
  return {
    fatal: findings.filter((f) => f.fatal).map(asFinding),
    missing: findings.filter((f) => !f.fatal).map(asFinding),
    unreachable: evidence.unreachable.length > 0,
    evidence,
    summary: `etcd: ${evidence.members.length}/${a.access.endpoints.length} answered, ${ids.size} cluster ID(s), revision ${revisions || "-"}`,
  };
}

function asFinding(f: EtcdFinding): Finding {
  return { source: f.check === "reachable" ? "etcd-access" : "etcd", line: f.line };
}

/** Discovery refuses while etcd is not ready; during a watch that means "not yet". */
function isNotReadyYet(err: unknown): boolean {
  return !(err instanceof UsageError) && !(err instanceof CancelledError) && /is not ready \(/.test(describe(err));
}

function report(o: WatchOptions, shown: Map<string, string>, status: Map<string, string>): void {
  for (const [k, line] of status) {
    if (shown.get(k) === line) continue;
    shown.set(k, line);
    o.onProgress?.(line);
    o.logger.info({ subject: k }, line);
  }
}

async function pause(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await sleep(ms, undefined, { signal });
  } catch {
    throw new CancelledError("restore watch was cancelled");
  }
}

function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${ms / 1000}s`;
}
