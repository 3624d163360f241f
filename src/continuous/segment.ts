import { createHash } from "node:crypto";
import { z } from "zod";
import { VerificationError } from "../errors.js";
import type { WatchEvent } from "../etcd/client.js";
import { DELTAS_DIR } from "../store/layout.js";
import { joinKey } from "../store/store.js";

export { DELTAS_DIR };

/**
 * Delta segments of a continuous backup, stored beside the full backup they start from:
 *
 *   <label>/<backup-id>/deltas/<from>-<to>.seg   the events, framed binary (below)
 *   <label>/<backup-id>/deltas/<from>-<to>.json  the commit record, written after the segment
 *
 * Revisions are zero-padded to 16 digits so that key order is revision order. A segment covers the
 * source revisions from..to (inclusive); the first starts at the backup's revision + 1 and each next
 * one at the previous `to` + 1, so a chain is contiguous by construction and a gap is a finding.
 * A segment without its record was not committed: readers ignore it and the writer removes it.
 *
 * Frame format (version 2): the magic line, then per event
 *   u8 type (0 put, 1 delete) | u64 revision | u64 received-at (ms since epoch) | i64 lease ID
 *   | u32 lease TTL (seconds it was granted with; 0 unknown) | u32 key length | key | u32 value length | value
 * (big-endian; a delete's value is empty and its lease 0). Version 1 (no lease fields) is still read:
 * its puts carry no lease.
 */
export const SEGMENT_MAGIC = Buffer.from("HCPEB-SEG 2\n");
const SEGMENT_MAGIC_V1 = Buffer.from("HCPEB-SEG 1\n");
const FIXED_V1 = 1 + 8 + 8 + 4 + 4;
const FIXED = 1 + 8 + 8 + 8 + 4 + 4 + 4;

