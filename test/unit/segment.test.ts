import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeSegment, encodeEvent, SEGMENT_MAGIC, type SegmentEvent } from "../../src/continuous/segment.js";
import { VerificationError } from "../../src/errors.js";

const put: SegmentEvent = {
  type: "put",
  revision: 42,
  at: 1_765_000_000_000,
  key: Buffer.from("k"),
  value: Buffer.from("value"),
  lease: "7587862015329953547", // above 2^53: must survive as text
  leaseTtl: 3600,
};
const del: SegmentEvent = {
  type: "delete",
  revision: 43,
  at: 1,
  key: Buffer.from("k"),
  value: Buffer.alloc(0),
  lease: "0",
  leaseTtl: 0,
};

describe("delta segment frames", () => {
  it("round-trips puts with their lease ID and TTL, and deletes", () => {
    const bytes = Buffer.concat([SEGMENT_MAGIC, encodeEvent(put), encodeEvent(del)]);
    assert.deepEqual(decodeSegment(bytes, "s"), [put, del]);
  });

  it("still reads version 1 segments (no lease fields): their puts carry no lease", () => {
    const frame = Buffer.alloc(1 + 8 + 8 + 4 + 1 + 4 + 2);
    let o = frame.writeUInt8(0, 0);
    o = frame.writeBigUInt64BE(7n, o);
    o = frame.writeBigUInt64BE(9n, o);
    o = frame.writeUInt32BE(1, o);
    o += Buffer.from("a").copy(frame, o);
    o = frame.writeUInt32BE(2, o);
    Buffer.from("vv").copy(frame, o);
    const [e] = decodeSegment(Buffer.concat([Buffer.from("HCPEB-SEG 1\n"), frame]), "s");
    assert.deepEqual(e, {
      type: "put",
      revision: 7,
      at: 9,
      key: Buffer.from("a"),
      value: Buffer.from("vv"),
      lease: "0",
      leaseTtl: 0,
    });
  });

  it("a truncated segment is a VerificationError naming it", () => {
    const bytes = Buffer.concat([SEGMENT_MAGIC, encodeEvent(put)]);
    assert.throws(
      () => decodeSegment(bytes.subarray(0, bytes.length - 2), "s3://b/x.seg"),
      (err: unknown) => {
        assert.ok(err instanceof VerificationError);
        assert.match(err.message, /segment s3:\/\/b\/x\.seg is damaged: truncated value/);
        return true;
      },
    );
  });
});
