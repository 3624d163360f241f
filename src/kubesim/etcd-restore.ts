import { randomBytes } from "node:crypto";
import { admit } from "./admission.js";
import { kubeTime } from "./clock.js";
import { ensureObject, getNumber, getObject, isObject, type JsonObject, meta } from "./json.js";
import { controlPlaneNamespace } from "./names.js";
import { FORWARD_ANNOTATION_PREFIX } from "./portforward.js";
import { resourceByKind } from "./resources.js";
import type { KubeApiServer } from "./server.js";

export const ETCD_INIT_CONTAINER = "etcd-init";
export const ETCD_SNAPSHOT_RESTORED = "EtcdSnapshotRestored";

const HC = resourceByKind("HostedCluster");
const HCP = resourceByKind("HostedControlPlane");
const STS = resourceByKind("StatefulSet");
const POD = resourceByKind("Pod");
const ETCD_IMAGE = "quay.io/openshift-release-dev/ocp-v4.0-art-dev:etcd";

/** The script HyperShift's control-plane operator runs in `etcd-init` (main, 2026), for the pod spec's sake. */
const ETCD_INIT_SCRIPT = [
  "mkdir -p /var/lib/data",
  '[ "$(ls -A /var/lib/data)" ] && echo "/var/lib/data not empty, not restoring snapshot" && exit 0',
  'curl -o /tmp/snapshot "$RESTORE_URL_ETCD"',
  "head -c 5 /tmp/snapshot | grep -q '<?xml' && cat /tmp/snapshot && exit 1",
  "ETCDCTL_API=3 etcdctl snapshot restore /tmp/snapshot --data-dir=/var/lib/restore",
  "rm -rf /var/lib/data && mv /var/lib/restore /var/lib/data",
].join("\n");

export type ConditionStatus = "True" | "False" | "Unknown";

/**
 * A hosted cluster's etcd being restored from `restoreSnapshotURL`, as HyperShift runs it and as a
 * test plays it: each etcd pod gets the `etcd-init` init container, whose state (running, exited,
 * Init:CrashLoopBackOff) and log the test sets; the StatefulSet counts ready pods; and, as the
 * control-plane operator does, the HostedControlPlane's `EtcdSnapshotRestored` becomes True once
 * every member is ready and every `etcd-init` exited 0 (a skipped restore exits 0 too). Each pod's
 * etcd port can be pointed at its own etcd, so one hosted cluster can be backed by three
 * single-member etcds: the split-brain restore.
 */
export class EtcdRestoreScenario {
  readonly hcpNamespace: string;

  constructor(
    private readonly api: KubeApiServer,
    readonly namespace = "clusters",
    readonly name = "example",
  ) {
    this.hcpNamespace = controlPlaneNamespace(namespace, name);
  }

  /**
   * The hosted cluster as created for a restore: `restoreSnapshotURL` on the HostedCluster and its
   * HostedControlPlane (checked against the CRDs as a create is), `etcd-init` in the StatefulSet's
   * template and in every etcd pod, running; no member ready, no EtcdSnapshotRestored condition.
   */
  begin(url: string): void {
    for (const [rt, ns] of [
      [HC, this.namespace],
      [HCP, this.hcpNamespace],
    ] as const) {
      const obj = this.api.store.mustGet(rt, ns, this.name);
      ensureObject(obj, ["spec", "etcd", "managed", "storage"]).restoreSnapshotURL = [url];
      dropCondition(obj, ETCD_SNAPSHOT_RESTORED);
      // The CEL rules forbid adding the URL later: admitted as the create it stands for.
      this.api.store.update(rt, admit(rt, obj, undefined, { strict: true }).object);
    }
    const sts = this.api.store.mustGet(STS, this.hcpNamespace, "etcd");
    const template = ensureObject(sts, ["spec", "template", "spec"]);
    template.initContainers = [initContainer(url)];
    this.api.store.update(STS, sts);
    for (const pod of this.pods()) {
      ensureObject(pod, ["spec"]).initContainers = [initContainer(url)];
      pod.status = this.podStatus(pod, { running: { startedAt: this.now() } }, {}, 0, false);
      this.api.store.update(POD, pod);
      this.api.logs.forget(this.hcpNamespace, String(meta(pod).name));
    }
    this.reconcile();
  }

  /** `etcd-init` of `pod` is still at work; `log` is what it printed so far (curl's progress). */
  running(pod: string, log = ""): void {
    const p = this.pod(pod);
    p.status = this.podStatus(p, { running: { startedAt: this.now() } }, {}, this.restarts(p), false);
    this.api.store.update(POD, p);
    this.api.logs.set(this.hcpNamespace, pod, ETCD_INIT_CONTAINER, log);
    this.reconcile();
  }