export const segmentRecordSchema = z.object({
  schemaVersion: z.literal(1),
  /** The full backup this chain starts from, and its snapshot's revision. */
  baseBackupId: z.string(),
  baseRevision: z.number().int().nonnegative(),
  fromRevision: z.number().int().positive(),
  toRevision: z.number().int().positive(),
  events: z.number().int().nonnegative(),
  /** Bytes of the .seg object and its SHA-256 (hex). */
  bytes: z.number().int().positive(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** When the writer opened and closed it: every change etcd made before `closedAt` is in this chain. */
  openedAt: z.string(),
  closedAt: z.string(),
  firstEventAt: z.string().optional(),
  lastEventAt: z.string().optional(),
  /**
   * Set on the newest record while etcd is idle (rewritten at each interval without a change): etcd's
   * watch said, when asked at this time, that it had no revision after `toRevision`. So every change
   * etcd made before it is in this chain, as `closedAt` says for the close.
   */
  coveredAt: z.string().optional(),
});
export type SegmentRecord = z.infer<typeof segmentRecordSchema>;

/**
 * A chain with no committed segment yet (etcd idle since the full backup) has no record to extend, so
 * the follower keeps its coverage in one object of its own, `<backup folder>/deltas/base-coverage`,
 * rewritten in place as a record's `coveredAt` is: etcd's watch and a linearizable read found no
 * revision after the base's when asked at `coveredAt`. Readers use it only while the chain has no
 * segment record (the first record supersedes it, and the follower then removes it), and only when it
 * names the base it sits beside.
 */
// No .json or .seg: a tool of before it lists a chain's records by those endings, and must not take it for one.
export const COVERAGE_FILE = "base-coverage";
export const baseCoverageSchema = z.object({
  schemaVersion: z.literal(1),
  baseBackupId: z.string(),
  baseRevision: z.number().int().nonnegative(),
  coveredAt: z.string().refine((s) => !Number.isNaN(Date.parse(s)), "coveredAt is not a time"),
});
export type BaseCoverage = z.infer<typeof baseCoverageSchema>;
export const coverageKey = (folder: string) => joinKey(folder, DELTAS_DIR, COVERAGE_FILE);

export function parseCoverage(bytes: Buffer, where: string): BaseCoverage {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw new VerificationError(`coverage ${where} is not JSON`);
  }
  const parsed = baseCoverageSchema.safeParse(json);
  if (!parsed.success) throw new VerificationError(`coverage ${where} is invalid: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

/** Until when every change etcd made is in the chain ending with this record. */
export const coveredUntil = (record: SegmentRecord): string => record.coveredAt ?? record.closedAt;

export interface SegmentEvent extends WatchEvent {
  /** When the backup received it (ms since epoch): what --at-time compares against. */
  readonly at: number;
  /** The TTL (seconds) the put's lease was granted with, as the source said; 0 when none or unknown. */
  readonly leaseTtl: number;
}

const pad = (n: number) => String(n).padStart(16, "0");
export const segmentName = (from: number, to: number) => `${pad(from)}-${pad(to)}`;
export const segmentKey = (folder: string, from: number, to: number) =>
  joinKey(folder, DELTAS_DIR, `${segmentName(from, to)}.seg`);
export const recordKey = (folder: string, from: number, to: number) =>
  joinKey(folder, DELTAS_DIR, `${segmentName(from, to)}.json`);

/** Encodes one event as its frame (version 2). */
export function encodeEvent(e: SegmentEvent): Buffer {
  const frame = Buffer.allocUnsafe(FIXED + e.key.length + e.value.length);
  let o = frame.writeUInt8(e.type === "delete" ? 1 : 0, 0);
  o = frame.writeBigUInt64BE(BigInt(e.revision), o);
  o = frame.writeBigUInt64BE(BigInt(e.at), o);
  o = frame.writeBigInt64BE(e.type === "delete" ? 0n : BigInt(e.lease), o);
  o = frame.writeUInt32BE(e.type === "delete" ? 0 : Math.min(e.leaseTtl, 0xffffffff), o);
  o = frame.writeUInt32BE(e.key.length, o);
  o += e.key.copy(frame, o);
  o = frame.writeUInt32BE(e.value.length, o);
  e.value.copy(frame, o);
  return frame;
}

/** Decodes a whole segment (either version); a truncated or malformed one is a VerificationError naming `where`. */
export function decodeSegment(bytes: Buffer, where: string): SegmentEvent[] {
  const bad = (why: string) => new VerificationError(`segment ${where} is damaged: ${why}`);
  const head = bytes.subarray(0, SEGMENT_MAGIC.length);
  const v2 = head.equals(SEGMENT_MAGIC);
  if (!v2 && !head.equals(SEGMENT_MAGIC_V1)) throw bad("it does not start with the segment header");
  const fixed = v2 ? FIXED : FIXED_V1;
  const events: SegmentEvent[] = [];
  let o = SEGMENT_MAGIC.length;
  while (o < bytes.length) {
    if (o + fixed - 4 > bytes.length) throw bad(`truncated event at byte ${o}`);
    const type = bytes.readUInt8(o);
    if (type > 1) throw bad(`unknown event type ${type} at byte ${o}`);
    const revision = Number(bytes.readBigUInt64BE(o + 1));
    const at = Number(bytes.readBigUInt64BE(o + 9));
    const lease = v2 ? bytes.readBigInt64BE(o + 17).toString() : "0";
    const leaseTtl = v2 ? bytes.readUInt32BE(o + 25) : 0;
    const keyLengthAt = v2 ? o + 29 : o + 17;
    const keyLength = bytes.readUInt32BE(keyLengthAt);
    const keyStart = keyLengthAt + 4;
    if (keyStart + keyLength + 4 > bytes.length) throw bad(`truncated key at byte ${keyStart}`);
    const valueLength = bytes.readUInt32BE(keyStart + keyLength);
    const valueStart = keyStart + keyLength + 4;
    if (valueStart + valueLength > bytes.length) throw bad(`truncated value at byte ${valueStart}`);
    events.push({
      type: type === 1 ? "delete" : "put",
      revision,
      at,
      lease,
      leaseTtl,
      key: Buffer.from(bytes.subarray(keyStart, keyStart + keyLength)),
      value: Buffer.from(bytes.subarray(valueStart, valueStart + valueLength)),
    });
    o = valueStart + valueLength;
  }
  return events;
}

export const sha256Hex = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

export function parseRecord(bytes: Buffer, where: string): SegmentRecord {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw new VerificationError(`segment record ${where} is not JSON`);
  }
  const parsed = segmentRecordSchema.safeParse(json);
  if (!parsed.success)
    throw new VerificationError(`segment record ${where} is invalid: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}
