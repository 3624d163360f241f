import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  BACKUP_RESOURCES,
  backupArgs,
  type KubeObject,
  podLabels,
  renderSchedule,
  type ScheduleRequest,
  type ScheduleScope,
} from "../../src/schedule/manifests.js";
import { type LabelSelector, selects, validateAgainstSchema } from "../support/kube-schema.js";

interface PodTemplate {
  metadata: { labels: Record<string, string> };
  spec: {
    serviceAccountName: string;
    securityContext: { runAsNonRoot: boolean; seccompProfile: { type: string } };
    containers: [
      {
        args: string[];
        env: Array<{ name: string; value?: string; valueFrom?: unknown }>;
        securityContext: unknown;
        volumeMounts: unknown;
        resources: unknown;
      },
    ];
    volumes: [{ emptyDir: unknown }];
  };
}
interface CronJobShape {
  spec: {
    concurrencyPolicy: string;
    startingDeadlineSeconds: number;
    jobTemplate: { spec: { activeDeadlineSeconds: number; backoffLimit: number; template: PodTemplate } };
  };
}
interface NetworkPolicyShape {
  metadata: { namespace: string };
  spec: {
    podSelector: LabelSelector;
    ingress: [{ from: [{ podSelector: LabelSelector; namespaceSelector: LabelSelector }]; ports: unknown }];
  };
}

const RECIPIENT = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
const example = { namespace: "clusters", name: "example", keySecrets: ["example-etcd-encryption-key"] };
const other = { namespace: "clusters", name: "other", keySecrets: ["other-key"] };
const elsewhere = { namespace: "team-b", name: "db", keySecrets: [] };

function request(scope: ScheduleScope, extra: Partial<ScheduleRequest> = {}): ScheduleRequest {
  return {
    scope,
    name: "hcp-etcd-backup-x",
    jobNamespace: "clusters",
    cron: "0 */6 * * *",
    image: "registry.example/hcp-etcd-backup:test",
    store: "s3://backups/hcp",
    passThroughArgs: ["--s3-region", "eu-west-1"],
    keyRecipients: [RECIPIENT],
    credentials: { kind: "secret", secret: "s3-creds" },
    activeDeadlineSeconds: 3600,
    ...extra,
  };
}

const SCOPES: Record<string, ScheduleScope> = {
  cluster: { kind: "cluster", cluster: example },
  namespace: { kind: "namespace", namespace: "clusters", clusters: [example, other] },
  "all-namespaces": { kind: "all-namespaces", clusters: [example, other, elsewhere] },
};

type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] };
const of = (objects: KubeObject[], kind: string) => objects.filter((o) => o.kind === kind);
const rulesOf = (o: KubeObject) => o.rules as Rule[];
const cronJob = (objects: KubeObject[]) => of(objects, "CronJob")[0] as unknown as CronJobShape;
const cronJobPod = (objects: KubeObject[]) => cronJob(objects).spec.jobTemplate.spec.template;

