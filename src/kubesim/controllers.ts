import { randomBytes } from "node:crypto";
import { kubeTime, type SimClock } from "./clock.js";
import { clone, getNumber, getObject, getString, isObject, type Json, type JsonObject, meta } from "./json.js";
import { controlPlaneNamespace, WRITER_DEPLOYMENTS } from "./names.js";
import { pauseState, reconciliationActive } from "./paused.js";
import { resourceByKind } from "./resources.js";
import type { ObjectStore } from "./store.js";

export interface ControllerOptions {
  /** Delay before a HostedCluster's pausedUntil reaches its HostedControlPlane (default 300 ms). */
  readonly pausePropagationMs?: number;
  /** Delay before the control-plane operator puts a writer's replicas back (default 100 ms). */
  readonly reconcileMs?: number;
  /** How long a pod stays Terminating before it is gone (default 500 ms). */
  readonly podTerminationMs?: number;
  /** How long a new pod takes to become Ready (default 200 ms). */
  readonly podReadyMs?: number;
  /** Period of the resync that notices pause deadlines passing in real time (default 100 ms). */
  readonly resyncMs?: number;
}

const HC = resourceByKind("HostedCluster");
const HCP = resourceByKind("HostedControlPlane");
const DEPLOYMENT = resourceByKind("Deployment");
const POD = resourceByKind("Pod");

/**
 * HyperShift's behaviours the backup depends on, driven by store events, the simulated clock and
 * real timers: the hostedcluster controller (pausedUntil → HostedControlPlane, ReconciliationActive),
 * the control-plane operator (writers' replicas put back while not paused) and the deployment
 * controller (pods follow replicas; status counts them). Every timer is tracked and `stop()` clears them.
 */
export class HyperShiftControllers {
  private readonly pausePropagationMs: number;
  private readonly reconcileMs: number;
  private readonly podTerminationMs: number;
  private readonly podReadyMs: number;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Keys of delayed actions already scheduled, so a burst of events schedules each once. */
  private readonly pending = new Set<string>();
  private readonly unsubscribe: Array<() => void> = [];
  private queued = false;
  private stopped = false;
  private readonly resync: NodeJS.Timeout;

