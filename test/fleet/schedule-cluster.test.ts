// `schedule --apply` against the Kubernetes API simulator, and the CronJob's own command line run the
// way its Job runs it: in-cluster service-account credentials, RBAC enforced by the simulator (only
// what the rendered Roles grant), etcd reached with --endpoints, a real 3-member etcd behind it.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { dumpYaml, KubernetesObjectApi } from "@kubernetes/client-node";
import { generateIdentity, identityToRecipient } from "age-encryption";
import yaml from "js-yaml";
import { openKey } from "../../src/hostedcluster/key-envelope.js";
import { IMAGE_BINARY, SCRATCH_DIR } from "../../src/schedule/manifests.js";
import { runCli } from "../support/cli.js";
import { type HostedLab, startHostedLab } from "../support/hosted.js";
import { type LabelSelector, selects } from "../support/kube-schema.js";

const NAME = "hcp-etcd-backup-example";
type Obj = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
} & Record<string, unknown>;
interface Container {
  command: string[];
  args: string[];
  env: Array<{ name: string; value?: string; valueFrom?: unknown }>;
}
interface CronJobShape {
  spec: {
    jobTemplate: {
      spec: {
        template: {
          metadata: { labels: Record<string, string> };
          spec: { containers: [Container]; serviceAccountName: string };
        };
      };
    };
  };
}
interface NetworkPolicyShape {
  spec: {
    podSelector: LabelSelector;
    ingress: [
      {
        from: [{ podSelector: LabelSelector; namespaceSelector: LabelSelector }];
        ports: [{ protocol: string; port: string | number }];
      },
    ];
  };
}

