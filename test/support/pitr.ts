// What the continuous-backup tests compare: etcd's own state at a revision (the oracle, etcdctl)
// and a restored member's state (its bbolt file), in one shape.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import type { EtcdClient } from "../../src/etcd/client.js";
import { BoltFile } from "../../src/snapshot/bolt-file.js";
import { Bitset, openBucket, walkBucket } from "../../src/snapshot/bolt-tree.js";
import { liveKeys } from "../../src/snapshot/keys.js";
import { type RunningCli, runCli, spawnCli } from "./cli.js";
import { EtcdCluster } from "./etcd-cluster.js";
import { etcdctl } from "./etcdctl.js";

export const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** `backup --continuous --segment 1s` of `cluster` (its members in this order) into `storeDir` under `label`. */
export function spawnFollower(
  cluster: EtcdCluster,
  storeDir: string,
  label: string,
  options: { readonly members?: readonly number[]; readonly extra?: readonly string[] } = {},
): RunningCli {
  const endpoints = (options.members ?? [0]).map((i) => cluster.endpoint(i)).join(",");
  return spawnCli([
    "backup",
    "--endpoints",
    endpoints,
    ...cluster.tlsFlags,
    "--to",
    storeDir,
    "--name",
    label,
    "--continuous",
    "--segment",
    "1s",
    ...(options.extra ?? []),
  ]);
}

/** What `restore local --at-* -o json` reports. */
export interface PointRestore {
  readonly replayedRevision: number;
  readonly revisionsAligned: boolean;
  readonly members: ReadonlyArray<{ readonly dataDir: string }>;
  readonly liveKeys: number;
  readonly stateSha256: string;
}

