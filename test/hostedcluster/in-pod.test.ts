// The backup as the `schedule` CronJob runs it in a pod of the management cluster: credentials from
// the service-account files (no kubeconfig), `KUBERNETES_SERVICE_HOST`/`PORT`, and etcd reached at
// each pod's IP on the pod network — members on 127.0.0.2, .3, .4, one port for all, as the pods'
// IPs in the simulator — with TLS checked against each member's DNS name, never the IP. The command
// line is the rendered CronJob's, not retyped.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { dumpYaml, KubernetesObjectApi } from "@kubernetes/client-node";
import yaml from "js-yaml";
import { DEFAULT_WRITERS, etcdCertificateNames } from "../../src/hostedcluster/names.js";
import { IMAGE_BINARY, SCRATCH_DIR } from "../../src/schedule/manifests.js";
import { runCli } from "../support/cli.js";
import { clusterState, type HostedLab, ORIGINAL_STATE, startHostedLab } from "../support/hosted.js";

const POD_IPS = ["127.0.0.2", "127.0.0.3", "127.0.0.4"];
const HCP_NS = "clusters-example";
const NAME = "hcp-etcd-backup-example";

interface Container {
  command: string[];
  args: string[];
  env: Array<{ name: string; value?: string; valueFrom?: unknown }>;
}
interface CronJobShape {
  spec: { jobTemplate: { spec: { template: { spec: { containers: [Container]; serviceAccountName: string } } } } };
}
interface LogEvent {
  msg: string;
  how?: string;
  endpoints?: string[];
}

/**
 * A lab whose etcd pods live on the pod network, `schedule --apply`'d into it, and a function that
 * runs the CronJob's container as its pod would: the token, CA and namespace files where the kubelet
 * mounts them (under a temp root the tool is pointed at), the container's env, the API server's address.
 */
