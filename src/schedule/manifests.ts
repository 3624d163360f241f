import { UsageError } from "../errors.js";
import { CHAIN_LEASE_NAME, ETCD_CLIENT_PORT_NAME, hcpNamespace } from "../hostedcluster/names.js";
import {
  chainLeaseRules,
  controlPlaneRules,
  fleetRules,
  hostedClusterRules,
  keySecretRules,
  type PolicyRule,
} from "./backup-access.js";

/** A hosted cluster the schedule covers, with the aescbc key Secrets its backup reads (none: kms, unencrypted or --no-key). */
export interface FleetMember {
  readonly namespace: string;
  readonly name: string;
  readonly keySecrets: readonly string[];
}

/** Which backups the CronJob runs: one cluster, every cluster of a namespace, every cluster. */
export type ScheduleScope =
  | { readonly kind: "cluster"; readonly cluster: FleetMember }
  | { readonly kind: "namespace"; readonly namespace: string; readonly clusters: readonly FleetMember[] }
  | { readonly kind: "all-namespaces"; readonly clusters: readonly FleetMember[] };

/** Where the store credentials come from; never inline. */
export type StoreCredentials =
  | { readonly kind: "secret"; readonly secret: string }
  | { readonly kind: "irsa"; readonly roleArn: string }
  | { readonly kind: "ambient" };

export interface ScheduleRequest {
  readonly scope: ScheduleScope;
  /** Name of every object the schedule creates (CronJob, ServiceAccount, Roles, NetworkPolicies). */
  readonly name: string;
  /** Namespace of the CronJob and its ServiceAccount. */
  readonly jobNamespace: string;
  /** When the CronJob runs; unused with `continuous`. */
  readonly cron: string;
  readonly timeZone?: string;
  readonly image: string;
  readonly store: string;
  /** Flags passed through to `backup` as given (`--s3-endpoint URL`, `--sse aws:kms`, `--pushgateway URL`). */
  readonly passThroughArgs: readonly string[];
  /** age recipients of the aescbc key; empty means `--no-key`. */
  readonly keyRecipients: readonly string[];
  readonly credentials: StoreCredentials;
  readonly activeDeadlineSeconds: number;
  /**
   * A continuous backup instead of a CronJob: a Deployment (one replica, Recreate) running
   * `backup --continuous`, and the Lease in the control-plane namespace that its process holds.
   */
  readonly continuous?: { readonly segment?: string; readonly fullEvery?: string };
}

export type KubeObject = {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels?: Record<string, string>;
    readonly annotations?: Record<string, string>;
  };
} & Record<string, unknown>;

export const APP_LABEL = "app.kubernetes.io/name";
export const INSTANCE_LABEL = "app.kubernetes.io/instance";
const APP = "hcp-etcd-backup";
/** The binary the image puts on PATH (Containerfile), named explicitly so the Job does not depend on ENTRYPOINT. */
export const IMAGE_BINARY = "hcp-etcd-backup";
/** The emptyDir the read-only pod writes to (Node, the AWS SDK and `verify` stage temp files there). */
export const SCRATCH_DIR = "/tmp";
/** HyperShift names etcd's pods so; the NetworkPolicy admits the backup to them. */
export const ETCD_POD_LABELS = { app: "etcd" } as const;

/**
 * Sized from docs/benchmarks.md: one backup stream peaks at 148–195 MiB RSS (1 and 4 GiB
 * snapshots, HTTPS and HTTP), flat in the snapshot's size. The request covers that peak with
 * headroom; the limit doubles it so a slow S3 endpoint (parts held longer) is not OOM-killed.
 * CPU: a stream used under one core on the 2-core benchmark machine; the limit keeps a backup from
 * starving the management cluster's control planes.
 */
export const BACKUP_RESOURCES = {
  requests: { cpu: "250m", memory: "256Mi" },
  limits: { cpu: "1", memory: "512Mi" },
} as const;

const MAX_CRONJOB_NAME = 52; // the Job controller appends an 11-character suffix to a 63-character limit

/** The default object name of a scope. */
export function defaultName(scope: ScheduleScope): string {
  if (scope.kind === "cluster") return `${APP}-${scope.cluster.name.replaceAll(".", "-")}`;
  return scope.kind === "namespace" ? `${APP}-all` : `${APP}-fleet`;
}

export function validateName(name: string): string {
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name) || name.length > MAX_CRONJOB_NAME)
    throw new UsageError(
      `--name "${name}": a CronJob name is at most ${MAX_CRONJOB_NAME} lowercase letters, digits and dashes`,
    );
  return name;
}

