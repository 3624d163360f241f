// `get` of a List and `diff` decode and print on a worker thread with a small young generation, its
// output reaching stdout through a ring of shared slots with back-pressure. Against a real etcd
// snapshot whose output is many times the ring and the pipe's buffer: the thread is the one that
// printed (it says so, with its heap limit), every byte arrives in order (multi-byte UTF-8 split
// across slots), an object that cannot be opened in the middle of the List still fails with one
// line and nothing printed, and a reader that stops early (`| head -1`) ends the command cleanly.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import yaml from "js-yaml";
import { aescbcKeyName } from "../../src/hostedcluster/encryption-key.js";
import { CLI, runCli, runProcess } from "../support/cli.js";
import { EtcdCluster } from "../support/etcd-cluster.js";
import { etcdctl } from "../support/etcdctl.js";
import { encrypted, protobufValue } from "../support/kube-values.js";

const CONFIGMAPS = 400;
// 6 KB of text per ConfigMap with characters of 1 to 4 bytes in UTF-8: slots end mid-text.
const textOf = (i: number) => `${i}:${"añ€😀".repeat(600)}`;
/** The ring the output goes through: 4 slots of 64 KiB. */
const RING_BYTES = 4 * 64 * 1024;
const nameOf = (i: number) => `cm-${String(i).padStart(4, "0")}`;

describe("get -A and diff print on a worker thread, through a flow-controlled ring to stdout", () => {
  let etcd: EtcdCluster;
  let dir: string;
  let snapshot: string;
  let keyFile: string;
  const given = randomBytes(32);
  const other = randomBytes(32);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "hcpeb-print-thread-"));
    etcd = await EtcdCluster.start({ members: 1 });
    const client = await etcd.client(0);
    try {
      for (let i = 0; i < CONFIGMAPS; i++)
        await client.put(
          `/kubernetes.io/configmaps/apps/${nameOf(i)}`,
          protobufValue("v1", "ConfigMap", {
            metadata: { name: nameOf(i), namespace: "apps" },
            data: { text: textOf(i) },
          }),
        );
      const secret = (ns: string, name: string, key: Buffer) =>
        client.put(
          `/kubernetes.io/secrets/${ns}/${name}`,
          encrypted(
            key,
            protobufValue("v1", "Secret", {
              metadata: { name, namespace: ns },
              data: { password: Buffer.from(name) },
              type: "Opaque",
            }),
          ),
        );
      // In key order: opened, opened, one under a key not given (in the middle), opened.
      for (const ns of ["ns-a", "ns-b"]) for (let i = 0; i < 20; i++) await secret(ns, `s-${i}`, given);
      await secret("ns-m", "mid", other);
      for (let i = 0; i < 20; i++) await secret("ns-z", `s-${i}`, given);
    } finally {
      client.close();
    }
    snapshot = join(dir, "snapshot.db");
    await etcdctl(etcd, ["snapshot", "save", snapshot]);
    keyFile = join(dir, "given.key");
    await writeFile(keyFile, given, { mode: 0o600 });
  });
  after(async () => {
    await etcd?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("the List is printed by a worker thread with a small young generation, every byte in order", async () => {
    const r = await runCli(["get", snapshot, "configmaps", "-A", "-o", "json", "--log-level", "debug"], {
      timeoutMs: 300_000,
    });
    assert.equal(r.code, 0, r.stderr);
    const started = /printing the objects on a worker thread threadId=(\d+) maxYoungGenerationSizeMb=(\d+)/.exec(
      r.stderr,
    );
    assert.ok(started, r.stderr);
    assert.ok(Number(started[1]) > 0, "not the main thread");
    assert.ok(Number(started[2]) <= 8, `young generation of ${started[2]} MiB`);
    assert.ok(Buffer.byteLength(r.stdout) > 4 * RING_BYTES, "the output is many times the ring");
    const list = JSON.parse(r.stdout) as { items: { metadata: { name: string }; data: { text: string } }[] };
    assert.equal(list.items.length, CONFIGMAPS);
    list.items.forEach((item, i) => {
      assert.equal(item.metadata.name, nameOf(i));
      assert.equal(item.data.text, textOf(i));
    });
    const y = await runCli(["get", snapshot, "configmaps", "-A"], { timeoutMs: 300_000 });
    assert.equal(y.code, 0, y.stderr);
    assert.equal(y.stdout, yaml.dump({ ...list, metadata: {} }, { noRefs: true, lineWidth: -1 }));
  });

  it("diff compares on a worker thread too (same snapshot: exit 0, every object unchanged)", async () => {
    const r = await runCli(["diff", snapshot, snapshot, "configmaps", "--log-level", "debug"], { timeoutMs: 300_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /comparing the objects on a worker thread threadId=[1-9]\d* maxYoungGenerationSizeMb=\d+/);
    assert.equal(r.stdout, `0 added, 0 removed, 0 changed, ${CONFIGMAPS} unchanged\n`);
  });

  it("a value no key opens in the middle of the List: one line naming it, exit 1 (diff: 2), nothing printed", async () => {
    for (const format of ["yaml", "json"]) {
      const r = await runCli(["get", snapshot, "secrets", "-A", "--key-file", keyFile, "-o", format]);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stdout, "");
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(`/kubernetes.io/secrets/ns-m/mid: encrypted with aescbc key ${aescbcKeyName(other)}`),
      );
      assert.doesNotMatch(r.stderr, /at .*\.js|unexpected error/);
    }
    const d = await runCli(["diff", snapshot, snapshot, "secrets", "--key-file", keyFile]);
    assert.equal(d.code, 2, d.stderr);
    assert.equal(d.stdout, "");
    assert.equal(d.stderr.trim().split("\n").length, 1, d.stderr);
    assert.match(d.stderr, /ns-m\/mid/);
  });

  it("`| head -1` takes the first line and the command ends at once, exit 0, nothing on stderr", async () => {
    const r = await runProcess("bash", [
      "-c",
      'set -o pipefail; "$0" "$1" get "$2" configmaps -A 2>"$3" | head -1',
      process.execPath,
      CLI,
      snapshot,
      join(dir, "stderr"),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "apiVersion: v1\n");
    assert.equal(await readFile(join(dir, "stderr"), "utf8"), "");
    // The objects it had sorted onto disk (values in clear when etcd stores them so) are removed too.
    assert.deepEqual(
      (await readdir(tmpdir())).filter((n) => n.startsWith("hcpeb-objects-")),
      [],
    );
  });
});
