import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { ApiException, CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { EtcdRestoreScenario } from "../../src/kubesim/etcd-restore.js";
import { KubeSim } from "../../src/kubesim/simulator.js";
import { EtcdCluster } from "../support/etcd-cluster.js";

const run = promisify(execFile);
const KUBECTL = process.env.HCPEB_KUBECTL ?? "kubectl";
const NS = "clusters-example";
const URL_WITH_SIGNATURE =
  "https://bucket.s3.us-east-1.amazonaws.com/snap.db?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=abc123";
const EXPIRED = `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>
`;

describe("kubesim pods/log: what kubectl logs and client-node read from an etcd-init container", () => {
  let etcd: EtcdCluster;
  let sim: KubeSim;
  let home: string;
  let kubeconfig: string;
  let core: CoreV1Api;

  before(async () => {
    etcd = await EtcdCluster.start({ members: 2 });
    sim = await KubeSim.start(etcd);
    kubeconfig = await sim.kubeconfig();
    home = await mkdtemp(join(tmpdir(), "hcpeb-kubectl-home-"));
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    core = kc.makeApiClient(CoreV1Api);
    const restore = new EtcdRestoreScenario(sim.api);
    restore.begin(URL_WITH_SIGNATURE);
    restore.crashLooping("etcd-0", EXPIRED);
  });
  after(async () => {
    await sim?.stop();
    await etcd?.stop();
    if (home) await rm(home, { recursive: true, force: true });
  });

  const kubectl = async (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    try {
      const r = await run(KUBECTL, [`--cache-dir=${join(home, "cache")}`, ...args], {
        env: { ...process.env, HOME: home, KUBECONFIG: kubeconfig },
        timeout: 60_000,
      });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (err) {
      const e = err as { code?: number | string; stdout?: string; stderr?: string };
      if (e.code === "ENOENT") throw new Error(`${KUBECTL} not found: make setup installs kubernetes-client`);
      return { code: typeof e.code === "number" ? e.code : 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
    }
  };

  it("kubectl logs -c etcd-init prints the crash-looping container's S3 error body", async () => {
    const r = await kubectl("logs", "-n", NS, "etcd-0", "-c", "etcd-init");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, EXPIRED);
    const tail = await kubectl("logs", "-n", NS, "etcd-0", "-c", "etcd-init", "--tail=1");
    assert.equal(tail.stdout, "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>\n");
  });

  it("kubectl get pods shows the restore as kubectl does: Init:CrashLoopBackOff with its restarts, Init:0/1", async () => {
    const r = await kubectl("get", "pods", "-n", NS, "-l", "app=etcd");
    assert.equal(r.code, 0, r.stderr);
    const rows = r.stdout
      .trim()
      .split("\n")
      .slice(1)
      .map((l) => l.split(/\s+/).slice(0, 4));
    assert.deepEqual(rows, [
      ["etcd-0", "0/1", "Init:CrashLoopBackOff", "1"],
      ["etcd-1", "0/1", "Init:0/1", "0"],
    ]);
  });

  it("kubectl logs names the server's 400 for an unknown container and for one still waiting to start", async () => {
    const unknown = await kubectl("logs", "-n", NS, "etcd-0", "-c", "bogus");
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /container bogus is not valid for pod etcd-0/);
    const waiting = await kubectl("logs", "-n", NS, "etcd-1", "-c", "etcd");
    assert.notEqual(waiting.code, 0);
    assert.match(waiting.stderr, /container "etcd" in pod "etcd-1" is waiting to start: PodInitializing/);
  });

  it("client-node readNamespacedPodLog returns the text; previous=true needs a terminated instance", async () => {
    const text = await core.readNamespacedPodLog({ namespace: NS, name: "etcd-0", container: "etcd-init" });
    assert.equal(text, EXPIRED);
    // etcd-0 waits in CrashLoopBackOff: its last instance is the one that failed.
    const previous = await core.readNamespacedPodLog({
      namespace: NS,
      name: "etcd-0",
      container: "etcd-init",
      previous: true,
    });
    assert.equal(previous, EXPIRED);
    await assert.rejects(
      core.readNamespacedPodLog({ namespace: NS, name: "etcd-1", container: "etcd-init", previous: true }),
      (err: unknown) =>
        err instanceof ApiException &&
        err.code === 400 &&
        /previous terminated container "etcd-init" in pod "etcd-1" not found/.test(statusMessage(err.body)),
    );
    // One container besides the init container: it is the default, and it has not started.
    await assert.rejects(
      core.readNamespacedPodLog({ namespace: NS, name: "etcd-0" }),
      (err: unknown) =>
        err instanceof ApiException &&
        err.code === 400 &&
        /container "etcd" in pod "etcd-0" is waiting to start: PodInitializing/.test(statusMessage(err.body)),
    );
  });

  it("discovery lists pods/log", async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    const list = await kc.makeApiClient(CoreV1Api).getAPIResources();
    assert.ok(list.resources.some((r) => r.name === "pods/log" && r.verbs.includes("get")));
  });
});

/** The message of a Status body, as client-node hands it over (a string or already parsed). */
function statusMessage(body: unknown): string {
  const parsed = typeof body === "string" ? (JSON.parse(body) as unknown) : body;
  return String((parsed as { message?: unknown } | null)?.message);
}
