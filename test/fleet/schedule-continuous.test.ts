// `schedule --continuous` against the Kubernetes API simulator: the Deployment and its Lease applied,
// then the Deployment's own command line run as its pod runs it (in-cluster service-account
// credentials, RBAC enforced by the simulator, a real etcd behind it): it holds the Lease and writes
// a chain; a second copy refuses in one line naming the holder; re-applying keeps the Lease.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { dumpYaml, KubernetesObjectApi } from "@kubernetes/client-node";
import { generateIdentity, identityToRecipient } from "age-encryption";
import yaml from "js-yaml";
import { readChain } from "../../src/continuous/chain.js";
import { CHAIN_LEASE_NAME } from "../../src/hostedcluster/names.js";
import { IMAGE_BINARY, SCRATCH_DIR } from "../../src/schedule/manifests.js";
import { readCatalog } from "../../src/store/catalog.js";
import { openStore } from "../../src/store/open-store.js";
import { type RunningCli, runCli, spawnCli } from "../support/cli.js";
import { type HostedLab, startHostedLab } from "../support/hosted.js";
import { waitFor } from "../support/wait.js";

const NAME = "hcp-etcd-backup-example";
const HCP = "clusters-example";
type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } } & Record<
  string,
  unknown
>;
interface DeploymentShape {
  spec: {
    replicas: number;
    strategy: { type: string };
    template: {
      spec: {
        restartPolicy: string;
        serviceAccountName: string;
        containers: [{ command: string[]; args: string[]; env: Array<{ name: string; value?: string }> }];
      };
    };
  };
}

describe("schedule --continuous on the simulated management cluster", () => {
  let lab: HostedLab;
  let args: string[];
  let storeDir: string;
  let objects: KubernetesObjectApi;
  let root: string;
  const running: RunningCli[] = [];

  before(async () => {
    lab = await startHostedLab({ dataBytes: 256 * 1024 });
    storeDir = join(lab.work, "store");
    await mkdir(storeDir);
    const recipient = await identityToRecipient(await generateIdentity());
    args = ["schedule", "example", "-n", "clusters", "--to", `file://${storeDir}`, "--continuous", "--segment", "1s"];
    args.push("--key-recipient", recipient, "--kubeconfig", lab.kubeconfig);
    objects = KubernetesObjectApi.makeApiClient(lab.api.config);
    root = await mkdtemp(join(tmpdir(), "hcpeb-incluster-"));
  });
  after(async () => {
    for (const r of running) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill("SIGKILL");
    await Promise.all(running.map((r) => r.exited));
    if (root) await rm(root, { recursive: true, force: true });
    await lab?.stop();
  });

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
  const line = (o: Obj, action: string) =>
    `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata.name} ${action}`;

  /** The Deployment's container, run on this machine as its pod would run it. */
  const startPod = async (): Promise<RunningCli> => {
    const d = (await read({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: NAME, namespace: "clusters" },
    })) as unknown as DeploymentShape;
    const pod = d.spec.template.spec;
    const [c] = pod.containers;
    assert.deepEqual(c.command, [IMAGE_BINARY]);
    const sa = join(root, "var/run/secrets/kubernetes.io/serviceaccount");
    await mkdir(sa, { recursive: true });
    await writeFile(join(sa, "token"), lab.sim.api.serviceAccountToken("clusters", pod.serviceAccountName));
    await writeFile(join(sa, "ca.crt"), lab.sim.api.caPem);
    await writeFile(join(sa, "namespace"), "clusters");
    await mkdir(join(root, "tmp"), { recursive: true });
    const env: Record<string, string> = {};
    for (const e of c.env) env[e.name] = (e.value as string).replace(SCRATCH_DIR, join(root, "tmp"));
    const run = spawnCli([...c.args, "--endpoints", lab.etcd.endpoints.join(",")], {
      env: {
        ...env,
        KUBERNETES_SERVICE_HOST: "127.0.0.1",
        KUBERNETES_SERVICE_PORT: new URL(lab.sim.url).port,
        HCPEB_IN_CLUSTER_ROOT: root,
        KUBECONFIG: undefined,
      },
    });
    running.push(run);
    return run;
  };

  it("--apply creates the Deployment (one replica, Recreate, restarted) and its Lease, with the CronJob's RBAC and NetworkPolicy", async () => {
    const rendered = await runCli(args);
    assert.equal(rendered.code, 0, rendered.stderr);
    const docs = yaml.loadAll(rendered.stdout) as Obj[];
    assert.deepEqual(
      docs.map((d) => d.kind),
      ["ServiceAccount", "Role", "RoleBinding", "Role", "RoleBinding", "NetworkPolicy", "Lease", "Deployment"],
    );
    const first = await runCli([...args, "--apply"]);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(
      first.stdout.trim().split("\n"),
      docs.map((o) => line(o, "created")),
    );
    const d = (await read(docs.at(-1) as Obj)) as unknown as DeploymentShape;
    assert.equal(d.spec.replicas, 1);
    assert.equal(d.spec.strategy.type, "Recreate");
    assert.equal(d.spec.template.spec.restartPolicy, "Always");
    assert.ok(d.spec.template.spec.containers[0].args.includes("--continuous"));
  });

  it("the pod holds the Lease and writes a chain; a second copy refuses naming the holder; re-applying keeps the Lease", async () => {
    const pod = await startPod();
    const store = openStore(storeDir);
    const backup = await waitFor(
      "the full backup",
      async () => (await readCatalog(store, { label: "clusters/example" })).backups[0],
      60_000,
    );
    const client = await lab.etcd.client(0);
    let written: number;
    try {
      written = await client.put("continuous/marker", "followed");
    } finally {
      client.close();
    }
    await waitFor(
      "a segment past the marker",
      async () => {
        const chain = await readChain(store, backup.folder, backup.manifest.snapshot.revision);
        return chain.contiguousTo >= written ? chain : undefined;
      },
      30_000,
    );
    const held = await lab.api.readLease(HCP, CHAIN_LEASE_NAME);
    const holder = held?.spec?.holderIdentity;
    assert.match(holder ?? "", new RegExp(`/${pod.child.pid}$`), "the pod's process holds the Lease");

    const second = await startPod();
    const { code } = await second.exited;
    assert.equal(code, 1, second.stderr());
    const last = JSON.parse(second.stderr().trim().split("\n").at(-1) as string) as { msg: string };
    assert.match(last.msg, new RegExp(`Lease ${HCP}/${CHAIN_LEASE_NAME} is held by ${holder?.replace("/", "\\/")} `));
    assert.equal(second.stdout(), "", "the second copy wrote nothing");

    const again = await runCli([...args, "--apply"]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`^Lease ${HCP}/${CHAIN_LEASE_NAME} kept$`, "m"));
    assert.equal((await lab.api.readLease(HCP, CHAIN_LEASE_NAME))?.spec?.holderIdentity, holder);

    pod.child.kill("SIGTERM");
    const stopped = await pod.exited;
    assert.equal(stopped.code, 143, pod.stderr());
    // The pod's log is JSON lines only: the full backup and each segment are one JSON object each.
    const events = pod
      .stdout()
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { event: string });
    assert.equal(events[0]?.event, "full-backup");
    assert.ok(events.some((e) => e.event === "segment"));
    for (const l of pod.stderr().trim().split("\n")) JSON.parse(l);
    assert.equal((await lab.api.readLease(HCP, CHAIN_LEASE_NAME))?.spec?.holderIdentity, undefined, "released on exit");
  });
});
