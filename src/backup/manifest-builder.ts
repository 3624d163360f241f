import type { SurveyedMember } from "../etcd/survey.js";
import { toolVersion } from "../package-info.js";
import {
  type EncryptionFacts,
  MANIFEST_SCHEMA_VERSION,
  type Manifest,
  type ManifestSource,
  type MemberStatusRecord,
  SNAPSHOT_FILE,
  type SnapshotFacts,
} from "../store/manifest.js";
import type { ObjectLockRetention } from "../store/object-lock.js";
import type { CapturedSnapshot } from "./capture.js";
import type { VerifiedSnapshot } from "./verified-stream.js";

/** What the source was, beyond the etcd facts the capture knows. */
export type SourceDescription =
  | { readonly kind: "etcd"; readonly endpoints: readonly string[] }
  | {
      readonly kind: "hosted-cluster";
      readonly endpoints: readonly string[];
      readonly namespace: string;
      readonly name: string;
      readonly uid: string;
      readonly hcpNamespace: string;
    };

export interface ManifestInput {
  readonly backupId: string;
  readonly label: string;
  readonly mode: Manifest["mode"];
  readonly source: SourceDescription;
  readonly captured: CapturedSnapshot;
  /** Every member's status at snapshot time (the survey). */
  readonly members: readonly SurveyedMember[];
  readonly startedAt: Date;
  readonly finishedAt: Date;
  readonly phases?: Readonly<Record<string, number>>;
  readonly writerDowntime?: { readonly startedAt: Date; readonly endedAt: Date };
  readonly encryption?: EncryptionFacts;
  readonly memberSnapshots?: readonly CapturedSnapshot[];
  /** The retention the store wrote the backup's objects with (`backup --object-lock`). */
  readonly objectLock?: ObjectLockRetention;
}

export function snapshotFacts(v: VerifiedSnapshot, object: string = SNAPSHOT_FILE): SnapshotFacts {
  return {
    object,
    objectSize: v.objectSize,
    dbSize: v.dbSize,
    sha256: v.sha256,
    statusHash: v.status.hash,
    revision: Number(v.status.revision),
    totalKeys: v.status.totalKey,
    totalSize: v.status.totalSize,
    pageSize: v.pageSize,
  };
}

function memberOf(c: CapturedSnapshot): Manifest["source"]["member"] {
  return {
    name: c.member.name,
    id: c.status.memberId,
    endpoint: c.member.endpoint.url,
    isLeader: c.status.isLeader,
  };
}

export function memberRecord(m: SurveyedMember): MemberStatusRecord {
  return {
    name: m.name,
    id: m.status.memberId,
    endpoint: m.endpoint.url,
    isLeader: m.status.isLeader,
    isLearner: m.status.isLearner,
    revision: m.status.revision,
    raftTerm: m.status.raftTerm,
    raftIndex: m.status.raftIndex,
    dbSize: m.status.dbSize,
  };
}

const objectName = (key: string) => key.slice(key.lastIndexOf("/") + 1);

/**
 * The manifest of a backup whose bytes were captured and verified (pure: no I/O). Its first
 * verification is the one done while the bytes streamed, before the upload was completed.
 */
export function buildManifest(input: ManifestInput): Manifest {
  const c = input.captured;
  const etcd = {
    endpoints: [...input.source.endpoints],
    clusterId: c.status.clusterId,
    etcdVersion: c.status.version,
    member: memberOf(c),
  };
  const source: ManifestSource =
    input.source.kind === "etcd"
      ? { kind: "etcd", ...etcd }
      : {
          kind: "hosted-cluster",
          namespace: input.source.namespace,
          name: input.source.name,
          uid: input.source.uid,
          hcpNamespace: input.source.hcpNamespace,
          ...etcd,
        };
  const finished = input.finishedAt.toISOString();
  const w = input.writerDowntime;
  return {
    schemaVersion: MANIFEST_SCHEMA_VERSION,
    tool: { name: "hcp-etcd-backup", version: toolVersion() },
    backupId: input.backupId,
    label: input.label,
    createdAt: finished,
    mode: input.mode,
    source,
    writerDowntime: w && {
      startedAt: w.startedAt.toISOString(),
      endedAt: w.endedAt.toISOString(),
      seconds: (w.endedAt.getTime() - w.startedAt.getTime()) / 1000,
    },
    encryption: input.encryption,
    members: input.members.map(memberRecord),
    snapshot: snapshotFacts(c.snapshot, objectName(c.objectKey)),
    memberSnapshots: input.memberSnapshots?.map((m) => ({
      member: memberOf(m),
      snapshot: snapshotFacts(m.snapshot, objectName(m.objectKey)),
    })),
    timings: {
      startedAt: input.startedAt.toISOString(),
      finishedAt: finished,
      snapshotSeconds: c.storeSeconds,
      totalSeconds: (input.finishedAt.getTime() - input.startedAt.getTime()) / 1000,
      phases: input.phases && { ...input.phases },
    },
    verifications: [
      {
        at: finished,
        toolVersion: toolVersion(),
        checks: ["sha256-trailer", "byte-count", "status"],
        ok: true,
        detail: "checked while streaming from etcd, before the upload was completed",
      },
    ],
    ...(input.objectLock
      ? { objectLock: { mode: input.objectLock.mode, retainUntil: input.objectLock.retainUntil.toISOString() } }
      : {}),
  };
}