  /** `etcd-init` exited 0 after printing `log`; etcd starts and the pod becomes Ready. */
  succeeded(pod: string, log: string): void {
    const p = this.pod(pod);
    const terminated = { exitCode: 0, reason: "Completed", startedAt: this.now(), finishedAt: this.now() };
    p.status = this.podStatus(
      p,
      { terminated: { ...terminated, containerID: containerId() } },
      {},
      this.restarts(p),
      true,
    );
    this.api.store.update(POD, p);
    this.api.logs.set(this.hcpNamespace, pod, ETCD_INIT_CONTAINER, log);
    this.reconcile();
  }

  /** `etcd-init` exited `exitCode` after printing `log`; the pod waits in Init:CrashLoopBackOff. */
  crashLooping(pod: string, log: string, exitCode = 1): void {
    const p = this.pod(pod);
    const restarts = this.restarts(p);
    if (restarts > 0) this.api.logs.restarted(this.hcpNamespace, pod, ETCD_INIT_CONTAINER);
    const uid = String(meta(p).uid);
    const waiting = {
      reason: "CrashLoopBackOff",
      message: `back-off 10s restarting failed container=${ETCD_INIT_CONTAINER} pod=${pod}_${this.hcpNamespace}(${uid})`,
    };
    const last = {
      terminated: {
        exitCode,
        reason: "Error",
        startedAt: this.now(),
        finishedAt: this.now(),
        containerID: containerId(),
      },
    };
    p.status = this.podStatus(p, { waiting }, last, restarts + 1, false);
    this.api.store.update(POD, p);
    this.api.logs.set(this.hcpNamespace, pod, ETCD_INIT_CONTAINER, log);
    this.reconcile();
  }

  /**
   * `etcd-init` restored, but the etcd container then exits `exitCode` after printing `log`, and
   * kubelet backs off (CrashLoopBackOff): a member whose data does not fit the cluster.
   */
  etcdCrashLooping(pod: string, log: string, restarts: number, exitCode = 1): void {
    const p = this.pod(pod);
    const t = this.now();
    const terminated = { exitCode: 0, reason: "Completed", startedAt: t, finishedAt: t, containerID: containerId() };
    const status = this.podStatus(p, { terminated }, {}, this.restarts(p), false);
    status.phase = "Running";
    for (const c of Array.isArray(status.conditions) ? status.conditions.filter(isObject) : []) {
      if (c.type === "Initialized" || c.type === "PodScheduled") {
        c.status = "True";
        delete c.reason;
      }
    }
    const etcd = (Array.isArray(status.containerStatuses) ? status.containerStatuses.filter(isObject) : []).find(
      (c) => c.name === "etcd",
    );
    if (etcd) {
      etcd.restartCount = restarts;
      etcd.state = {
        waiting: { reason: "CrashLoopBackOff", message: `back-off 5m0s restarting failed container=etcd pod=${pod}` },
      };
      etcd.lastState = {
        terminated: { exitCode, reason: "Error", startedAt: t, finishedAt: t, containerID: containerId() },
      };
    }
    p.status = status;
    this.api.store.update(POD, p);
    this.api.logs.set(this.hcpNamespace, pod, "etcd", log);
    this.reconcile();
  }

  /** Sets a condition as a controller would (the HostedCluster's copy exists only if something puts it there). */
  setCondition(
    on: "HostedControlPlane" | "HostedCluster",
    status: ConditionStatus,
    reason: string,
    message: string,
    type = ETCD_SNAPSHOT_RESTORED,
  ): void {
    const [rt, ns] = on === "HostedCluster" ? [HC, this.namespace] : [HCP, this.hcpNamespace];
    const obj = this.api.store.mustGet(rt, ns, this.name);
    writeCondition(obj, { type, status, reason, message }, this.now());
    this.api.store.update(rt, obj);
  }

  /** Points the pod's etcd client port at another loopback port (another etcd). */
  forward(pod: string, port: number): void {
    const p = this.pod(pod);
    ensureObject(p, ["metadata", "annotations"])[`${FORWARD_ANNOTATION_PREFIX}2379`] = String(port);
    this.api.store.update(POD, p);
  }

  private pods(): JsonObject[] {
    return this.api.store
      .list(POD, this.hcpNamespace)
      .filter((p) => getObject(p, ["metadata", "labels"])?.app === "etcd");
  }

  private pod(name: string): JsonObject {
    return this.api.store.mustGet(POD, this.hcpNamespace, name);
  }

  private now(): string {
    return kubeTime(this.api.clock.now());
  }

  private restarts(p: JsonObject): number {
    const s = initStatus(p);
    return s ? (getNumber(s, ["restartCount"]) ?? 0) : 0;
  }

