import { z } from "zod";
import { VerificationError } from "../errors.js";

export const MANIFEST_FILE = "manifest.json";
export const SNAPSHOT_FILE = "snapshot.db";
/** Version written by this tool. Version 1 manifests (plain etcd only) are read and upgraded in memory. */
export const MANIFEST_SCHEMA_VERSION = 2;

const verificationSchema = z.object({
  at: z.string(),
  toolVersion: z.string(),
  /** What was checked, e.g. "sha256-trailer", "byte-count", "status", "structure". */
  checks: z.array(z.string()),
  ok: z.boolean(),
  detail: z.string().optional(),
  /** How long the verification took (restore drills record it). */
  seconds: z.number().nonnegative().optional(),
  /**
   * How a restore drill proved the restored etcd serves the snapshot: "hashkv" (etcd's HashKV and
   * live key count at the backup's revision equal to those computed from the file) or "read-back"
   * (every key and value read back and compared), with why the HashKV did not decide.
   */
  proof: z
    .object({
      method: z.enum(["hashkv", "read-back"]),
      /** HashKV computed from the snapshot by etcd 3.4's rules (CRC-32C), when it could be. */
      hash: z.number().optional(),
      /** HashKV the restored etcd answered, when asked. */
      etcdHash: z.number().optional(),
      compactRevision: z.number().optional(),
      /** Why the HashKV did not decide (read-back only). */
      fallback: z.string().optional(),
      /**
       * Set when etcd's HashKV or live key count disagreed with the snapshot's while every key and value
       * read back equal: the rules mirrored from etcd 3.4 do not match this etcd (a warning, not a failure).
       */
      disagreed: z.string().optional(),
    })
    .optional(),
  /** The decryption proof (`verify --key-identity|--key-file`): values by storage form, keys that opened them. */
  decryption: z
    .object({
      forms: z.record(z.string(), z.number()),
      opened: z.record(z.string(), z.number()),
      missingKeys: z.record(z.string(), z.object({ count: z.number(), examples: z.array(z.string()) })),
      damaged: z.record(z.string(), z.object({ count: z.number(), examples: z.array(z.string()) })),
      kms: z.record(z.string(), z.number()),
      ok: z.boolean(),
    })
    .optional(),
});

const memberSchema = z.object({
  name: z.string(),
  id: z.string(),
  endpoint: z.string(),
  isLeader: z.boolean(),
});

/** One member's `Maintenance.Status` at snapshot time: revisions that agree prove writes had stopped. */
const memberStatusSchema = z.object({
  name: z.string(),
  id: z.string(),
  endpoint: z.string(),
  isLeader: z.boolean(),
  isLearner: z.boolean(),
  revision: z.number().int().nonnegative(),
  raftTerm: z.number().int().nonnegative(),
  raftIndex: z.number().int().nonnegative(),
  dbSize: z.number().int().nonnegative(),
});

const snapshotSchema = z.object({
  object: z.string(),
  /** Bytes of the stored object: the bbolt image plus etcd's 32-byte SHA-256 trailer. */
  objectSize: z.number().int().positive(),
  dbSize: z.number().int().positive(),
  /** SHA-256 (hex) of the bbolt image: equal to the trailer. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** etcd's `snapshot status` hash (CRC-32C), decimal as `-w json` prints it. */
  statusHash: z.number().int().nonnegative(),
  revision: z.number().int().nonnegative(),
  /** etcdctl's TOTAL KEYS: every stored revision of every key, not the live keys. */
  totalKeys: z.number().int().nonnegative(),
  totalSize: z.number().int().positive(),
  pageSize: z.number().int().positive(),
});

const etcdFacts = {
  endpoints: z.array(z.string()),
  clusterId: z.string(),
  etcdVersion: z.string(),
  /** The member whose snapshot is `snapshot` (the restore candidate). */
  member: memberSchema,
};

const sourceSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("etcd"), ...etcdFacts }),
  z.object({
    kind: z.literal("hosted-cluster"),
    namespace: z.string(),
    name: z.string(),
    uid: z.string(),
    hcpNamespace: z.string(),
    ...etcdFacts,
  }),
]);

const encryptionSchema = z.object({
  type: z.enum(["aescbc", "kms"]),
  /** Secrets that held key material (namespace-qualified names). */
  secretNames: z.array(z.string()),
  /** Never the key itself: SHA-256 of the key bytes and kube-apiserver's key name (`key-<fnv32a>`). */
  keys: z.array(z.object({ fingerprint: z.string().regex(/^[0-9a-f]{64}$/), keyName: z.string() })),
  kms: z.object({ arn: z.string(), region: z.string() }).optional(),
  /** Object in the backup folder holding the key encrypted to an age recipient, when saved. */
  object: z.string().optional(),
});

/** The S3 Object Lock retention the backup's objects were written with (absent: not locked by this tool). */
const objectLockSchema = z.object({
  mode: z.enum(["governance", "compliance"]),
  retainUntil: z.string(),
});

