import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { compareKeyStreams, printable } from "../../src/restore/compare-live.js";
import {
  initialClusterOf,
  memberNamed,
  parseInitialCluster,
  shellLine,
  startCommand,
} from "../../src/restore/member-plan.js";
import type { KeyState } from "../../src/restore/sorted-live-keys.js";

describe("restore member plan", () => {
  it("parses --initial-cluster as etcd does: a name may have several peer URLs; URLs are normalised", () => {
    const members = parseInitialCluster("etcd-0=https://a:2380,etcd-1=https://b:2380/,etcd-0=https://10.0.0.1:2380");
    assert.deepEqual(members, [
      { name: "etcd-0", peerURLs: ["https://a:2380", "https://10.0.0.1:2380"] },
      { name: "etcd-1", peerURLs: ["https://b:2380"] },
    ]);
    assert.equal(initialClusterOf(members), "etcd-0=https://a:2380,etcd-0=https://10.0.0.1:2380,etcd-1=https://b:2380");
    assert.deepEqual(memberNamed(members, "etcd-0").peerURLs, ["https://a:2380", "https://10.0.0.1:2380"]);
    assert.throws(() => memberNamed(members, "etcd-2"), /--name etcd-2 is not in --initial-cluster/);
  });

  it("gives a loopback member a complete etcd command line, a real-cluster member only what the restore fixed", () => {
    const loop = { name: "member-0", peerURLs: ["https://127.0.0.1:2380"], clientURL: "https://127.0.0.1:2379" };
    const tls = { caCert: "/d/pki/ca.crt", serverCert: "/d/pki/server.crt", serverKey: "/d/pki/server.key" };
    const full = startCommand(loop, [loop], "/d/member-0", "tok", tls);
    assert.deepEqual(full.slice(0, 7), [
      "etcd",
      "--name=member-0",
      "--data-dir=/d/member-0",
      "--initial-advertise-peer-urls=https://127.0.0.1:2380",
      "--initial-cluster=member-0=https://127.0.0.1:2380",
      "--initial-cluster-token=tok",
      "--initial-cluster-state=new",
    ]);
    for (const f of [
      "--listen-client-urls=https://127.0.0.1:2379",
      "--peer-key-file=/d/pki/server.key",
      "--client-cert-auth",
    ])
      assert.ok(full.includes(f), f);
    const real = { name: "etcd-0", peerURLs: ["https://etcd-0.x:2380"] };
    const partial = startCommand(real, [real], "/var/lib/etcd", "etcd-cluster");
    assert.equal(partial.length, 7);
    assert.ok(!partial.some((a) => a.startsWith("--listen")));
  });

  it("quotes command words for a POSIX shell only where needed", () => {
    assert.equal(shellLine(["etcd", "--data-dir=/a b/c", "--name=it's"]), `etcd '--data-dir=/a b/c' '--name=it'\\''s'`);
    assert.equal(shellLine(["etcd", "--x=https://h:1,y=z"]), "etcd --x=https://h:1,y=z");
  });
});

function state(key: string, value = key, mod = 1n): KeyState {
  return {
    key: Buffer.from(key, "latin1"),
    createRevision: 1n,
    modRevision: mod,
    version: 1n,
    lease: 0n,
    valueSize: value.length,
    valueHash: Buffer.from(value.padEnd(32, "-").slice(0, 32)),
  };
}

async function* stream(...xs: KeyState[]): AsyncGenerator<KeyState> {
  yield* xs;
}

describe("comparing two key-ordered streams", () => {
  it("equal streams are equal, with the counts", async () => {
    const c = await compareKeyStreams(stream(state("a"), state("b")), stream(state("a"), state("b")));
    assert.deepEqual([c.equal, c.snapshotKeys, c.liveKeys, c.examples.length], [true, 2, 2, 0]);
  });

  it("names missing, extra and changed keys (and which fields changed), in key order", async () => {
    const c = await compareKeyStreams(
      stream(state("a"), state("b"), state("d", "v1"), state("e")),
      stream(state("b"), state("c"), state("d", "v2", 7n), state("e")),
    );
    assert.equal(c.equal, false);
    assert.deepEqual([c.missing, c.extra, c.changed, c.snapshotKeys, c.liveKeys], [1, 1, 1, 4, 4]);
    assert.deepEqual(
      c.examples.map((e) => [e.key, e.problem, e.fields]),
      [
        ["a", "missing", undefined],
        ["c", "extra", undefined],
        ["d", "changed", ["value", "mod_revision"]],
      ],
    );
  });

  it("a stream that ends early leaves the rest of the other side as missing or extra", async () => {
    const c = await compareKeyStreams(stream(state("a"), state("b"), state("c")), stream(state("a")));
    assert.deepEqual([c.missing, c.extra], [2, 0]);
    const d = await compareKeyStreams(stream(), stream(state("x")));
    assert.deepEqual([d.missing, d.extra], [0, 1]);
  });

  it("shows keys printable, escaping bytes outside ASCII and the backslash", () => {
    assert.equal(printable(Buffer.from([0x2f, 0x61, 0xff, 0x00, 0x5c])), "/a\\xff\\x00\\x5c");
  });
});
