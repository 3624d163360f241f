// `get -A` and `diff` without a resource read a snapshot's objects as a stream: sorted onto disk with
// their values in runs of a bounded size, merged back in key order. Here the sort's memory is a few
// KiB so a real etcd snapshot of a few hundred objects makes many runs, rewrites and deletions land
// in different runs, and some values are larger than the sort's memory (runs of their own).
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import yaml from "js-yaml";
import { diffObjects } from "../../src/kubeobjects/object-diff.js";
import { type FoundObject, type ObjectStream, streamObjects } from "../../src/kubeobjects/read-objects.js";
import { resolveResource } from "../../src/kubeobjects/resources.js";
import { runCli } from "../support/cli.js";
import { EtcdCluster } from "../support/etcd-cluster.js";
import { etcdctl } from "../support/etcdctl.js";
import { protobufValue } from "../support/kube-values.js";

const SORT_MEMORY = 4096;
const NAMESPACES = ["alpha", "beta", "gamma"];

const keyOf = (ns: string, name: string) => `/kubernetes.io/configmaps/${ns}/${name}`;
const configMap = (ns: string, name: string, mode: string) =>
  protobufValue("v1", "ConfigMap", { metadata: { name, namespace: ns, uid: `uid-${name}` }, data: { mode } });

/** What the test wrote, key -> the ConfigMap's data.mode: the expectation, kept apart from the code under test. */
type Expected = Map<string, string>;