  private podStatus(
    p: JsonObject,
    initState: JsonObject,
    lastState: JsonObject,
    restartCount: number,
    ready: boolean,
  ): JsonObject {
    const t = this.now();
    const containers = Array.isArray(getObject(p, ["spec"])?.containers)
      ? ((getObject(p, ["spec"])?.containers as JsonObject[]) ?? [])
      : [];
    const cond = (type: string, ok: boolean): JsonObject => ({
      type,
      status: ok ? "True" : "False",
      lastProbeTime: null,
      lastTransitionTime: t,
      ...(ok ? {} : { reason: type === "Initialized" ? "ContainersNotInitialized" : "ContainersNotReady" }),
    });
    return {
      phase: ready ? "Running" : "Pending",
      podIP: "127.0.0.1",
      podIPs: [{ ip: "127.0.0.1" }],
      hostIP: "127.0.0.1",
      startTime: t,
      conditions: [
        cond("Initialized", ready),
        cond("Ready", ready),
        cond("ContainersReady", ready),
        cond("PodScheduled", true),
      ],
      initContainerStatuses: [
        {
          name: ETCD_INIT_CONTAINER,
          image: ETCD_IMAGE,
          imageID: "",
          ready,
          restartCount,
          state: initState,
          lastState,
          ...(isObject(initState.running) ? { containerID: containerId(), started: true } : { started: false }),
        },
      ],
      containerStatuses: containers.map(
        (c): JsonObject => ({
          name: String(c.name),
          image: ETCD_IMAGE,
          imageID: "",
          ready,
          restartCount: 0,
          started: ready,
          state: (ready ? { running: { startedAt: t } } : { waiting: { reason: "PodInitializing" } }) as JsonObject,
          lastState: {},
          ...(ready ? { containerID: containerId() } : {}),
        }),
      ),
    };
  }

  /** The StatefulSet's ready count, and the control-plane operator's EtcdSnapshotRestored=True. */
  private reconcile(): void {
    const pods = this.pods();
    const ready = pods.filter(isReady).length;
    const sts = this.api.store.mustGet(STS, this.hcpNamespace, "etcd");
    const status = ensureObject(sts, ["status"]);
    status.readyReplicas = ready;
    status.availableReplicas = ready;
    this.api.store.update(STS, sts);
    const hcp = this.api.store.mustGet(HCP, this.hcpNamespace, this.name);
    if (findCondition(hcp, ETCD_SNAPSHOT_RESTORED)) return;
    const replicas = getNumber(sts, ["spec", "replicas"]) ?? 1;
    const allExited0 = pods.every((p) => {
      const s = initStatus(p);
      return getNumber(s, ["state", "terminated", "exitCode"]) === 0;
    });
    if (ready === replicas && allExited0) {
      writeCondition(
        hcp,
        { type: ETCD_SNAPSHOT_RESTORED, status: "True", reason: "AsExpected", message: "All is well" },
        this.now(),
      );
      this.api.store.update(HCP, hcp);
    }
  }
}

function initContainer(url: string): JsonObject {
  return {
    name: ETCD_INIT_CONTAINER,
    image: ETCD_IMAGE,
    command: ["/bin/sh", "-ce", ETCD_INIT_SCRIPT],
    env: [{ name: "RESTORE_URL_ETCD", value: url }],
    volumeMounts: [{ name: "data", mountPath: "/var/lib" }],
  };
}

function isReady(p: JsonObject): boolean {
  const conds = getObject(p, ["status"])?.conditions;
  return Array.isArray(conds) && conds.some((c) => isObject(c) && c.type === "Ready" && c.status === "True");
}

function initStatus(p: JsonObject): JsonObject | undefined {
  const list = getObject(p, ["status"])?.initContainerStatuses;
  return Array.isArray(list) ? list.filter(isObject).find((c) => c.name === ETCD_INIT_CONTAINER) : undefined;
}

function containerId(): string {
  return `cri-o://${randomBytes(32).toString("hex")}`;
}

function conditionList(obj: JsonObject): JsonObject[] {
  const c = getObject(obj, ["status"])?.conditions;
  return Array.isArray(c) ? c.filter(isObject) : [];
}

function findCondition(obj: JsonObject, type: string): JsonObject | undefined {
  return conditionList(obj).find((c) => c.type === type);
}

function dropCondition(obj: JsonObject, type: string): void {
  const status = getObject(obj, ["status"]);
  if (status && Array.isArray(status.conditions)) status.conditions = conditionList(obj).filter((c) => c.type !== type);
}

function writeCondition(
  obj: JsonObject,
  c: { type: string; status: ConditionStatus; reason: string; message: string },
  now: string,
): void {
  const rest = conditionList(obj).filter((x) => x.type !== c.type);
  const status = ensureObject(obj, ["status"]);
  status.conditions = [
    ...rest,
    { ...c, observedGeneration: Number(meta(obj).generation ?? 1), lastTransitionTime: now },
  ];
}
