import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { crc32cPortable, createCrc32c, fnv1a64 } from "../../src/snapshot/checksums.js";
import { decodeKeyValue, parseRevisionKey } from "../../src/snapshot/etcd-model.js";
import { normalizeSemver } from "../../src/snapshot/status.js";
import { formatStatus, humanizeBytes } from "../../src/snapshot/status-format.js";

describe("checksums", () => {
  it("computes CRC-32C check values, native and portable alike, in one piece or many", () => {
    const data = Buffer.from("123456789");
    assert.equal(crc32cPortable(data), 0xe3069283);
    for (const portable of [false, true]) {
      const one = createCrc32c({ portable });
      one.update(data);
      assert.equal(one.digest(), 0xe3069283);
    }
    const big = randomBytes(300_000);
    const pieces = createCrc32c();
    for (let off = 0; off < big.length; ) {
      const n = 1 + ((off * 7919) % 9000); // small and large pieces, crossing the batch size
      pieces.update(big.subarray(off, off + n));
      off += n;
    }
    assert.equal(pieces.digest(), crc32cPortable(big));
    // digest starts over: the same instance then hashes a new input from scratch
    pieces.update(data);
    assert.equal(pieces.digest(), 0xe3069283);
  });

  it("combines CRC-32Cs of two pieces into the CRC-32C of both", async () => {
    const { crc32cCombine } = await import("../../src/snapshot/crc32c-combine.js");
    for (const [la, lb] of [
      [0, 5],
      [5, 0],
      [1, 1],
      [100, 3000],
      [4096, 70000],
    ] as const) {
      const a = randomBytes(la);
      const b = randomBytes(lb);
      assert.equal(
        crc32cCombine(crc32cPortable(a), crc32cPortable(b), lb),
        crc32cPortable(Buffer.concat([a, b])),
        `${la}+${lb}`,
      );
    }
  });

  it("computes FNV-1a 64 test vectors", () => {
    assert.equal(fnv1a64(Buffer.alloc(0)), 0xcbf29ce484222325n);
    assert.equal(fnv1a64(Buffer.from("a")), 0xaf63dc4c8601ec8cn);
    assert.equal(fnv1a64(Buffer.from("foobar")), 0x85944171f73967e8n);
  });
});

describe("status formatting", () => {
  it("humanizes sizes like go-humanize, rounding halves to even", () => {
    const cases: Array<[number, string]> = [
      [9, "9 B"],
      [10, "10 B"],
      [1000, "1.0 kB"],
      [20480, "20 kB"],
      [126976, "127 kB"],
      [126500, "126 kB"],
      [125500, "126 kB"],
      [999999, "1000 kB"],
      [1000000, "1.0 MB"],
      [2097152, "2.1 MB"],
      [4294967296, "4.3 GB"],
    ];
    for (const [n, want] of cases) assert.equal(humanizeBytes(n), want, String(n));
  });

  it("renders the table with unpadded hex, and the 3.6 version column", () => {
    const s = { hash: 0xabc, revision: 7n, totalKey: 3, totalSize: 20480, version: "" };
    assert.equal(
      formatStatus(s, "table", "3.4"),
      [
        "+------+----------+------------+------------+",
        "| HASH | REVISION | TOTAL KEYS | TOTAL SIZE |",
        "+------+----------+------------+------------+",
        "|  abc |        7 |          3 |      20 kB |",
        "+------+----------+------------+------------+",
        "",
      ].join("\n"),
    );
    assert.equal(
      formatStatus({ ...s, version: "3.6.0" }, "table", "3.6"),
      [
        "+------+----------+------------+------------+---------+",
        "| HASH | REVISION | TOTAL KEYS | TOTAL SIZE | VERSION |",
        "+------+----------+------------+------------+---------+",
        "|  abc |        7 |          3 |      20 kB |   3.6.0 |",
        "+------+----------+------------+------------+---------+",
        "",
      ].join("\n"),
    );
    assert.equal(formatStatus(s, "simple", "3.6"), "abc, 7, 3, 20 kB, \n");
    assert.equal(
      formatStatus(s, "json", "3.6"),
      '{"hash":2748,"revision":7,"totalKey":3,"totalSize":20480,"version":""}\n',
    );
    assert.equal(
      formatStatus(s, "fields", "3.6"),
      '"Hash" : 2748\n"Revision" : 7\n"Keys" : 3\n"Size" : 20480\n"Version" : \n',
    );
  });

  it("normalises storage versions like go-semver", () => {
    assert.equal(normalizeSemver("3.6.0"), "3.6.0");
    assert.equal(normalizeSemver("03.6.0"), "3.6.0");
    assert.equal(normalizeSemver("3.6"), "");
    assert.equal(normalizeSemver("3.6.0-rc.1+abc"), "3.6.0-rc.1+abc");
  });
});

describe("etcd encodings", () => {
  const revKey = (main: bigint, sub: bigint, tomb = false) => {
    const b = Buffer.alloc(tomb ? 18 : 17);
    b.writeBigInt64BE(main, 0);
    b[8] = 0x5f;
    b.writeBigInt64BE(sub, 9);
    if (tomb) b[17] = 0x74;
    return b;
  };

  it("parses revision keys and rejects malformed ones", () => {
    assert.deepEqual(parseRevisionKey(revKey(307n, 1n)), { main: 307n, sub: 1n, tombstone: false });
    assert.deepEqual(parseRevisionKey(revKey(5n, 0n, true)), { main: 5n, sub: 0n, tombstone: true });
    assert.match(String(parseRevisionKey(Buffer.alloc(16))), /16 bytes/);
    const noSep = revKey(1n, 0n);
    noSep[8] = 0x78;
    assert.match(String(parseRevisionKey(noSep)), /separator/);
    assert.match(String(parseRevisionKey(revKey(-1n, 0n))), /negative/);
  });

  it("decodes KeyValue with negative int64 and leases above 2^53", () => {
    const varint = (v: bigint) => {
      let x = BigInt.asUintN(64, v);
      const out: number[] = [];
      do {
        let b = Number(x & 0x7fn);
        x >>= 7n;
        if (x > 0n) b |= 0x80;
        out.push(b);
      } while (x > 0n);
      return Buffer.from(out);
    };
    const lease = 2324035609444304905n;
    const msg = Buffer.concat([
      Buffer.from([0x0a, 6]),
      Buffer.from("leased"),
      Buffer.from([0x10]),
      varint(6n),
      Buffer.from([0x18]),
      varint(6n),
      Buffer.from([0x20]),
      varint(-1n),
      Buffer.from([0x2a, 1]),
      Buffer.from("v"),
      Buffer.from([0x30]),
      varint(lease),
      Buffer.from([0x3d, 1, 2, 3, 4]), // unknown fixed32 field 7: skipped
    ]);
    const kv = decodeKeyValue(msg);
    assert.ok(typeof kv !== "string", String(kv));
    assert.equal(kv.key.toString(), "leased");
    assert.equal(kv.createRevision, 6n);
    assert.equal(kv.version, -1n);
    assert.equal(kv.value.toString(), "v");
    assert.equal(kv.lease, lease);
    assert.match(String(decodeKeyValue(msg.subarray(0, 5))), /bad length|truncated/);
  });
});
