/**
 * etcd's encodings inside the bbolt file: revision keys of bucket `key` and the `mvccpb.KeyValue`
 * protobuf stored as their values. Big-endian and protobuf, unlike bbolt's own little-endian structures.
 */

export interface Revision {
  readonly main: bigint;
  readonly sub: bigint;
  readonly tombstone: boolean;
}

/** Parses a `key` bucket key: 8-byte BE main, '_', 8-byte BE sub, and 't' for a tombstone. */
export function parseRevisionKey(key: Buffer): Revision | string {
  if (key.length !== 17 && key.length !== 18) return `revision key of ${key.length} bytes (expected 17 or 18)`;
  if (key[8] !== 0x5f) return "revision key without '_' separator";
  if (key.length === 18 && key[17] !== 0x74) return "18-byte revision key not marked as tombstone ('t')";
  const main = key.readBigInt64BE(0);
  const sub = key.readBigInt64BE(9);
  if (main < 0n || sub < 0n) return "negative revision in key";
  return { main, sub, tombstone: key.length === 18 };
}

/** The main revision of a `key` bucket key, read the way etcd 3.4's status does (first 8 bytes). */
export function mainRevision(key: Buffer): bigint | undefined {
  return key.length >= 8 ? key.readBigInt64BE(0) : undefined;
}

export interface KeyValue {
  readonly key: Buffer;
  readonly createRevision: bigint;
  readonly modRevision: bigint;
  readonly version: bigint;
  readonly value: Buffer;
  readonly lease: bigint;
}

const EMPTY: Buffer = Buffer.alloc(0);

/** Decodes `mvccpb.KeyValue`; unknown fields are skipped. Returns a reason string when malformed. */
export function decodeKeyValue(buf: Buffer): KeyValue | string {
  let pos = 0;
  const kv: { -readonly [K in keyof KeyValue]: KeyValue[K] } = {
    key: EMPTY,
    createRevision: 0n,
    modRevision: 0n,
    version: 0n,
    value: EMPTY,
    lease: 0n,
  };
  const varint = (): bigint | undefined => {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (pos >= buf.length) return undefined;
      const b = buf[pos++] as number;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return BigInt.asIntN(64, result);
      shift += 7n;
    }
    return undefined;
  };
  while (pos < buf.length) {
    const tag = varint();
    if (tag === undefined) return `truncated field tag at byte ${pos}`;
    const field = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    if (wire === 0) {
      const v = varint();
      if (v === undefined) return `truncated varint in field ${field}`;
      if (field === 2) kv.createRevision = v;
      else if (field === 3) kv.modRevision = v;
      else if (field === 4) kv.version = v;
      else if (field === 6) kv.lease = v;
    } else if (wire === 2) {
      const len = varint();
      if (len === undefined || len < 0n || pos + Number(len) > buf.length) return `bad length in field ${field}`;
      const bytes = buf.subarray(pos, pos + Number(len));
      pos += Number(len);
      if (field === 1) kv.key = bytes;
      else if (field === 5) kv.value = bytes;
    } else if (wire === 1) {
      pos += 8;
    } else if (wire === 5) {
      pos += 4;
    } else {
      return `unsupported wire type ${wire} in field ${field}`;
    }
    if (pos > buf.length) return `field ${field} runs past the end`;
  }
  return kv;
}