  constructor(
    private readonly store: ObjectStore,
    private readonly clock: SimClock,
    options: ControllerOptions = {},
  ) {
    this.pausePropagationMs = options.pausePropagationMs ?? 300;
    this.reconcileMs = options.reconcileMs ?? 100;
    this.podTerminationMs = options.podTerminationMs ?? 500;
    this.podReadyMs = options.podReadyMs ?? 200;
    this.unsubscribe.push(store.subscribe(() => this.kick()));
    this.unsubscribe.push(clock.onAdvance(() => this.kick()));
    this.resync = setInterval(() => this.kick(), options.resyncMs ?? 100);
    this.kick();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.resync);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const u of this.unsubscribe) u();
  }

  /** Coalesces a burst of triggers into one pass, run outside the store's event delivery. */
  private kick(): void {
    if (this.queued || this.stopped) return;
    this.queued = true;
    this.after(0, () => {
      this.queued = false;
      this.reconcileAll();
    });
  }

  private after(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) fn();
    }, ms);
    this.timers.add(t);
  }

  /** Runs `fn` after `ms` unless an action with the same key is already waiting. */
  private once(key: string, ms: number, fn: () => void): void {
    if (this.pending.has(key)) return;
    this.pending.add(key);
    this.after(ms, () => {
      this.pending.delete(key);
      fn();
    });
  }

  private reconcileAll(): void {
    for (const hc of this.store.list(HC)) this.reconcileHostedCluster(hc);
    for (const hcp of this.store.list(HCP)) this.reconcileControlPlane(hcp);
    for (const d of this.store.list(DEPLOYMENT)) this.reconcileDeployment(d);
    this.collectOrphanPods();
  }

  // --- hostedcluster controller -------------------------------------------------------------

  private reconcileHostedCluster(hc: JsonObject): void {
    const m = meta(hc);
    const ns = String(m.namespace);
    const name = String(m.name);
    const hcp = this.store.get(HCP, controlPlaneNamespace(ns, name), name);
    const want = getPath(hc, "pausedUntil");
    const now = this.clock.now();
    const inSync =
      hcp !== undefined &&
      getPath(hcp, "pausedUntil") === want &&
      conditionMatches(hc, reconciliationActive(want, now)) &&
      conditionMatches(hcp, reconciliationActive(want, now));
    if (inSync) return;
    this.once(`hc/${ns}/${name}`, this.pausePropagationMs, () => this.propagatePause(ns, name));
  }

  private propagatePause(ns: string, name: string): void {
    const hc = this.store.get(HC, ns, name);
    if (!hc) return;
    const want = getPath(hc, "pausedUntil");
    const cond = reconciliationActive(want, this.clock.now());
    this.writeCondition(HC, hc, cond);
    const hcp = this.store.get(HCP, controlPlaneNamespace(ns, name), name);
    if (!hcp) return;
    const spec = getObject(hcp, ["spec"]) ?? {};
    if (want === undefined) delete spec.pausedUntil;
    else spec.pausedUntil = want;
    hcp.spec = spec;
    setCondition(hcp, cond, Number(meta(hcp).generation ?? 1), this.clock.now());
    this.store.update(HCP, hcp);
  }

  private writeCondition(rt: typeof HC, obj: JsonObject, cond: ReturnType<typeof reconciliationActive>): void {
    if (conditionMatches(obj, cond)) return;
    setCondition(obj, cond, Number(meta(obj).generation ?? 1), this.clock.now());
    this.store.update(rt, obj);
  }

  // --- control-plane operator ---------------------------------------------------------------

  private reconcileControlPlane(hcp: JsonObject): void {
    const ns = String(meta(hcp).namespace);
    const name = String(meta(hcp).name);
    const pausedUntil = getPath(hcp, "pausedUntil");
    const paused = pauseState(pausedUntil, this.clock.now()).paused;
    if (paused) return;
    const replicas = getString(hcp, ["spec", "controllerAvailabilityPolicy"]) === "SingleReplica" ? 1 : 3;
    for (const writer of WRITER_DEPLOYMENTS) {
      const d = this.store.get(DEPLOYMENT, ns, writer);
      if (!d || getNumber(d, ["spec", "replicas"]) === replicas) continue;
      this.once(`cpo/${ns}/${writer}`, this.reconcileMs, () => this.restoreWriter(ns, name, writer, replicas));
    }
  }

  private restoreWriter(ns: string, hcpName: string, writer: string, replicas: number): void {
    const hcp = this.store.get(HCP, ns, hcpName);
    if (!hcp || pauseState(getPath(hcp, "pausedUntil"), this.clock.now()).paused) return;
    const d = this.store.get(DEPLOYMENT, ns, writer);
    if (!d || getNumber(d, ["spec", "replicas"]) === replicas) return;
    const spec = getObject(d, ["spec"]) ?? {};
    spec.replicas = replicas;
    d.spec = spec;
    this.store.update(DEPLOYMENT, d);
  }

  // --- deployment controller ----------------------------------------------------------------

  private podsOf(d: JsonObject): JsonObject[] {
    const uid = meta(d).uid;
    return this.store.list(POD, String(meta(d).namespace)).filter((p) => ownerUid(p) === uid);
  }

  private reconcileDeployment(d: JsonObject): void {
    const ns = String(meta(d).namespace);
    const name = String(meta(d).name);
    const desired = getNumber(d, ["spec", "replicas"]) ?? 1;
    const pods = this.podsOf(d);
    const active = pods.filter((p) => !meta(p).deletionTimestamp).sort(byName);
    const now = kubeTime(this.clock.now());
    for (const p of active.slice(desired)) {
      meta(p).deletionTimestamp = now;
      meta(p).deletionGracePeriodSeconds = Math.ceil(this.podTerminationMs / 1000);
      this.store.update(POD, p);
      const podName = String(meta(p).name);
      this.once(`pod-delete/${ns}/${podName}`, this.podTerminationMs, () => {
        if (this.store.get(POD, ns, podName)) this.store.delete(POD, ns, podName);
      });
    }
    for (let i = active.length; i < desired; i++) this.createPod(d);
    this.updateDeploymentStatus(ns, name);
  }

  private createPod(d: JsonObject): void {
    const ns = String(meta(d).namespace);
    const name = String(meta(d).name);
    const template = getObject(d, ["spec", "template"]) ?? {};
    const labels = clone(getObject(template, ["metadata", "labels"]) ?? { app: name });
    const podName = `${name}-${randomBytes(4).toString("hex").slice(0, 7)}-${randomBytes(3).toString("hex").slice(0, 5)}`;
    const pod = podObject(ns, podName, labels, getObject(template, ["spec"]) ?? {}, {
      apiVersion: "apps/v1",
      kind: "Deployment",
      name,
      uid: String(meta(d).uid),
    });
    this.store.create(POD, pod, this.clock.now());
    this.after(this.podReadyMs, () => {
      const p = this.store.get(POD, ns, podName);
      if (!p || meta(p).deletionTimestamp) return;
      p.status = readyPodStatus(p, this.clock.now());
      this.store.update(POD, p);
    });
  }

  private updateDeploymentStatus(ns: string, name: string): void {
    const d = this.store.get(DEPLOYMENT, ns, name);
    if (!d) return;
    const active = this.podsOf(d).filter((p) => !meta(p).deletionTimestamp);
    const ready = active.filter(isPodReady).length;
    const desired = getNumber(d, ["spec", "replicas"]) ?? 1;
    const status = getObject(d, ["status"]) ?? {};
    const next: JsonObject = {
      ...status,
      observedGeneration: Number(meta(d).generation ?? 1),
      replicas: active.length,
      updatedReplicas: active.length,
      readyReplicas: ready,
      availableReplicas: ready,
    };
    if (desired - ready > 0) next.unavailableReplicas = desired - ready;
    else delete next.unavailableReplicas;
    if (ready === 0) {
      delete next.readyReplicas;
      delete next.availableReplicas;
    }
    if (active.length === 0) {
      delete next.replicas;
      delete next.updatedReplicas;
    }
    const available = ready >= desired ? "True" : "False";
    next.conditions = [
      {
        type: "Available",
        status: available,
        reason: available === "True" ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
        message:
          available === "True"
            ? "Deployment has minimum availability."
            : "Deployment does not have minimum availability.",
        lastUpdateTime: previousTime(status, "Available", available) ?? kubeTime(this.clock.now()),
        lastTransitionTime: previousTime(status, "Available", available) ?? kubeTime(this.clock.now()),
      },
    ];
    if (JSON.stringify(next) === JSON.stringify(status)) return;
    d.status = next;
    this.store.update(DEPLOYMENT, d);
  }

  /** Pods whose Deployment is gone go too, as the garbage collector removes them. */
  private collectOrphanPods(): void {
    const uids = new Set(this.store.list(DEPLOYMENT).map((d) => meta(d).uid));
    for (const p of this.store.list(POD)) {
      const owner = ownerUid(p);
      const refs = meta(p).ownerReferences;
      const byDeployment = Array.isArray(refs) && refs.some((r) => isObject(r) && r.kind === "Deployment");
      if (byDeployment && owner !== undefined && !uids.has(owner)) {
        this.store.delete(POD, String(meta(p).namespace), String(meta(p).name));
      }
    }
  }
}