async function podLab(certificate: { serverNames: string[]; serverIPs?: string[] }) {
  const lab = await startHostedLab({ etcd: { clientHosts: POD_IPS, ...certificate } });
  const root = await mkdtemp(join(tmpdir(), "hcpeb-in-pod-"));
  try {
    const store = join(lab.work, "store");
    const scheduled = await runCli([
      "schedule",
      "example",
      "-n",
      "clusters",
      "--to",
      `file://${store}`,
      "--cron",
      "@daily",
      "--no-key",
      "--kubeconfig",
      lab.kubeconfig,
      "--apply",
    ]);
    assert.equal(scheduled.code, 0, scheduled.stderr);
    const objects = KubernetesObjectApi.makeApiClient(lab.api.config);
    const live = await objects.read({
      apiVersion: "batch/v1",
      kind: "CronJob",
      metadata: { name: NAME, namespace: "clusters" },
    });
    const cj = yaml.load(dumpYaml(live)) as CronJobShape;
    const pod = cj.spec.jobTemplate.spec.template.spec;
    const [c] = pod.containers;
    assert.deepEqual(c.command, [IMAGE_BINARY]);
    const sa = join(root, "var/run/secrets/kubernetes.io/serviceaccount");
    await mkdir(sa, { recursive: true });
    await writeFile(join(sa, "token"), lab.sim.api.serviceAccountToken("clusters", pod.serviceAccountName));
    await writeFile(join(sa, "ca.crt"), lab.sim.api.caPem);
    await writeFile(join(sa, "namespace"), "clusters");
    await mkdir(join(root, "tmp"));
    const env: Record<string, string> = {};
    for (const e of c.env) {
      assert.equal(e.valueFrom, undefined, "no Secret in this variant");
      env[e.name] = (e.value as string).replace(SCRATCH_DIR, join(root, "tmp"));
    }
    const runJob = () =>
      runCli(c.args, {
        env: {
          ...env,
          KUBERNETES_SERVICE_HOST: "127.0.0.1",
          KUBERNETES_SERVICE_PORT: new URL(lab.sim.url).port,
          HCPEB_IN_CLUSTER_ROOT: root,
          KUBECONFIG: undefined,
          HOME: root,
        },
      });
    return {
      lab,
      store,
      runJob,
      async stop() {
        await lab.stop();
        await rm(root, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await lab.stop();
    await rm(root, { recursive: true, force: true });
    throw err;
  }
}

/** The resourceVersions of what a backup could change: the HostedCluster and each writer. */
async function versions(lab: HostedLab): Promise<Record<string, string | undefined>> {
  const hc = (await lab.api.getHostedCluster("clusters", "example")) as { metadata: { resourceVersion?: string } };
  const out: Record<string, string | undefined> = { hostedcluster: hc.metadata.resourceVersion };
  for (const w of DEFAULT_WRITERS) out[w] = (await lab.api.getDeploymentScale(HCP_NS, w)).metadata?.resourceVersion;
  return out;
}

const events = (stderr: string): LogEvent[] =>
  stderr
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as LogEvent);

describe("the scheduled backup in a pod: service-account credentials, etcd by pod IP", () => {
  describe("HyperShift's certificates (member names, no IPs but 127.0.0.1)", () => {
    let pod: Awaited<ReturnType<typeof podLab>>;
    before(async () => {
      pod = await podLab({ serverNames: etcdCertificateNames(HCP_NS) });
    });
    after(async () => {
      await pod?.stop();
    });

    it("the simulator shows each member at its own pod IP, one client port for all", async () => {
      const pods = (await pod.lab.api.listPods(HCP_NS, "app=etcd")).items;
      assert.deepEqual(pods.map((p) => p.status?.podIP).sort(), POD_IPS);
      const port = new URL(pod.lab.etcd.endpoint(0)).port;
      assert.notEqual(port, "2379", "a free port, so a tool that assumed 2379 would miss it");
      assert.deepEqual(
        pod.lab.etcd.endpoints,
        POD_IPS.map((ip) => `https://${ip}:${port}`),
      );
    });

    it("the CronJob's command backs up online through the pod network, verified, and the cluster is untouched", async () => {
      const before = await versions(pod.lab);
      const r = await pod.runJob();
      assert.equal(r.code, 0, r.stderr);
      const log = events(r.stderr);
      const reached = log.find((e) => e.msg === "etcd reachable");
      assert.equal(reached?.how, "pod-network", r.stderr);
      assert.deepEqual(reached?.endpoints?.slice().sort(), pod.lab.etcd.endpoints);
      assert.ok(
        log.some((e) => e.msg === "manifest committed"),
        r.stderr,
      );
      const result = JSON.parse(r.stdout.trim()) as { ref: string; backupId: string; mode?: string };
      const manifest = JSON.parse(
        await readFile(join(pod.store, "clusters", "example", result.backupId, "manifest.json"), "utf8"),
      ) as { mode: string; label: string; source: { endpoints: string[] } };
      assert.equal(manifest.mode, "online");
      assert.deepEqual(manifest.source.endpoints.slice().sort(), pod.lab.etcd.endpoints);
      assert.equal(manifest.label, "clusters/example");
      // Read back from the store and proven again, by the same CLI.
      const verified = await runCli(["verify", result.ref]);
      assert.equal(verified.code, 0, verified.stderr + verified.stdout);
      // Online: nothing was written to the HostedCluster or the writers (no lock, no pause, no scaling).
      assert.deepEqual(await versions(pod.lab), before);
      assert.deepEqual(await clusterState(pod.lab), ORIGINAL_STATE);
    });
  });

  describe("certificates that name only the members' IPs", () => {
    let pod: Awaited<ReturnType<typeof podLab>>;
    before(async () => {
      pod = await podLab({ serverNames: [], serverIPs: ["127.0.0.1", ...POD_IPS] });
    });
    after(async () => {
      await pod?.stop();
    });

    it("are refused: the tool checks the member's name, not the address it dialled", async () => {
      const r = await pod.runJob();
      assert.equal(r.code, 1, r.stderr);
      const last = events(r.stderr).at(-1);
      assert.match(
        last?.msg ?? "",
        /https:\/\/127\.0\.0\.[2-4]:\d+: the server certificate does not name etcd-[0-2]\.etcd-discovery\.clusters-example\.svc \(the name checked/,
        r.stderr,
      );
      // Refused before anything changed, or resumed: either way the cluster is as it was.
      assert.deepEqual(await clusterState(pod.lab), ORIGINAL_STATE);
    });
  });
});