/** The backup's command line in the Job: exactly what a person would type, JSON logs and result for the log pipeline. */
export function backupArgs(req: ScheduleRequest): string[] {
  const s = req.scope;
  const target =
    s.kind === "cluster"
      ? [s.cluster.name, "-n", s.cluster.namespace]
      : s.kind === "namespace"
        ? ["--all", "-n", s.namespace]
        : ["--all", "--all-namespaces"];
  const key = req.keyRecipients.length > 0 ? req.keyRecipients.flatMap((r) => ["--key-recipient", r]) : ["--no-key"];
  return [
    "--log-format",
    "json",
    "backup",
    ...target,
    "--mode",
    "online",
    "--to",
    req.store,
    ...(req.continuous
      ? [
          "--continuous",
          ...(req.continuous.segment ? ["--segment", req.continuous.segment] : []),
          ...(req.continuous.fullEvery ? ["--full-every", req.continuous.fullEvery] : []),
        ]
      : []),
    ...req.passThroughArgs,
    ...key,
    // The result as JSON too (one line, as the logs): the Job's log is JSON lines only.
    "-o",
    "json",
  ];
}

/**
 * Every object of the schedule, in the order `kubectl apply -f` needs them (identity and rights
 * before the CronJob or Deployment). A continuous backup covers one cluster: its chain has one writer.
 */
export function renderSchedule(req: ScheduleRequest): KubeObject[] {
  validateName(req.name);
  if (req.continuous && req.scope.kind !== "cluster")
    throw new UsageError("a continuous backup follows one hosted cluster: name it instead of --all");
  const clusters = members(req.scope);
  const hcpNamespaces = clusters.map((c) => hcpNamespace(c.namespace, c.name)).filter(unique);
  return [
    serviceAccount(req),
    ...rbac(req, clusters),
    ...hcpNamespaces.map((ns) => networkPolicy(req, ns)),
    ...(req.continuous ? [...hcpNamespaces.map((ns) => chainLease(req, ns)), deployment(req)] : [cronJob(req)]),
  ];
}

function members(scope: ScheduleScope): readonly FleetMember[] {
  return scope.kind === "cluster" ? [scope.cluster] : scope.clusters;
}

function unique<T>(v: T, i: number, all: readonly T[]): boolean {
  return all.indexOf(v) === i;
}

function labels(req: ScheduleRequest): Record<string, string> {
  return {
    [APP_LABEL]: APP,
    [INSTANCE_LABEL]: req.name,
    "app.kubernetes.io/component": "scheduled-backup",
    "app.kubernetes.io/managed-by": APP,
  };
}

/** The labels of the backup's pods, and so what the NetworkPolicy admits. */
export function podLabels(req: ScheduleRequest): Record<string, string> {
  return { [APP_LABEL]: APP, [INSTANCE_LABEL]: req.name };
}

function meta(req: ScheduleRequest, namespace?: string, name = req.name) {
  return { name, ...(namespace !== undefined ? { namespace } : {}), labels: labels(req) };
}

function serviceAccount(req: ScheduleRequest): KubeObject {
  const m = meta(req, req.jobNamespace);
  return {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata:
      req.credentials.kind === "irsa"
        ? { ...m, annotations: { "eks.amazonaws.com/role-arn": req.credentials.roleArn } }
        : m,
  };
}

const sorted = (xs: Iterable<string>) => [...new Set(xs)].sort();

/** Roles in each namespace the backup reads; a ClusterRole only to enumerate HostedClusters everywhere. */
function rbac(req: ScheduleRequest, clusters: readonly FleetMember[]): KubeObject[] {
  const out: KubeObject[] = [];
  const s = req.scope;
  if (s.kind === "all-namespaces") {
    const name = `${req.jobNamespace}-${req.name}`;
    out.push(
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRole",
        metadata: meta(req, undefined, name),
        rules: fleetRules(),
      },
      {
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "ClusterRoleBinding",
        metadata: meta(req, undefined, name),
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name },
        subjects: [subject(req)],
      },
    );
  }
  for (const ns of sorted(clusters.map((c) => c.namespace))) {
    const here = clusters.filter((c) => c.namespace === ns);
    const keySecrets = req.keyRecipients.length > 0 ? sorted(here.flatMap((c) => c.keySecrets)) : [];
    // With --all-namespaces the ClusterRole reads the HostedClusters.
    const read =
      s.kind === "cluster"
        ? hostedClusterRules([s.cluster.name])
        : s.kind === "namespace"
          ? hostedClusterRules("any")
          : [];
    const rules = [...read, ...keySecretRules(keySecrets)];
    if (rules.length > 0) out.push(...roleAndBinding(req, ns, rules));
  }
  // The EncryptionConfiguration Secret is read only where the backup saves aescbc keys.
  const savesKeys = new Map(
    clusters.map((c) => [hcpNamespace(c.namespace, c.name), req.keyRecipients.length > 0 && c.keySecrets.length > 0]),
  );
  for (const ns of sorted(savesKeys.keys()))
    out.push(
      ...roleAndBinding(req, ns, [
        ...controlPlaneRules(savesKeys.get(ns) === true),
        ...(req.continuous ? chainLeaseRules() : []),
      ]),
    );
  return out;
}