function getPath(obj: JsonObject, field: "pausedUntil"): string | undefined {
  return getString(obj, ["spec", field]);
}

function byName(a: JsonObject, b: JsonObject): number {
  return String(meta(a).name).localeCompare(String(meta(b).name));
}

function ownerUid(p: JsonObject): Json | undefined {
  const refs = meta(p).ownerReferences;
  if (!Array.isArray(refs)) return undefined;
  const ref = refs.find((r) => isObject(r) && r.controller === true) ?? refs[0];
  return isObject(ref) ? ref.uid : undefined;
}

function conditions(obj: JsonObject): JsonObject[] {
  const c = getObject(obj, ["status"])?.conditions;
  return Array.isArray(c) ? c.filter(isObject) : [];
}

function conditionMatches(obj: JsonObject, want: ReturnType<typeof reconciliationActive>): boolean {
  const c = conditions(obj).find((x) => x.type === "ReconciliationActive");
  return c !== undefined && c.status === want.status && c.reason === want.reason && c.message === want.message;
}

function setCondition(
  obj: JsonObject,
  want: ReturnType<typeof reconciliationActive>,
  generation: number,
  now: Date,
): void {
  const list = conditions(obj);
  const old = list.find((x) => x.type === "ReconciliationActive");
  const cond: JsonObject = {
    type: "ReconciliationActive",
    status: want.status,
    reason: want.reason,
    message: want.message,
    observedGeneration: generation,
    lastTransitionTime: old && old.status === want.status ? (old.lastTransitionTime ?? kubeTime(now)) : kubeTime(now),
  };
  const rest = list.filter((x) => x.type !== "ReconciliationActive");
  const status = getObject(obj, ["status"]) ?? {};
  status.conditions = [...rest, cond];
  obj.status = status;
}

