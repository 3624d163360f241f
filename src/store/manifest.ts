import { z } from "zod";
import { VerificationError } from "../errors.js";

export const MANIFEST_FILE = "manifest.json";
export const SNAPSHOT_FILE = "snapshot.db";
export const MANIFEST_SCHEMA_VERSION = 1;

const verificationSchema = z.object({
  at: z.string(),
  toolVersion: z.string(),
  /** What was checked, e.g. "sha256-trailer", "byte-count", "status", "structure". */
  checks: z.array(z.string()),
  ok: z.boolean(),
  detail: z.string().optional(),
});

const memberSchema = z.object({
  name: z.string(),
  id: z.string(),
  endpoint: z.string(),
  isLeader: z.boolean(),
});

export const manifestSchema = z.object({
  schemaVersion: z.literal(MANIFEST_SCHEMA_VERSION),
  tool: z.object({ name: z.literal("hcp-etcd-backup"), version: z.string() }),
  backupId: z.string(),
  label: z.string(),
  createdAt: z.string(),
  mode: z.enum(["online", "quiesced"]),
  source: z.object({
    kind: z.enum(["etcd", "hosted-cluster"]),
    endpoints: z.array(z.string()),
    clusterId: z.string(),
    etcdVersion: z.string(),
    member: memberSchema,
  }),
  snapshot: z.object({
    object: z.string(),
    /** Bytes of the stored object: the bbolt image plus etcd's 32-byte SHA-256 trailer. */
    objectSize: z.number().int().positive(),
    dbSize: z.number().int().positive(),
    /** SHA-256 (hex) of the bbolt image: equal to the trailer. */
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    /** etcd's `snapshot status` hash (CRC-32C), decimal as `-w json` prints it. */
    statusHash: z.number().int().nonnegative(),
    revision: z.number().int().nonnegative(),
    totalKeys: z.number().int().nonnegative(),
    totalSize: z.number().int().positive(),
    pageSize: z.number().int().positive(),
  }),
  timings: z.object({
    startedAt: z.string(),
    finishedAt: z.string(),
    snapshotSeconds: z.number().nonnegative(),
    totalSeconds: z.number().nonnegative(),
  }),
  verifications: z.array(verificationSchema),
});

export type Manifest = z.infer<typeof manifestSchema>;
export type Verification = z.infer<typeof verificationSchema>;

/** Parses a manifest read from a store; anything else is reported as a broken backup (exit 3). */
export function parseManifest(bytes: Buffer, where: string): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw new VerificationError(`${where} is not valid JSON`);
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new VerificationError(
      `${where} is not a valid backup manifest: ${issue?.path.join(".") || "(root)"}: ${issue?.message}`,
    );
  }
  return parsed.data;
}

export function serializeManifest(m: Manifest): Buffer {
  return Buffer.from(`${JSON.stringify(manifestSchema.parse(m), null, 2)}\n`);
}

/** The verification that counts: the newest one. */
export function lastVerification(m: Manifest): Verification | undefined {
  return m.verifications.at(-1);
}
