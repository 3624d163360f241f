import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { KubeSim } from "../../src/kubesim/simulator.js";
import { EtcdCluster } from "../support/etcd-cluster.js";
import { waitFor } from "../support/wait.js";

const run = promisify(execFile);
// The Makefile installs Debian's kubernetes-client (kubectl 1.20) unless a kubectl is already on PATH;
// HCPEB_KUBECTL picks another one (the suite was also run with 1.32).
const KUBECTL = process.env.HCPEB_KUBECTL ?? "kubectl";

describe(`kubesim driven by the real kubectl (${KUBECTL})`, () => {
  let etcd: EtcdCluster;
  let sim: KubeSim;
  let home: string;
  let kubeconfig: string;

  before(async () => {
    etcd = await EtcdCluster.start({ members: 1 });
    sim = await KubeSim.start(etcd);
    kubeconfig = await sim.kubeconfig();
    home = await mkdtemp(join(tmpdir(), "hcpeb-kubectl-home-"));
  });
  after(async () => {
    await sim?.stop();
    await etcd?.stop();
    if (home) await rm(home, { recursive: true, force: true });
  });

  const env = (): NodeJS.ProcessEnv => ({ ...process.env, HOME: home, KUBECONFIG: kubeconfig });
  const kubectl = async (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    try {
      const r = await run(KUBECTL, [`--cache-dir=${join(home, "cache")}`, ...args], { env: env(), timeout: 60_000 });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (err) {
      const e = err as { code?: number | string; stdout?: string; stderr?: string };
      if (e.code === "ENOENT") throw new Error(`${KUBECTL} not found: make setup installs kubernetes-client`);
      return { code: typeof e.code === "number" ? e.code : 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
    }
  };

  it("gets HostedClusters as JSON and pods by label", async () => {
    const r = await kubectl("get", "hostedclusters", "-n", "clusters", "-o", "json");
    assert.equal(r.code, 0, r.stderr);
    const list = JSON.parse(r.stdout) as {
      items: Array<{ metadata: { name: string }; spec: { secretEncryption: unknown } }>;
    };
    assert.deepEqual(
      list.items.map((i) => i.metadata.name),
      ["example"],
    );
    assert.deepEqual(list.items[0]?.spec.secretEncryption, {
      type: "aescbc",
      aescbc: { activeKey: { name: "example-etcd-encryption-key" } },
    });
    const pods = await kubectl("get", "pods", "-n", "clusters-example", "-l", "app=kube-apiserver");
    assert.equal(pods.code, 0, pods.stderr);
    const lines = pods.stdout.trim().split("\n");
    assert.match(lines[0] ?? "", /^NAME\s+READY\s+STATUS/);
    assert.equal(lines.length, 4);
    for (const l of lines.slice(1)) assert.match(l, /^kube-apiserver-\S+\s+1\/1\s+Running/);
  });

  it("patches pausedUntil with a merge patch, removes it with null, and shows the 422 for an empty string", async () => {
    const patchHc = (json: string): ReturnType<typeof kubectl> =>
      kubectl("patch", "hostedcluster", "example", "-n", "clusters", "--type", "merge", "-p", json);
    try {
      const set = await patchHc('{"spec":{"pausedUntil":"2099-01-01T00:00:00Z"}}');
      assert.equal(set.code, 0, set.stderr);
      assert.match(set.stdout, /hostedcluster\.hypershift\.openshift\.io\/example patched/);
      const got = await kubectl("get", "hc", "example", "-n", "clusters", "-o", "jsonpath={.spec.pausedUntil}");
      assert.equal(got.stdout, "2099-01-01T00:00:00Z");
      const empty = await patchHc('{"spec":{"pausedUntil":""}}');
      assert.notEqual(empty.code, 0);
      // kubectl renders the Status causes one a line, as it does for a real server.
      assert.match(empty.stderr, /The HostedCluster "example" is invalid/);
      assert.match(
        empty.stderr,
        /spec\.pausedUntil: Invalid value: "": spec\.pausedUntil in body should be at least 4 chars long/,
      );
      assert.match(empty.stderr, /PausedUntil must be a date in RFC3339 format/);
      const unset = await patchHc('{"spec":{"pausedUntil":null}}');
      assert.equal(unset.code, 0, unset.stderr);
      const after = await kubectl("get", "hc", "example", "-n", "clusters", "-o", "json");
      assert.equal("pausedUntil" in (JSON.parse(after.stdout) as { spec: object }).spec, false);
    } finally {
      await patchHc('{"spec":{"pausedUntil":null}}');
    }
  });

  it("scales a writer to 0; the control-plane operator puts it back when not paused", async () => {
    const r = await kubectl("scale", "deployment", "kube-apiserver", "-n", "clusters-example", "--replicas=0");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /deployment\.apps\/kube-apiserver scaled/);
    await waitFor("kube-apiserver back at 3", async () => {
      const g = await kubectl(
        "get",
        "deployment",
        "kube-apiserver",
        "-n",
        "clusters-example",
        "-o",
        "jsonpath={.spec.replicas}/{.status.readyReplicas}",
      );
      return g.stdout === "3/3" ? true : undefined;
    });
  });

  it("sees a watch event with get --watch", async () => {
    let child: ChildProcess | undefined;
    try {
      child = spawn(
        KUBECTL,
        [`--cache-dir=${join(home, "cache")}`, "get", "configmaps", "-n", "clusters", "--watch", "-o", "name"],
        {
          env: env(),
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      let out = "";
      child.stdout?.on("data", (d: Buffer) => {
        out += d.toString();
      });
      // kubectl lists first, then watches: wait until the watch is open before creating the object.
      await waitFor("kubectl's watch to open", () => (sim.api.openWatches > 0 ? true : undefined));
      const created = await kubectl("create", "configmap", "watched", "-n", "clusters", "--from-literal=a=b");
      assert.equal(created.code, 0, created.stderr);
      await waitFor("the watch to print configmap/watched", () =>
        out.includes("configmap/watched") ? true : undefined,
      );
    } finally {
      if (child?.pid !== undefined && child.exitCode === null) child.kill("SIGTERM");
    }
  });
});