describe("schedule on the simulated management cluster", () => {
  let lab: HostedLab;
  let identity: string;
  let store: string;
  let storeDir: string;
  let args: string[];
  let objects: KubernetesObjectApi;

  before(async () => {
    lab = await startHostedLab();
    identity = await generateIdentity();
    // A volume the Job would mount there (file://): the test runs its command on this machine.
    storeDir = join(lab.work, "store");
    store = `file://${storeDir}`;
    args = ["schedule", "example", "-n", "clusters", "--to", store, "--cron", "*/30 * * * *"];
    args.push("--key-recipient", await identityToRecipient(identity), "--kubeconfig", lab.kubeconfig);
    objects = KubernetesObjectApi.makeApiClient(lab.api.config);
  });
  after(async () => {
    await lab?.stop();
  });

  // client-node hands back its model classes (`_from` for `from`); dumpYaml gives the wire form back.
  const read = async (o: Obj): Promise<Obj> =>
    yaml.load(
      dumpYaml(
        await objects.read({
          apiVersion: o.apiVersion,
          kind: o.kind,
          metadata: { name: o.metadata.name, namespace: o.metadata.namespace },
        }),
      ),
    ) as Obj;
  const strip = ({ metadata, status, ...rest }: Obj) => ({
    ...rest,
    metadata: { name: metadata.name, namespace: metadata.namespace, labels: metadata.labels },
  });

  it("--apply creates every rendered object, and applying again replaces them", async () => {
    const rendered = await runCli(args);
    assert.equal(rendered.code, 0, rendered.stderr);
    const docs = yaml.loadAll(rendered.stdout) as Obj[];
    const first = await runCli([...args, "--apply"]);
    assert.equal(first.code, 0, first.stderr);
    const line = (o: Obj, action: string) =>
      `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata.name} ${action}`;
    assert.deepEqual(
      first.stdout.trim().split("\n"),
      docs.map((o) => line(o, "created")),
    );
    for (const doc of docs) {
      const live = await read(doc);
      // What the rendering printed is what the cluster holds (the Secret names came from the HostedCluster).
      const { metadata: _, ...body } = strip(doc);
      assert.deepEqual(
        { ...strip(live), metadata: undefined },
        { ...body, metadata: undefined },
        `${doc.kind} ${doc.metadata.name}`,
      );
    }
    const again = await runCli([...args, "--apply"]);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(
      again.stdout.trim().split("\n"),
      docs.map((o) => line(o, "replaced")),
    );
  });

  it("the NetworkPolicy selects exactly the seeded etcd pods and admits the CronJob's pods from its namespace", async () => {
    const np = (await read({
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name: NAME, namespace: "clusters-example" },
    })) as unknown as NetworkPolicyShape;
    const pods = (await lab.api.listPods("clusters-example", "")).items;
    const selected = pods
      .filter((p) => selects(np.spec.podSelector, p.metadata?.labels ?? {}))
      .map((p) => p.metadata?.name);
    assert.deepEqual(selected.sort(), [...lab.sim.hostedCluster.etcdPods].sort());
    assert.ok(pods.length > selected.length, "the writers' pods are not selected");
    // The port by the name the etcd pods give it: a named port admits only pods that declare it.
    const [{ port }] = np.spec.ingress[0].ports;
    assert.equal(port, "client");
    for (const p of pods.filter((p) => selects(np.spec.podSelector, p.metadata?.labels ?? {}))) {
      const named = p.spec?.containers.flatMap((c) => c.ports ?? []).find((cp) => cp.name === port);
      assert.ok(named, `${p.metadata?.name} declares a port named ${port}`);
    }
    const cj = (await read({
      apiVersion: "batch/v1",
      kind: "CronJob",
      metadata: { name: NAME, namespace: "clusters" },
    })) as unknown as CronJobShape;
    const [peer] = np.spec.ingress[0].from;
    assert.ok(selects(peer.podSelector, cj.spec.jobTemplate.spec.template.metadata.labels));
    const jobNs = (await read({ apiVersion: "v1", kind: "Namespace", metadata: { name: "clusters" } })) as Obj;
    assert.ok(selects(peer.namespaceSelector, jobNs.metadata.labels ?? {}));
    const hcpNs = (await read({ apiVersion: "v1", kind: "Namespace", metadata: { name: "clusters-example" } })) as Obj;
    assert.ok(!selects(peer.namespaceSelector, hcpNs.metadata.labels ?? {}));
  });

  it("--all reads the fleet and each cluster's key Secret from the management cluster", async () => {
    const common = ["--to", store, "--cron", "@daily", "--no-key", "--kubeconfig", lab.kubeconfig];
    const inNs = await runCli(["schedule", "--all", "-n", "clusters", ...common]);
    assert.equal(inNs.code, 0, inNs.stderr);
    const docs = yaml.loadAll(inNs.stdout) as Obj[];
    assert.deepEqual(
      docs.filter((d) => d.kind === "NetworkPolicy").map((d) => d.metadata.namespace),
      ["clusters-example"],
    );
    const jobArgs = (docs.find((d) => d.kind === "CronJob") as unknown as CronJobShape).spec.jobTemplate.spec.template
      .spec.containers[0].args;
    assert.deepEqual(jobArgs.slice(2, 6), ["backup", "--all", "-n", "clusters"]);
    const withKey = await runCli([
      "schedule",
      "--all",
      "-A",
      "--job-namespace",
      "clusters",
      ...common.filter((a) => a !== "--no-key"),
      "--key-recipient",
      await identityToRecipient(identity),
    ]);
    assert.equal(withKey.code, 0, withKey.stderr);
    const roles = (yaml.loadAll(withKey.stdout) as Obj[]).filter((d) => d.kind === "Role");
    const hcRole = roles.find((r) => r.metadata.namespace === "clusters") as Obj;
    assert.deepEqual(hcRole.rules, [
      {
        apiGroups: [""],
        resources: ["secrets"],
        verbs: ["get"],
        resourceNames: [lab.sim.hostedCluster.encryptionKeySecret],
      },
    ]);
    const empty = await runCli(["schedule", "--all", "-n", "nowhere", ...common]);
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /no hosted cluster with managed etcd in nowhere: nothing to schedule/);
  });

  describe("the CronJob's command line, run as its Job runs it", () => {
    let root: string;
    let job: { command: string[]; args: string[]; env: Record<string, string> };
    let token: string;

    before(async () => {
      // Applied here too (create or replace), so these tests stand on their own.
      const applied = await runCli([...args, "--apply"]);
      assert.equal(applied.code, 0, applied.stderr);
      const cj = (await read({
        apiVersion: "batch/v1",
        kind: "CronJob",
        metadata: { name: NAME, namespace: "clusters" },
      })) as unknown as CronJobShape;
      const pod = cj.spec.jobTemplate.spec.template.spec;
      const [c] = pod.containers;
      // The pod's service account, as the kubelet mounts it; the emptyDir at /tmp, empty.
      root = await mkdtemp(join(tmpdir(), "hcpeb-incluster-"));
      const sa = join(root, "var/run/secrets/kubernetes.io/serviceaccount");
      await mkdir(sa, { recursive: true });
      token = lab.sim.api.serviceAccountToken("clusters", pod.serviceAccountName);
      await writeFile(join(sa, "token"), token);
      await writeFile(join(sa, "ca.crt"), lab.sim.api.caPem);
      await writeFile(join(sa, "namespace"), "clusters");
      await mkdir(join(root, "tmp"));
      const env: Record<string, string> = {};
      for (const e of c.env) {
        assert.equal(e.valueFrom, undefined, "no Secret in this variant");
        env[e.name] = (e.value as string).replace(SCRATCH_DIR, join(root, "tmp"));
      }
      job = { command: c.command, args: c.args, env };
    });
    after(async () => {
      await rm(root, { recursive: true, force: true });
    });

    const runJob = () => {
      assert.deepEqual(job.command, [IMAGE_BINARY]);
      return runCli([...job.args, "--endpoints", lab.etcd.endpoints.join(",")], {
        env: {
          ...job.env,
          KUBERNETES_SERVICE_HOST: "127.0.0.1",
          KUBERNETES_SERVICE_PORT: new URL(lab.sim.url).port,
          HCPEB_IN_CLUSTER_ROOT: root,
          KUBECONFIG: undefined,
        },
      });
    };

    it("backs up with the rendered RBAC and nothing more: JSON logs, online, verified, key sealed", async () => {
      const r = await runJob();
      assert.equal(r.code, 0, r.stderr);
      const events = r.stderr
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { msg: string; level: number });
      assert.ok(
        events.some((e) => e.msg === "manifest committed"),
        r.stderr,
      );
      // The rendered Role grants the EncryptionConfiguration Secret: no RBAC warning about it.
      assert.deepEqual(
        events.filter((e) => e.level >= 40),
        [],
      );
      // The Job's log (stdout and stderr together) is JSON lines only: the result is one JSON line too.
      const out = r.stdout.trimEnd().split("\n");
      assert.equal(out.length, 1, r.stdout);
      const result = JSON.parse(out[0] as string) as { ref: string; backupId: string };
      const [id] = await readdir(join(storeDir, "clusters", "example"));
      assert.equal(result.backupId, id);
      const folder = join(storeDir, "clusters", "example", id as string);
      const manifest = JSON.parse(await readFile(join(folder, "manifest.json"), "utf8"));
      assert.equal(manifest.mode, "online");
      assert.equal(manifest.label, "clusters/example");
      const key = await openKey(await readFile(join(folder, "encryption-key.age")), identity);
      assert.deepEqual(Buffer.from(key), lab.sim.hostedCluster.encryptionKey);
    });

    it("a Role rendered before the backup read the EncryptionConfiguration: the backup goes on and warns, naming the fix", async () => {
      const role = await read({
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "Role",
        metadata: { name: NAME, namespace: "clusters-example" },
      });
      const rules = role.rules as Array<{ resources: string[]; resourceNames?: string[] }>;
      assert.ok(
        rules.some((x) => x.resourceNames?.includes("kas-secret-encryption-config")),
        "granted as rendered",
      );
      const older = rules.map((x) => ({
        ...x,
        ...(x.resourceNames
          ? { resourceNames: x.resourceNames.filter((n) => n !== "kas-secret-encryption-config") }
          : {}),
      }));
      await objects.replace({ ...role, rules: older } as never);
      try {
        const r = await runJob();
        assert.equal(r.code, 0, r.stderr);
        const events = r.stderr
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l) as { msg: string; level: number; secret?: string });
        const warned = events.filter((e) => e.level === 40 && /EncryptionConfiguration/.test(e.msg));
        assert.equal(warned.length, 1, r.stderr);
        assert.match(warned[0]?.msg ?? "", /RBAC: .*render the schedule again/);
        assert.equal(warned[0]?.secret, "clusters-example/kas-secret-encryption-config");
        assert.ok(events.some((e) => e.msg === "manifest committed"));
      } finally {
        const current = await read(role);
        await objects.replace({
          ...role,
          metadata: {
            ...role.metadata,
            resourceVersion: (current.metadata as { resourceVersion?: string }).resourceVersion,
          },
        } as never);
      }
    });

    it("the simulator enforces RBAC: without the statefulsets rule the same Job fails with one line naming it", async () => {
      const role = await read({
        apiVersion: "rbac.authorization.k8s.io/v1",
        kind: "Role",
        metadata: { name: NAME, namespace: "clusters-example" },
      });
      const rules = role.rules as Array<{ resources: string[] }>;
      await objects.replace({ ...role, rules: rules.filter((x) => !x.resources.includes("statefulsets")) } as never);
      try {
        const r = await runJob();
        assert.equal(r.code, 1, r.stderr);
        const last = JSON.parse(r.stderr.trim().split("\n").at(-1) as string) as { msg: string };
        assert.match(last.msg, /not allowed to get statefulsets "etcd" in namespace clusters-example/);
      } finally {
        const current = await read(role);
        await objects.replace({
          ...role,
          metadata: {
            ...role.metadata,
            resourceVersion: (current.metadata as { resourceVersion?: string }).resourceVersion,
          },
        } as never);
      }
    });
  });
});