describe("schedule manifests", () => {
  for (const [label, scope] of Object.entries(SCOPES)) {
    it(`${label}: every object passes the Kubernetes OpenAPI schema`, () => {
      const objects = renderSchedule(request(scope, label === "all-namespaces" ? { jobNamespace: "backup" } : {}));
      assert.ok(objects.length >= 6);
      for (const o of objects) validateAgainstSchema(o);
    });

    it(`${label}: no RBAC rule has a wildcard, and the backup only reads`, () => {
      const objects = renderSchedule(request(scope));
      const rules = [...of(objects, "Role"), ...of(objects, "ClusterRole")].flatMap(rulesOf);
      assert.ok(rules.length > 0);
      for (const r of rules) {
        for (const v of [...r.apiGroups, ...r.resources, ...r.verbs, ...(r.resourceNames ?? [])])
          assert.ok(!v.includes("*"), `wildcard in ${JSON.stringify(r)}`);
        for (const verb of r.verbs) assert.ok(["get", "list"].includes(verb), `${verb} in ${JSON.stringify(r)}`);
      }
    });
  }

  describe("--continuous", () => {
    const objects = renderSchedule(request(SCOPES.cluster as ScheduleScope, { continuous: { fullEvery: "6h" } }));

    it("a Deployment (one replica, Recreate, restarted) and its Lease instead of the CronJob; the same pod, the same policy", () => {
      for (const o of objects) validateAgainstSchema(o);
      assert.equal(of(objects, "CronJob").length, 0);
      const [d] = of(objects, "Deployment") as unknown as [
        { spec: { replicas: number; strategy: { type: string }; selector: LabelSelector; template: PodTemplate } },
      ];
      assert.equal(d.spec.replicas, 1);
      assert.equal(d.spec.strategy.type, "Recreate");
      assert.ok(selects(d.spec.selector, d.spec.template.metadata.labels));
      const cron = renderSchedule(request(SCOPES.cluster as ScheduleScope));
      const pod = structuredClone(cronJobPod(cron)) as unknown as { spec: Record<string, unknown> };
      const continuousPod = structuredClone(d.spec.template) as unknown as {
        spec: { restartPolicy: string; containers: [{ args: string[] }] } & Record<string, unknown>;
      };
      assert.equal(continuousPod.spec.restartPolicy, "Always");
      assert.deepEqual(continuousPod.spec.containers[0].args, [
        ...backupArgs(request(SCOPES.cluster as ScheduleScope)).slice(0, 10),
        "--continuous",
        "--full-every",
        "6h",
        ...backupArgs(request(SCOPES.cluster as ScheduleScope)).slice(10),
      ]);
      // Apart from the restart policy and the arguments, the CronJob's pod exactly.
      for (const p of [pod, continuousPod]) {
        delete p.spec.restartPolicy;
        for (const c of p.spec.containers as Array<{ args?: unknown }>) delete c.args;
      }
      assert.deepEqual(continuousPod, pod);
      assert.deepEqual(of(objects, "NetworkPolicy"), of(cron, "NetworkPolicy"));
      const [lease] = of(objects, "Lease");
      assert.equal(lease?.metadata.namespace, "clusters-example");
      assert.equal(lease?.metadata.name, "hcp-etcd-backup-continuous");
    });

    it("its Roles are the CronJob's plus get and update of that one Lease: the only write", () => {
      const cronRules = renderSchedule(request(SCOPES.cluster as ScheduleScope));
      const extra = of(objects, "Role")
        .flatMap(rulesOf)
        .filter(
          (r) =>
            !of(cronRules, "Role")
              .flatMap(rulesOf)
              .some((c) => JSON.stringify(c) === JSON.stringify(r)),
        );
      assert.deepEqual(extra, [
        {
          apiGroups: ["coordination.k8s.io"],
          resources: ["leases"],
          verbs: ["get", "update"],
          resourceNames: ["hcp-etcd-backup-continuous"],
        },
      ]);
    });

    it("follows one hosted cluster: --all is refused", () => {
      assert.throws(
        () => renderSchedule(request(SCOPES.namespace as ScheduleScope, { continuous: {} })),
        /a continuous backup follows one hosted cluster/,
      );
    });
  });

  it("the schema check can fail: a wrongly typed field is refused", () => {
    const [sa] = renderSchedule(request(SCOPES.cluster as ScheduleScope));
    assert.throws(() => validateAgainstSchema({ ...(sa as KubeObject), automountServiceAccountToken: "yes" } as never));
  });

  it("one cluster: Roles name each object the online backup reads, nothing more", () => {
    const objects = renderSchedule(request(SCOPES.cluster as ScheduleScope));
    const roles = of(objects, "Role");
    assert.deepEqual(
      roles.map((r) => r.metadata.namespace),
      ["clusters", "clusters-example"],
    );
    assert.deepEqual(rulesOf(roles[0] as KubeObject), [
      {
        apiGroups: ["hypershift.openshift.io"],
        resources: ["hostedclusters"],
        verbs: ["get"],
        resourceNames: ["example"],
      },
      { apiGroups: [""], resources: ["secrets"], verbs: ["get"], resourceNames: ["example-etcd-encryption-key"] },
    ]);
    assert.deepEqual(rulesOf(roles[1] as KubeObject), [
      { apiGroups: [""], resources: ["configmaps"], verbs: ["get"], resourceNames: ["etcd-ca"] },
      { apiGroups: [""], resources: ["pods"], verbs: ["list"] },
      // kube-apiserver's EncryptionConfiguration: the keys a rotation in progress still reads.
      {
        apiGroups: [""],
        resources: ["secrets"],
        verbs: ["get"],
        resourceNames: ["etcd-client-tls", "kas-secret-encryption-config"],
      },
      {
        apiGroups: ["apps"],
        resources: ["deployments/scale"],
        verbs: ["get"],
        resourceNames: ["kube-apiserver", "openshift-apiserver", "openshift-oauth-apiserver"],
      },
      { apiGroups: ["apps"], resources: ["statefulsets"], verbs: ["get"], resourceNames: ["etcd"] },
    ]);
    assert.equal(of(objects, "ClusterRole").length, 0, "a ClusterRole only for --all-namespaces");
    for (const b of of(objects, "RoleBinding"))
      assert.deepEqual(b.subjects, [{ kind: "ServiceAccount", name: "hcp-etcd-backup-x", namespace: "clusters" }]);
  });

  it("--no-key: no Secret in the HostedCluster's namespace is readable", () => {
    const objects = renderSchedule(request(SCOPES.cluster as ScheduleScope, { keyRecipients: [] }));
    const hcRole = of(objects, "Role").find((r) => r.metadata.namespace === "clusters") as KubeObject;
    assert.ok(!rulesOf(hcRole).some((r) => r.resources.includes("secrets")));
    const cpRole = of(objects, "Role").find((r) => r.metadata.namespace === "clusters-example") as KubeObject;
    assert.deepEqual(
      rulesOf(cpRole).flatMap((r) => (r.resources.includes("secrets") ? (r.resourceNames ?? []) : [])),
      ["etcd-client-tls"],
      "no key is saved, so the EncryptionConfiguration is not read",
    );
    assert.ok(cronJobPod(objects).spec.containers[0].args.includes("--no-key"));
  });

  it("--all -n: list HostedClusters in the namespace, a Role and NetworkPolicy in each control-plane namespace", () => {
    const objects = renderSchedule(request(SCOPES.namespace as ScheduleScope));
    const hcRole = of(objects, "Role").find((r) => r.metadata.namespace === "clusters") as KubeObject;
    assert.deepEqual(rulesOf(hcRole), [
      { apiGroups: ["hypershift.openshift.io"], resources: ["hostedclusters"], verbs: ["get", "list"] },
      {
        apiGroups: [""],
        resources: ["secrets"],
        verbs: ["get"],
        resourceNames: ["example-etcd-encryption-key", "other-key"],
      },
    ]);
    assert.deepEqual(
      of(objects, "NetworkPolicy").map((p) => p.metadata.namespace),
      ["clusters-example", "clusters-other"],
    );
    assert.equal(of(objects, "ClusterRole").length, 0);
  });

  it("--all-namespaces: a ClusterRole that only reads HostedClusters; everything else namespaced", () => {
    const objects = renderSchedule(request(SCOPES["all-namespaces"] as ScheduleScope, { jobNamespace: "backup" }));
    const [cr] = of(objects, "ClusterRole");
    assert.deepEqual(rulesOf(cr as KubeObject), [
      { apiGroups: ["hypershift.openshift.io"], resources: ["hostedclusters"], verbs: ["get", "list"] },
    ]);
    assert.deepEqual((of(objects, "ClusterRoleBinding")[0] as KubeObject).subjects, [
      { kind: "ServiceAccount", name: "hcp-etcd-backup-x", namespace: "backup" },
    ]);
    // team-b/db has no key Secret: no Role in team-b at all.
    assert.deepEqual(
      of(objects, "Role").map((r) => r.metadata.namespace),
      ["clusters", "clusters-example", "clusters-other", "team-b-db"],
    );
  });

  it("the backup command lines: one cluster, --all -n, --all --all-namespaces", () => {
    const tail = [
      "--mode",
      "online",
      "--to",
      "s3://backups/hcp",
      "--s3-region",
      "eu-west-1",
      "--key-recipient",
      RECIPIENT,
      // The result as one JSON line: the Job's log is JSON lines only.
      "-o",
      "json",
    ];
    assert.deepEqual(backupArgs(request(SCOPES.cluster as ScheduleScope)), [
      "--log-format",
      "json",
      "backup",
      "example",
      "-n",
      "clusters",
      ...tail,
    ]);
    assert.deepEqual(backupArgs(request(SCOPES.namespace as ScheduleScope)), [
      "--log-format",
      "json",
      "backup",
      "--all",
      "-n",
      "clusters",
      ...tail,
    ]);
    assert.deepEqual(backupArgs(request(SCOPES["all-namespaces"] as ScheduleScope)), [
      "--log-format",
      "json",
      "backup",
      "--all",
      "--all-namespaces",
      ...tail,
    ]);
  });

  it("the pod runs restricted: non-root, RuntimeDefault seccomp, no capabilities, read-only root with /tmp an emptyDir", () => {
    const objects = renderSchedule(request(SCOPES.cluster as ScheduleScope));
    const cj = cronJob(objects);
    assert.equal(cj.spec.concurrencyPolicy, "Forbid");
    assert.ok(cj.spec.startingDeadlineSeconds > 0);
    assert.equal(cj.spec.jobTemplate.spec.activeDeadlineSeconds, 3600);
    assert.equal(cj.spec.jobTemplate.spec.backoffLimit, 1);
    const pod = cronJobPod(objects).spec;
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.seccompProfile.type, "RuntimeDefault");
    const [c] = pod.containers;
    assert.deepEqual(c.securityContext, {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    });
    assert.deepEqual(c.volumeMounts, [{ name: "tmp", mountPath: "/tmp" }]);
    assert.deepEqual(pod.volumes[0].emptyDir, { sizeLimit: "256Mi" });
    assert.deepEqual(c.resources, BACKUP_RESOURCES);
    assert.equal(pod.serviceAccountName, "hcp-etcd-backup-x");
  });

  it("store credentials: from a Secret by reference, or IRSA on the ServiceAccount; never a value", () => {
    const bySecret = renderSchedule(request(SCOPES.cluster as ScheduleScope));
    const env = cronJobPod(bySecret).spec.containers[0].env;
    for (const name of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]) {
      const e = env.find((x) => x.name === name);
      assert.deepEqual(e?.valueFrom, { secretKeyRef: { name: "s3-creds", key: name } });
      assert.equal(e?.value, undefined);
    }
    assert.equal(bySecret[0]?.metadata.annotations, undefined);

    const irsa = renderSchedule(
      request(SCOPES.cluster as ScheduleScope, {
        credentials: { kind: "irsa", roleArn: "arn:aws:iam::123456789012:role/backup" },
      }),
    );
    assert.deepEqual(irsa[0]?.metadata.annotations, {
      "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/backup",
    });
    const irsaEnv = cronJobPod(irsa).spec.containers[0].env as Array<{ name: string }>;
    assert.deepEqual(
      irsaEnv.map((e) => e.name),
      ["HOME"],
    );
  });

  it("the NetworkPolicy selects etcd's pods (not the API servers') and admits the backup's pods from the job's namespace", () => {
    const objects = renderSchedule(request(SCOPES.cluster as ScheduleScope, { jobNamespace: "backup" }));
    const np = of(objects, "NetworkPolicy")[0] as unknown as NetworkPolicyShape;
    assert.equal(np.metadata.namespace, "clusters-example");
    assert.ok(selects(np.spec.podSelector, { app: "etcd", "statefulset.kubernetes.io/pod-name": "etcd-0" }));
    assert.ok(!selects(np.spec.podSelector, { app: "kube-apiserver" }));
    const [peer] = np.spec.ingress[0].from;
    assert.ok(selects(peer.podSelector, cronJobPod(objects).metadata.labels));
    assert.ok(!selects(peer.podSelector, { app: "etcd" }), "not any pod");
    assert.ok(selects(peer.namespaceSelector, { "kubernetes.io/metadata.name": "backup" }));
    assert.ok(!selects(peer.namespaceSelector, { "kubernetes.io/metadata.name": "clusters" }));
    // etcd's container names its client port `client` (HyperShift's StatefulSet): the policy follows the name.
    assert.deepEqual(np.spec.ingress[0].ports, [{ protocol: "TCP", port: "client" }]);
    assert.deepEqual(cronJobPod(objects).metadata.labels, podLabels(request(SCOPES.cluster as ScheduleScope)));
  });
});