function previousTime(status: JsonObject, type: string, value: string): string | undefined {
  const c = Array.isArray(status.conditions)
    ? status.conditions.find((x) => isObject(x) && x.type === type && x.status === value)
    : undefined;
  return isObject(c) && typeof c.lastTransitionTime === "string" ? c.lastTransitionTime : undefined;
}

export function isPodReady(p: JsonObject): boolean {
  const conds = getObject(p, ["status"])?.conditions;
  return Array.isArray(conds) && conds.some((c) => isObject(c) && c.type === "Ready" && c.status === "True");
}

export interface OwnerRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
}

/** A pod as a controller creates it: Pending until `readyPodStatus` makes it Running and Ready. */
export function podObject(
  ns: string,
  name: string,
  labels: JsonObject,
  spec: JsonObject,
  owner?: OwnerRef,
): JsonObject {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace: ns,
      labels,
      ...(owner ? { ownerReferences: [{ ...owner, controller: true, blockOwnerDeletion: true }] } : {}),
    },
    spec: { ...clone(spec), nodeName: "kubesim-node" },
    status: { phase: "Pending", podIP: "127.0.0.1", hostIP: "127.0.0.1" },
  };
}

/** `podIP`: the pod's address (default 127.0.0.1; a loopback address of its own stands for the pod network). */
export function readyPodStatus(p: JsonObject, now: Date, podIP = "127.0.0.1"): JsonObject {
  const t = kubeTime(now);
  const containers = getObject(p, ["spec"])?.containers;
  const names = Array.isArray(containers) ? containers.map((c) => (isObject(c) ? String(c.name) : "main")) : ["main"];
  return {
    phase: "Running",
    podIP,
    podIPs: [{ ip: podIP }],
    hostIP: "127.0.0.1",
    startTime: t,
    conditions: ["Initialized", "Ready", "ContainersReady", "PodScheduled"].map((type) => ({
      type,
      status: "True",
      lastProbeTime: null,
      lastTransitionTime: t,
    })),
    containerStatuses: names.map((name) => ({
      name,
      ready: true,
      started: true,
      restartCount: 0,
      image: "quay.io/openshift-release-dev/ocp-v4.0-art-dev:kubesim",
      imageID: "",
      state: { running: { startedAt: t } },
    })),
  };
}
