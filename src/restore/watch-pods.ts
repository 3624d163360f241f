import type { V1Pod } from "@kubernetes/client-node";
import { diagnoseEtcdLog } from "./watch-etcd-log.js";
import { diagnoseInitLog, type InitLogDiagnosis } from "./watch-init-log.js";

export const ETCD_INIT = "etcd-init";
export const ETCD_CONTAINER = "etcd";

/** Where one etcd pod's `etcd-init` stands, from the pod's `initContainerStatuses`. */
export interface InitContainerView {
  readonly pod: string;
  readonly podReady: boolean;
  /** absent: the pod has no etcd-init (HyperShift removes it once the restore is recorded, or never added it). */
  readonly state: "absent" | "waiting" | "running" | "terminated";
  /** The waiting reason (CrashLoopBackOff, PodInitializing, ImagePullBackOff...). */
  readonly reason?: string;
  readonly exitCode?: number;
  /** Exit code of the instance before (set while the container waits to be restarted). */
  readonly lastExitCode?: number;
  readonly restartCount: number;
  /** Changes whenever there is a new instance to read the log of. */
  readonly logKey: string;
}

export function initContainerView(pod: V1Pod): InitContainerView {
  const name = pod.metadata?.name ?? "?";
  const podReady = (pod.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
  const inSpec = (pod.spec?.initContainers ?? []).some((c) => c.name === ETCD_INIT);
  const s = (pod.status?.initContainerStatuses ?? []).find((c) => c.name === ETCD_INIT);
  const base = { pod: name, podReady, restartCount: s?.restartCount ?? 0 };
  const logKey = `${pod.metadata?.uid}/${s?.restartCount ?? 0}`;
  if (!s)
    return { ...base, state: inSpec ? "waiting" : "absent", reason: inSpec ? "PodInitializing" : undefined, logKey };
  const lastExitCode = s.lastState?.terminated?.exitCode;
  if (s.state?.terminated)
    return { ...base, state: "terminated", exitCode: s.state.terminated.exitCode, lastExitCode, logKey: `${logKey}/t` };
  if (s.state?.running) return { ...base, state: "running", lastExitCode, logKey: `${logKey}/r` };
  return { ...base, state: "waiting", reason: s.state?.waiting?.reason ?? "PodInitializing", lastExitCode, logKey };
}

/** True when the newest instance has exited, so its log tells how it went (a running retry's log does not yet). */
export function hasExited(v: InitContainerView): boolean {
  return v.state === "terminated" || (v.state === "waiting" && v.lastExitCode !== undefined);
}

/** What one pod's etcd-init means for the restore. */
export type InitVerdict =
  | { readonly outcome: "restored" | "absent" }
  | { readonly outcome: "pending"; readonly what: string }
  | { readonly outcome: "failed"; readonly diagnosis: InitLogDiagnosis };

/** Failures that may pass (a network error) count as final after this many attempts. */
const ATTEMPTS_BEFORE_GIVING_UP = 3;

export function judgeInit(v: InitContainerView, log: string | undefined): InitVerdict {
  if (v.state === "absent") return { outcome: "absent" };
  if (v.state === "running")
    return { outcome: "pending", what: "etcd-init is still running (downloading or restoring)" };
  if (!hasExited(v)) return { outcome: "pending", what: `etcd-init is waiting to start (${v.reason})` };
  const exitCode = v.state === "terminated" ? v.exitCode : v.lastExitCode;
  const diagnosis = diagnoseInitLog(log ?? "", exitCode);
  if (exitCode === 0 && diagnosis.kind !== "skipped") return { outcome: "restored" };
  const crashLoop = v.reason === "CrashLoopBackOff" ? ` (CrashLoopBackOff, ${v.restartCount} restarts)` : "";
  const final = diagnosis.fatal || v.restartCount >= ATTEMPTS_BEFORE_GIVING_UP;
  return {
    outcome: "failed",
    diagnosis: { ...diagnosis, fatal: final, summary: `${diagnosis.summary}${crashLoop}` },
  };
}

/** The etcd container when it keeps exiting (after etcd-init, if any, did its work). */
export interface EtcdContainerTrouble {
  readonly pod: string;
  readonly restartCount: number;
  readonly lastExitCode: number | undefined;
  readonly logKey: string;
}

export function etcdContainerTrouble(pod: V1Pod): EtcdContainerTrouble | undefined {
  const s = (pod.status?.containerStatuses ?? []).find((c) => c.name === ETCD_CONTAINER);
  const exited = s?.state?.terminated?.exitCode ?? s?.lastState?.terminated?.exitCode;
  if (!s || s.state?.running || exited === undefined || exited === 0) return undefined;
  return {
    pod: pod.metadata?.name ?? "?",
    restartCount: s.restartCount,
    lastExitCode: exited,
    logKey: `${pod.metadata?.uid}/etcd/${s.restartCount}`,
  };
}

/** One line for a crash-looping etcd container; final once kubelet has restarted it a few times. */
export function judgeEtcdContainer(t: EtcdContainerTrouble, log: string | undefined): { line: string; fatal: boolean } {
  const why = log === undefined ? "log not readable" : diagnoseEtcdLog(log);
  return {
    line: `${t.pod} container ${ETCD_CONTAINER}: CrashLoopBackOff (${t.restartCount} restarts, exit ${t.lastExitCode}): ${why}`,
    fatal: t.restartCount >= ATTEMPTS_BEFORE_GIVING_UP,
  };
}
