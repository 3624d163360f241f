import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { buildManifest, type ManifestInput } from "../../src/backup/manifest-builder.js";
import { VerificationError } from "../../src/errors.js";
import { parseEndpoint } from "../../src/etcd/endpoint.js";
import type { SurveyedMember } from "../../src/etcd/survey.js";
import { MANIFEST_SCHEMA_VERSION, parseManifest, serializeManifest } from "../../src/store/manifest.js";

const SHA = "a".repeat(64);

/** A manifest exactly as version 0.1.0 of the tool wrote it (schema 1). */
const V1 = {
  schemaVersion: 1,
  tool: { name: "hcp-etcd-backup", version: "0.1.0" },
  backupId: "20261125T130102Z-r12001",
  label: "prod",
  createdAt: "2026-11-25T13:01:04.000Z",
  mode: "online",
  source: {
    kind: "etcd",
    endpoints: ["https://10.0.0.1:2379"],
    clusterId: "cdf818194e3a8c32",
    etcdVersion: "3.4.23",
    member: { name: "m0", id: "8e9e05c52164694d", endpoint: "https://10.0.0.1:2379", isLeader: true },
  },
  snapshot: {
    object: "snapshot.db",
    objectSize: 8224,
    dbSize: 8192,
    sha256: SHA,
    statusHash: 123,
    revision: 12001,
    totalKeys: 57,
    totalSize: 8192,
    pageSize: 4096,
  },
  timings: {
    startedAt: "2026-11-25T13:01:02.000Z",
    finishedAt: "2026-11-25T13:01:04.000Z",
    snapshotSeconds: 1.5,
    totalSeconds: 2,
  },
  verifications: [{ at: "2026-11-25T13:01:04.000Z", toolVersion: "0.1.0", checks: ["sha256-trailer"], ok: true }],
};

function member(name: string, isLeader: boolean, revision: number): SurveyedMember {
  const endpoint = parseEndpoint(`https://127.0.0.1:${isLeader ? 2379 : 2479}`);
  return {
    endpoint,
    name,
    status: {
      endpoint: endpoint.url,
      memberId: isLeader ? "1a" : "2b",
      clusterId: "c1",
      version: "3.4.23",
      dbSize: 8192,
      dbSizeInUse: 8192,
      leaderId: "1a",
      isLeader,
      isLearner: false,
      raftIndex: 40,
      raftTerm: 2,
      revision,
      errors: [],
    },
  };
}

function input(over: Partial<ManifestInput> = {}): ManifestInput {
  const leader = member("etcd-0", true, 12001);
  return {
    backupId: "20261125T130102Z-r12001-abcdef",
    label: "clusters/prod",
    mode: "quiesced",
    source: {
      kind: "hosted-cluster",
      endpoints: [leader.endpoint.url],
      namespace: "clusters",
      name: "prod",
      uid: "4f1c-uid",
      hcpNamespace: "clusters-prod",
    },
    captured: {
      member: leader,
      status: leader.status,
      objectKey: "clusters/prod/20261125T130102Z-r12001-abcdef/snapshot.db",
      snapshot: {
        objectSize: 8224,
        dbSize: 8192,
        sha256: SHA,
        pageSize: 4096,
        status: { hash: 123, revision: 12001n, totalKey: 57, totalSize: 8192, version: "3.4.0" },
      },
      startedAt: new Date("2026-11-25T13:01:02Z"),
      streamSeconds: 1,
      storeSeconds: 1.5,
    },
    members: [leader, member("etcd-1", false, 12001)],
    startedAt: new Date("2026-11-25T13:01:00Z"),
    finishedAt: new Date("2026-11-25T13:01:10Z"),
    writerDowntime: { startedAt: new Date("2026-11-25T13:01:01Z"), endedAt: new Date("2026-11-25T13:01:05Z") },
    encryption: {
      type: "aescbc",
      secretNames: ["clusters/prod-etcd-encryption-key"],
      keys: [{ fingerprint: "b".repeat(64), keyName: "key-1234abcd" }],
    },
    phases: { survey: 0.1, capture: 1.5 },
    ...over,
  } as ManifestInput;
}

describe("manifest schema", () => {
  it("reads a version 1 manifest and presents it in today's shape", () => {
    const m = parseManifest(Buffer.from(JSON.stringify(V1)), "v1.json");
    assert.equal(m.schemaVersion, MANIFEST_SCHEMA_VERSION);
    assert.equal(m.source.kind, "etcd");
    assert.deepEqual(m.members, []);
    assert.equal(m.snapshot.sha256, SHA);
    assert.equal(m.backupId, V1.backupId);
  });

  it("builds a hosted-cluster manifest that survives a write and a read unchanged", () => {
    const m = buildManifest(input());
    assert.equal(m.schemaVersion, 2);
    assert.equal(m.source.kind, "hosted-cluster");
    if (m.source.kind !== "hosted-cluster") return;
    assert.equal(m.source.hcpNamespace, "clusters-prod");
    assert.equal(m.source.member.name, "etcd-0");
    assert.deepEqual(
      m.members.map((x) => [x.name, x.revision, x.isLeader]),
      [
        ["etcd-0", 12001, true],
        ["etcd-1", 12001, false],
      ],
    );
    assert.equal(m.writerDowntime?.seconds, 4);
    assert.equal(m.snapshot.revision, 12001);
    assert.equal(m.snapshot.object, "snapshot.db");
    assert.equal(m.timings.totalSeconds, 10);
    assert.deepEqual(m.timings.phases, { survey: 0.1, capture: 1.5 });
    assert.equal(m.verifications.length, 1);
    assert.deepEqual(parseManifest(serializeManifest(m), "m.json"), JSON.parse(serializeManifest(m).toString()));
  });

  it("never holds key material: encryption facts are fingerprints and names only", () => {
    const bad = input({
      encryption: {
        type: "aescbc",
        secretNames: ["x"],
        keys: [{ fingerprint: "not-a-sha256", keyName: "key-1" }],
      },
    });
    assert.throws(() => serializeManifest(buildManifest(bad)));
  });

  it("rejects broken manifests with a one-line reason, and newer schema versions with an upgrade hint", () => {
    assert.throws(() => parseManifest(Buffer.from("{"), "x.json"), /x\.json is not valid JSON/);
    assert.throws(
      () => parseManifest(Buffer.from(JSON.stringify({ ...V1, snapshot: { ...V1.snapshot, sha256: "zz" } })), "y.json"),
      (err: Error) =>
        err instanceof VerificationError &&
        /y\.json is not a valid backup manifest: snapshot\.sha256/.test(err.message),
    );
    assert.throws(
      () => parseManifest(Buffer.from(JSON.stringify({ ...V1, schemaVersion: 3 })), "z.json"),
      /schema version 3, newer than this tool reads \(2\): upgrade hcp-etcd-backup/,
    );
    const plain = buildManifest(input({ source: { kind: "etcd", endpoints: ["https://127.0.0.1:2379"] } }));
    const withoutSource = { ...JSON.parse(serializeManifest(plain).toString()), source: { kind: "other" } };
    assert.throws(() => parseManifest(Buffer.from(JSON.stringify(withoutSource)), "w.json"), /source/);
  });
});