function roleAndBinding(req: ScheduleRequest, namespace: string, rules: PolicyRule[]): KubeObject[] {
  return [
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: meta(req, namespace), rules },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: meta(req, namespace),
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: req.name },
      subjects: [subject(req)],
    },
  ];
}

function subject(req: ScheduleRequest) {
  return { kind: "ServiceAccount", name: req.name, namespace: req.jobNamespace };
}

/**
 * HyperShift's policies in a control-plane namespace admit etcd traffic only from that namespace;
 * this one (policies add up) lets the backup's pods, and nothing else, reach etcd's client port.
 */
function networkPolicy(req: ScheduleRequest, namespace: string): KubeObject {
  return {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: meta(req, namespace),
    spec: {
      podSelector: { matchLabels: { ...ETCD_POD_LABELS } },
      policyTypes: ["Ingress"],
      ingress: [
        {
          from: [
            {
              namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": req.jobNamespace } },
              podSelector: { matchLabels: podLabels(req) },
            },
          ],
          // By name, as HyperShift's etcd pods declare it (and its Service targets it): the policy
          // follows the pods' port should it ever move from 2379.
          ports: [{ protocol: "TCP", port: ETCD_CLIENT_PORT_NAME }],
        },
      ],
    },
  };
}

function credentialEnv(req: ScheduleRequest): object[] {
  const env: object[] = [{ name: "HOME", value: SCRATCH_DIR }];
  if (req.credentials.kind === "secret") {
    const secret = req.credentials.secret;
    for (const key of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"])
      env.push({ name: key, valueFrom: { secretKeyRef: { name: secret, key } } });
    env.push({
      name: "AWS_SESSION_TOKEN",
      valueFrom: { secretKeyRef: { name: secret, key: "AWS_SESSION_TOKEN", optional: true } },
    });
  }
  return env;
}

function cronJob(req: ScheduleRequest): KubeObject {
  return {
    apiVersion: "batch/v1",
    kind: "CronJob",
    metadata: meta(req, req.jobNamespace),
    spec: {
      schedule: req.cron,
      ...(req.timeZone ? { timeZone: req.timeZone } : {}),
      // A backup still running when the next one is due keeps going; the next run is skipped.
      concurrencyPolicy: "Forbid",
      // A run the controller could not start within 10 minutes is skipped: the stale-backup alert reports it.
      startingDeadlineSeconds: 600,
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 3,
      jobTemplate: {
        metadata: { labels: labels(req) },
        spec: {
          // One retry: an online backup is safe to repeat, and an unfinished one leaves nothing `prune` does not remove.
          backoffLimit: 1,
          activeDeadlineSeconds: req.activeDeadlineSeconds,
          template: podTemplate(req, "Never"),
        },
      },
    },
  };
}

/** The backup's pod: restricted, read-only root with /tmp an emptyDir, store credentials by reference. */
function podTemplate(req: ScheduleRequest, restartPolicy: "Never" | "Always") {
  return {
    metadata: { labels: podLabels(req) },
    spec: {
      serviceAccountName: req.name,
      restartPolicy,
      // No runAsUser: the image's numeric USER satisfies runAsNonRoot, and OpenShift's
      // restricted SCC assigns its own UID.
      securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
      containers: [
        {
          name: "backup",
          image: req.image,
          imagePullPolicy: "IfNotPresent",
          command: [IMAGE_BINARY],
          args: backupArgs(req),
          env: credentialEnv(req),
          resources: BACKUP_RESOURCES,
          securityContext: {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            runAsNonRoot: true,
            capabilities: { drop: ["ALL"] },
            seccompProfile: { type: "RuntimeDefault" },
          },
          volumeMounts: [{ name: "tmp", mountPath: SCRATCH_DIR }],
        },
      ],
      volumes: [{ name: "tmp", emptyDir: { sizeLimit: "256Mi" } }],
    },
  };
}

/**
 * The continuous backup: one replica, restarted when it exits (it resumes after its last committed
 * segment). Recreate, never RollingUpdate: an update stops the old pod before the new one starts, so
 * the two never overlap; the Lease makes sure of it even when a node is partitioned.
 */
function deployment(req: ScheduleRequest): KubeObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: meta(req, req.jobNamespace),
    spec: {
      replicas: 1,
      strategy: { type: "Recreate" },
      selector: { matchLabels: podLabels(req) },
      template: podTemplate(req, "Always"),
    },
  };
}

/**
 * The Lease the running process holds (holder, renewed every 10 s, 30 s duration). Rendered without
 * a holder; `--apply` creates it when absent and never replaces it (it is the running process's state).
 */
function chainLease(req: ScheduleRequest, namespace: string): KubeObject {
  return {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: meta(req, namespace, CHAIN_LEASE_NAME),
    spec: { leaseDurationSeconds: 30 },
  };
}
