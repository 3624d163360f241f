// Manifests as a hosted cluster's quiesced backup writes them (the real schema, checked on creation),
// for tests and benchmarks of the fleet view that need thousands of backups without taking them.
import { createHash, randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { mapBounded } from "../../src/concurrency.js";
import { backupId } from "../../src/store/layout.js";
import {
  MANIFEST_FILE,
  type Manifest,
  manifestSchema,
  SNAPSHOT_FILE,
  type Verification,
} from "../../src/store/manifest.js";
import type { Store } from "../../src/store/store.js";

export interface FakeBackup {
  readonly namespace: string;
  readonly name: string;
  readonly createdAt: Date;
  readonly size: number;
  /** Read-back verifications appended after the one made while streaming (`verify`, restore drill). */
  readonly readBacks?: ReadonlyArray<{ at: Date; ok: boolean }>;
}

export function hostedManifest(b: FakeBackup): Manifest {
  const revision = 10_000 + (Math.floor(b.createdAt.getTime() / 60_000) % 100_000);
  const id = backupId(b.createdAt, revision);
  const at = (d: Date) => d.toISOString();
  const started = new Date(b.createdAt.getTime() - 42_000);
  const hcpNs = `${b.namespace}-${b.name}`;
  const endpoint = (i: number) => `https://127.0.0.1:${23790 + i}`;
  const members = [0, 1, 2].map((i) => ({
    name: `etcd-${i}`,
    id: createHash("sha256").update(`${hcpNs}/${i}`).digest("hex").slice(0, 16),
    endpoint: endpoint(i),
    isLeader: i === 0,
    isLearner: false,
    revision,
    raftTerm: 3,
    raftIndex: revision + 40,
    dbSize: b.size - 32,
  }));
  const snapshotFacts = {
    object: SNAPSHOT_FILE,
    objectSize: b.size,
    dbSize: b.size - 32,
    sha256: randomBytes(32).toString("hex"),
    statusHash: randomBytes(4).readUInt32BE(0),
    revision,
    totalKeys: Math.floor(b.size / 4096),
    totalSize: b.size - 32,
    pageSize: 4096,
  };
  const key = randomBytes(32);
  const verifications: Verification[] = [
    {
      at: at(b.createdAt),
      toolVersion: "0.2.0",
      checks: ["sha256-trailer", "byte-count", "status"],
      ok: true,
      detail: "checked while streaming from etcd, before the upload was completed",
    },
    ...(b.readBacks ?? []).map((v) => ({
      at: at(v.at),
      toolVersion: "0.2.0",
      checks: ["sha256-trailer", "byte-count", "status", "manifest", "structure", "etcd-encoding"],
      ok: v.ok,
      ...(v.ok ? {} : { detail: "sha256 of the stored object differs from the manifest" }),
    })),
  ];
  return manifestSchema.parse({
    schemaVersion: 2,
    tool: { name: "hcp-etcd-backup", version: "0.2.0" },
    backupId: id,
    label: `${b.namespace}/${b.name}`,
    createdAt: at(b.createdAt),
    mode: "quiesced",
    source: {
      kind: "hosted-cluster",
      namespace: b.namespace,
      name: b.name,
      uid: "6a1f0c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b",
      hcpNamespace: hcpNs,
      endpoints: [0, 1, 2].map(endpoint),
      clusterId: "cdf818194e3a8c32",
      etcdVersion: "3.4.23",
      member: { name: "etcd-0", id: members[0]?.id, endpoint: endpoint(0), isLeader: true },
    },
    writerDowntime: { startedAt: at(started), endedAt: at(new Date(started.getTime() + 9_000)), seconds: 9 },
    encryption: {
      type: "aescbc",
      secretNames: [`${b.namespace}/${b.name}-etcd-encryption-key`],
      keys: [{ fingerprint: createHash("sha256").update(key).digest("hex"), keyName: "key-2847561023" }],
      object: "encryption-key.age",
    },
    members,
    snapshot: snapshotFacts,
    timings: {
      startedAt: at(started),
      finishedAt: at(b.createdAt),
      snapshotSeconds: 6.5,
      totalSeconds: 42,
      phases: {
        discover: 0.2,
        "read-key": 0.05,
        lock: 0.1,
        pause: 1.2,
        "scale-down": 2.4,
        survey: 0.3,
        capture: 6.5,
        resume: 3.1,
        "store-key": 0.02,
      },
    },
    verifications,
  });
}

/** Writes each backup into a local store as the tool lays it out (a placeholder snapshot object). */
export async function writeLocalBackups(root: string, backups: readonly FakeBackup[]): Promise<Manifest[]> {
  const out: Manifest[] = [];
  for (const b of backups) {
    const m = hostedManifest(b);
    const folder = join(root, m.label, m.backupId);
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, SNAPSHOT_FILE), "placeholder: the fleet view reads manifests only\n");
    await writeFile(join(folder, MANIFEST_FILE), `${JSON.stringify(m, null, 2)}\n`);
    out.push(m);
  }
  return out;
}

/** Puts each backup into any Store (S3 included), a few at a time, manifest after snapshot as the tool does. */
export async function putBackups(store: Store, backups: readonly FakeBackup[]): Promise<Manifest[]> {
  return mapBounded(backups, 16, async (b) => {
    const m = hostedManifest(b);
    const folder = `${m.label}/${m.backupId}`;
    await store.put(`${folder}/${SNAPSHOT_FILE}`, Buffer.from("placeholder: the fleet view reads manifests only\n"));
    await store.put(`${folder}/${MANIFEST_FILE}`, Buffer.from(`${JSON.stringify(m, null, 2)}\n`));
    return m;
  });
}