describe("get -A and diff stream a real snapshot's objects in key order with bounded memory", () => {
  let etcd: EtcdCluster;
  let dir: string;
  let snapA: string;
  let snapB: string;
  const atA: Expected = new Map();
  const atB: Expected = new Map();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "hcpeb-stream-"));
    etcd = await EtcdCluster.start({ members: 1 });
    const client = await etcd.client(0);
    const put = async (live: Expected, ns: string, name: string, mode: string) => {
      await client.put(keyOf(ns, name), configMap(ns, name, mode));
      live.set(keyOf(ns, name), mode);
    };
    try {
      // Written in an order unrelated to key order; `cm-1` is a prefix of `cm-10`..`cm-19`.
      for (let i = 199; i >= 0; i--) await put(atA, NAMESPACES[i % 3] as string, `cm-${i}`, `v1-${i}`);
      // Larger than the sort's memory: each is a run of its own.
      for (const ns of NAMESPACES) await put(atA, ns, "big", `big-${ns}-${"x".repeat(3 * SORT_MEMORY)}`);
      // Rewritten later (a later run must win) and deleted (a tombstone in a later run must win).
      for (let i = 0; i < 200; i += 7) await put(atA, NAMESPACES[i % 3] as string, `cm-${i}`, `v2-${i}`);
      for (let i = 3; i < 200; i += 11) {
        const ns = NAMESPACES[i % 3] as string;
        await client.delete(keyOf(ns, `cm-${i}`));
        atA.delete(keyOf(ns, `cm-${i}`));
      }
      snapA = join(dir, "a.db");
      await etcdctl(etcd, ["snapshot", "save", snapA]);
      for (const [k, v] of atA) atB.set(k, v);
      // Between the two snapshots: some changed, some removed, some added.
      for (let i = 1; i < 200; i += 13) await put(atB, NAMESPACES[i % 3] as string, `cm-${i}`, `v3-${i}`);
      for (let i = 5; i < 200; i += 17) {
        const ns = NAMESPACES[i % 3] as string;
        await client.delete(keyOf(ns, `cm-${i}`));
        atB.delete(keyOf(ns, `cm-${i}`));
      }
      for (let i = 200; i < 230; i++) await put(atB, NAMESPACES[i % 3] as string, `cm-${i}`, `new-${i}`);
      snapB = join(dir, "b.db");
      await etcdctl(etcd, ["snapshot", "save", snapB]);
    } finally {
      client.close();
    }
  });
  after(async () => {
    await etcd?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const open = (snapshot: string, q: { namespace?: string; name?: string; resource?: boolean } = {}) =>
    streamObjects(
      snapshot,
      {
        ...(q.resource === false ? {} : { resource: resolveResource("configmaps") }),
        etcdPrefix: "/kubernetes.io",
        ...(q.namespace !== undefined ? { namespace: q.namespace } : {}),
        ...(q.name !== undefined ? { name: q.name } : {}),
      },
      { scratchDir: dir, memoryBytes: SORT_MEMORY },
    );

  const modeOf = (f: FoundObject) => (f.object.data as { mode: string }).mode;

  it("every namespace: each live object once, in etcd's key order, with its latest value", async () => {
    for (const resource of [true, false]) {
      const s = await open(snapA, { resource });
      try {
        const got = [...s.objects()];
        const keys = [...atA.keys()].sort();
        assert.deepEqual(
          got.map((f) => f.key),
          keys,
        );
        for (const f of got) assert.equal(modeOf(f), atA.get(f.key), f.key);
        // A second pass reads the same runs again (get checks every value before printing).
        assert.equal([...s.objects()].length, keys.length);
      } finally {
        await s.dispose();
      }
    }
    assert.deepEqual(
      (await readdir(dir)).filter((f) => f.startsWith("hcpeb-objects-")),
      [],
      "the runs are removed",
    );
  });

  it("one namespace, and one name that is a prefix of others", async () => {
    const ns = await open(snapA, { namespace: "beta" });
    try {
      const expected = [...atA.keys()].filter((k) => k.startsWith("/kubernetes.io/configmaps/beta/")).sort();
      assert.deepEqual(
        [...ns.objects()].map((f) => f.key),
        expected,
      );
    } finally {
      await ns.dispose();
    }
    const one = await open(snapA, { namespace: "beta", name: "cm-1" });
    try {
      const got = [...one.objects()];
      assert.deepEqual(
        got.map((f) => f.key),
        [keyOf("beta", "cm-1")],
      );
      assert.equal(modeOf(got[0] as FoundObject), atA.get(keyOf("beta", "cm-1")));
    } finally {
      await one.dispose();
    }
  });

  it("diff walks both streams side by side: added, removed and changed as written between the snapshots", async () => {
    const streams: ObjectStream[] = [await open(snapA, { resource: false }), await open(snapB, { resource: false })];
    try {
      const d = diffObjects((streams[0] as ObjectStream).objects(), (streams[1] as ObjectStream).objects());
      const sorted = (xs: Iterable<string>) => [...xs].sort();
      assert.deepEqual(
        d.added.map((o) => o.key),
        sorted([...atB.keys()].filter((k) => !atA.has(k))),
      );
      assert.deepEqual(
        d.removed.map((o) => o.key),
        sorted([...atA.keys()].filter((k) => !atB.has(k))),
      );
      const changed = sorted([...atB.keys()].filter((k) => atA.has(k) && atA.get(k) !== atB.get(k)));
      assert.deepEqual(
        d.changed.map((o) => o.key),
        changed,
      );
      assert.ok(changed.length > 5 && d.added.length >= 30 && d.removed.length > 5, `${changed.length} changed`);
      for (const c of d.changed) assert.deepEqual(c.fields.map((f) => f.path).sort(), ["data.mode"]);
      assert.equal(d.unchanged, [...atB.keys()].filter((k) => atA.get(k) === atB.get(k)).length);
    } finally {
      for (const s of streams) await s.dispose();
    }
  });

  it("the CLI prints the List item by item exactly as one dump of the whole List (yaml, json, one-line json)", async () => {
    const s = await open(snapB, { resource: true });
    let items: unknown[];
    try {
      items = [...s.objects()].map((f) => f.object);
    } finally {
      await s.dispose();
    }
    const list = { apiVersion: "v1", kind: "List", items, metadata: {} };
    const y = await runCli(["get", snapB, "configmaps", "-A"]);
    assert.equal(y.code, 0, y.stderr);
    assert.equal(y.stdout, yaml.dump(list, { noRefs: true, lineWidth: -1 }));
    const j = await runCli(["get", snapB, "configmaps", "-A", "-o", "json"]);
    assert.equal(j.code, 0, j.stderr);
    assert.equal(j.stdout, `${JSON.stringify(list, null, 2)}\n`);
    const line = await runCli(["get", snapB, "configmaps", "-A", "-o", "json", "--log-format", "json"]);
    assert.equal(line.code, 0, line.stderr);
    assert.equal(line.stdout, `${JSON.stringify(list)}\n`);
    const none = await runCli(["get", snapB, "configmaps", "-n", "nowhere", "-o", "json"]);
    assert.equal(none.code, 0, none.stderr);
    assert.deepEqual(JSON.parse(none.stdout), { apiVersion: "v1", kind: "List", items: [], metadata: {} });
  });

  it("diff without a resource from the CLI agrees with the expectation (exit 1: changes)", async () => {
    const r = await runCli(["diff", snapA, snapB, "-o", "json"]);
    assert.equal(r.code, 1, r.stderr);
    const d = JSON.parse(r.stdout) as { added: unknown[]; removed: unknown[]; changed: unknown[] };
    assert.equal(d.added.length, [...atB.keys()].filter((k) => !atA.has(k)).length);
    assert.equal(d.removed.length, [...atA.keys()].filter((k) => !atB.has(k)).length);
  });
});