const windowSchema = z.object({ startedAt: z.string(), endedAt: z.string(), seconds: z.number().nonnegative() });

const timingsSchema = z.object({
  startedAt: z.string(),
  finishedAt: z.string(),
  snapshotSeconds: z.number().nonnegative(),
  totalSeconds: z.number().nonnegative(),
  /** Seconds per phase of the run (survey, capture, upload, resume, ...), in the order they ran. */
  phases: z.record(z.string(), z.number().nonnegative()).optional(),
});

/** A backup made by `restore prepare --at-time|--at-revision`: a continuous backup's chain replayed to a point. */
const pointInTimeSchema = z.object({
  /** The continuous backup it was replayed from, and that backup's own revision. */
  fromBackupId: z.string(),
  baseRevision: z.number().int().nonnegative(),
  /** The source revision reached, and the time asked for (absent when a revision was). */
  revision: z.number().int().nonnegative(),
  at: z.string().optional(),
  segments: z.number().int().nonnegative(),
  changes: z.number().int().nonnegative(),
  /** Live keys of the state and the SHA-256 of them in key order, as `restore local --at-*` logs it. */
  liveKeys: z.number().int().nonnegative(),
  stateSha256: z.string().regex(/^[0-9a-f]{64}$/),
});

export const manifestSchema = z.object({
  schemaVersion: z.literal(MANIFEST_SCHEMA_VERSION),
  tool: z.object({ name: z.literal("hcp-etcd-backup"), version: z.string() }),
  backupId: z.string(),
  label: z.string(),
  createdAt: z.string(),
  /** online: etcd kept serving writes; quiesced: the writers were scaled to zero (the documented procedure). */
  mode: z.enum(["online", "quiesced"]),
  source: sourceSchema,
  /** When the etcd writers were down (quiesced mode only). */
  writerDowntime: windowSchema.optional(),
  encryption: encryptionSchema.optional(),
  /** Every member's status at snapshot time (empty when it was not surveyed). */
  members: z.array(memberStatusSchema),
  snapshot: snapshotSchema,
  /** Snapshots of the other members, when one per member was saved (the documented procedure's way). */
  memberSnapshots: z.array(z.object({ member: memberSchema, snapshot: snapshotSchema })).optional(),
  timings: timingsSchema,
  verifications: z.array(verificationSchema),
  /** Optional, so manifests without it (every one before it) stay valid version 2 manifests. */
  objectLock: objectLockSchema.optional(),
  pointInTime: pointInTimeSchema.optional(),
});

const manifestV1Schema = z.object({
  schemaVersion: z.literal(1),
  tool: z.object({ name: z.literal("hcp-etcd-backup"), version: z.string() }),
  backupId: z.string(),
  label: z.string(),
  createdAt: z.string(),
  mode: z.enum(["online", "quiesced"]),
  source: z.object({ kind: z.literal("etcd"), ...etcdFacts }),
  snapshot: snapshotSchema,
  timings: timingsSchema.omit({ phases: true }),
  verifications: z.array(verificationSchema),
});

export type Manifest = z.infer<typeof manifestSchema>;
export type ManifestSource = Manifest["source"];
export type MemberStatusRecord = z.infer<typeof memberStatusSchema>;
export type SnapshotFacts = z.infer<typeof snapshotSchema>;
export type EncryptionFacts = z.infer<typeof encryptionSchema>;
export type Verification = z.infer<typeof verificationSchema>;

/** A version 1 manifest in today's shape: it had no member survey and no hosted-cluster facts. */
function upgradeV1(m: z.infer<typeof manifestV1Schema>): Manifest {
  return { ...m, schemaVersion: MANIFEST_SCHEMA_VERSION, members: [] };
}

/** Parses a manifest read from a store (version 1 or 2); anything else is reported as a broken backup (exit 3). */
export function parseManifest(bytes: Buffer, where: string): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw new VerificationError(`${where} is not valid JSON`);
  }
  const version = (json as { schemaVersion?: unknown } | null)?.schemaVersion;
  if (version === 1) {
    const v1 = manifestV1Schema.safeParse(json);
    if (v1.success) return upgradeV1(v1.data);
    throw invalid(where, v1.error);
  }
  if (typeof version === "number" && version > MANIFEST_SCHEMA_VERSION) {
    throw new VerificationError(
      `${where} has schema version ${version}, newer than this tool reads (${MANIFEST_SCHEMA_VERSION}): upgrade hcp-etcd-backup`,
    );
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) throw invalid(where, parsed.error);
  return parsed.data;
}

function invalid(where: string, error: z.ZodError): VerificationError {
  const issue = error.issues[0];
  return new VerificationError(
    `${where} is not a valid backup manifest: ${issue?.path.join(".") || "(root)"}: ${issue?.message}`,
  );
}

export function serializeManifest(m: Manifest): Buffer {
  return Buffer.from(`${JSON.stringify(manifestSchema.parse(m), null, 2)}\n`);
}

/** The verification that counts: the newest one. */
export function lastVerification(m: Manifest): Verification | undefined {
  return m.verifications.at(-1);
}