/** `restore local <ref> --at-revision R -o json`, which must succeed, reach R and keep etcd's revision numbering. */
export async function restoreAtRevision(
  ref: string,
  revision: number,
  dataDir: string,
  extra: readonly string[] = [],
): Promise<PointRestore & { readonly stderr: string }> {
  const r = await runCli([
    "restore",
    "local",
    ref,
    "--data-dir",
    dataDir,
    "--at-revision",
    String(revision),
    "-o",
    "json",
    ...extra,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as PointRestore;
  assert.equal(out.replayedRevision, revision);
  assert.equal(out.revisionsAligned, true, r.stdout + r.stderr);
  return { ...out, stderr: r.stderr };
}

/**
 * A steady write load from the test: puts and deletes over 40 keys under `prefix`, until stopped.
 * Paced (a write every few ms) so that a chain stays a few thousand revisions and a replay takes seconds.
 */
export function startLoad(client: EtcdClient, prefix = "load/"): { stop(): Promise<number> } {
  let running = true;
  let writes = 0;
  const done = (async () => {
    for (let i = 0; running; i++) {
      const key = `${prefix}k${i % 40}`;
      if (i % 7 === 3) await client.delete(key);
      else await client.put(key, `v${i}-${"x".repeat(i % 200)}`);
      writes++;
      await delay(4); // pacing of the load, not a wait for an outcome
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      return writes;
    },
  };
}

/**
 * Live keys etcd served at `revision`, by the real etcdctl: value hash, the key's create/mod revisions
 * and version (equal too: the replay keeps etcd's revision numbering), and with `withLease` its lease ID.
 */
export async function liveAt(cluster: EtcdCluster, revision: number, withLease = false): Promise<Map<string, string>> {
  const text = await etcdctl(cluster, ["get", "", "--prefix", "--rev", String(revision), "-w", "json"]);
  // Lease IDs are int64: read as text, not as a double that rounds them.
  const out = JSON.parse(text.replace(/"lease":(\d+)/g, '"lease":"$1"')) as {
    kvs?: Array<{
      key: string;
      value?: string;
      create_revision: number;
      mod_revision: number;
      version: number;
      lease?: number | string;
    }>;
  };
  return new Map(
    (out.kvs ?? []).map((kv) => [
      Buffer.from(kv.key, "base64").toString("latin1"),
      `${sha256(Buffer.from(kv.value ?? "", "base64"))} c${kv.create_revision} m${kv.mod_revision} v${kv.version}${
        withLease ? ` l${BigInt(kv.lease ?? 0).toString(16)}` : ""
      }`,
    ]),
  );
}

/** The same, for a restored member's data directory, read from its bbolt file. */
export function restoredState(memberDir: string, withLease = false): Map<string, string> {
  const live = liveKeys(join(memberDir, "member", "snap", "db"));
  return new Map(
    [...live.values()].map((k) => [
      k.key.toString("latin1"),
      `${k.valueHash} c${k.createRevision} m${k.modRevision} v${k.version}${withLease ? ` l${k.lease.toString(16)}` : ""}`,
    ]),
  );
}

/**
 * The leases stored in a member's bbolt file (bucket "lease", leasepb.Lease protobufs): ID (hex) to
 * the TTL it was granted with. Read directly, so a test sees what a restored etcd would start with.
 */
export function storedLeases(memberDir: string): Map<string, number> {
  const path = join(memberDir, "member", "snap", "db");
  const file = BoltFile.open(path);
  const out = new Map<string, number>();
  try {
    const walk = {
      visited: new Bitset(file.highWaterMark),
      checkOrder: false,
      report: (p: { message: string }): never => {
        throw new Error(`${path}: ${p.message}`);
      },
    };
    let bucket: Buffer | undefined;
    walkBucket(file, { root: Number(file.meta.root) }, walk, (e) => {
      if (e.isBucket && e.key.toString("latin1") === "lease") bucket = Buffer.from(e.value);
    });
    if (!bucket) return out;
    const ref = openBucket(bucket);
    if (typeof ref === "string") throw new Error(`${path}: bucket "lease": ${ref}`);
    walkBucket(file, ref, walk, (e) => {
      const fields = protoVarints(e.value);
      out.set(BigInt.asIntN(64, fields.get(1) ?? 0n).toString(16), Number(fields.get(2) ?? 0n));
    });
  } finally {
    file.close();
  }
  return out;
}

/** The varint fields of a protobuf message (leasepb.Lease has only those: ID 1, TTL 2, RemainingTTL 3). */
function protoVarints(buf: Buffer): Map<number, bigint> {
  const fields = new Map<number, bigint>();
  let o = 0;
  const varint = (): bigint => {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      const b = buf[o++] as number;
      v |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return v;
    }
  };
  while (o < buf.length) {
    const tag = Number(varint());
    if ((tag & 7) !== 0) throw new Error(`lease record: unexpected wire type ${tag & 7}`);
    fields.set(tag >> 3, varint());
  }
  return fields;
}

/** A describe's continuous-backup set-up: a real etcd, a client of member 0, an empty local store in a temp dir. */
export interface ContinuousLab {
  readonly cluster: EtcdCluster;
  readonly client: EtcdClient;
  readonly work: string;
  readonly storeDir: string;
  /** A follower (spawnFollower) into the lab's store, killed after the describe if still running. */
  follow(label: string, options?: Parameters<typeof spawnFollower>[3]): RunningCli;
}

/**
 * Registers the describe's before/after hooks for a ContinuousLab of `members` (default 1): its fields
 * are set once `before` ran, and `after` kills its followers, then stops etcd and removes the temp dir.
 */
export function continuousLab(
  options: { readonly members?: number; readonly seed?: (client: EtcdClient) => Promise<void> } = {},
): ContinuousLab {
  const followers: RunningCli[] = [];
  const state: { cluster?: EtcdCluster; client?: EtcdClient; work?: string } = {};
  const set = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`the lab's ${what} is used before its before() hook ran`);
    return v;
  };
  before(async () => {
    const cluster = await EtcdCluster.start({ members: options.members ?? 1 });
    state.cluster = cluster;
    state.client = await cluster.client(0);
    state.work = await mkdtemp(join(tmpdir(), "hcpeb-test-"));
    await mkdir(join(state.work, "store"));
    await options.seed?.(state.client);
  });
  after(async () => {
    for (const f of followers) if (f.child.exitCode === null && f.child.signalCode === null) f.child.kill("SIGKILL");
    await Promise.all(followers.map((f) => f.exited));
    state.client?.close();
    await state.cluster?.stop();
    if (state.work) await rm(state.work, { recursive: true, force: true });
  });
  return {
    get cluster() {
      return set(state.cluster, "etcd");
    },
    get client() {
      return set(state.client, "client");
    },
    get work() {
      return set(state.work, "work directory");
    },
    get storeDir() {
      return join(set(state.work, "work directory"), "store");
    },
    follow(label, followOptions = {}) {
      const f = spawnFollower(this.cluster, this.storeDir, label, followOptions);
      followers.push(f);
      return f;
    },
  };
}
