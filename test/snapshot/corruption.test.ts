import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { fnv1a64 } from "../../src/snapshot/checksums.js";
import { SnapshotFileError } from "../../src/snapshot/errors.js";
import { liveKeys } from "../../src/snapshot/keys.js";
import { snapshotStatus } from "../../src/snapshot/status.js";
import { verifySnapshot } from "../../src/snapshot/verify.js";
import { type BoltProbe, probe } from "../support/bolt-probe.js";
import { makeRealSnapshots, type RealSnapshots } from "../support/snapshot-fixtures.js";

const FREELIST_FIXTURE = fileURLToPath(new URL("../fixtures/bbolt-page-sizes/db_4096_fl.db", import.meta.url));

interface Case {
  readonly name: string;
  readonly source: "many" | "overflow" | "freelist";
  readonly mutate: (bytes: Buffer, p: BoltProbe) => Buffer;
  /** Finding codes that must all be reported. */
  readonly expect: readonly string[];
  /** When set, these are the only codes allowed. */
  readonly only?: boolean;
}

const flip = (b: Buffer, offset: number, mask = 0x01) => {
  b[offset] = (b[offset] as number) ^ mask;
  return b;
};

/** Rewrites a meta page field and its FNV-1a checksum, as a forger would. */
function setMeta(b: Buffer, page: 0 | 1, ps: number, field: number, value: bigint): void {
  const base = page * ps;
  b.writeBigUInt64LE(value, base + field);
  b.writeBigUInt64LE(fnv1a64(b.subarray(base + 16, base + 72)), base + 72);
}

const elem = (p: BoltProbe, page: number, i: number) => page * p.pageSize + 16 + 16 * i;

// The corruption matrix of the snapshot format notes (§7.4), each case derived from a valid file.
const CASES: Case[] = [
  {
    name: "1 truncated to half",
    source: "many",
    mutate: (b) => b.subarray(0, Math.floor(b.length / 2)),
    expect: ["truncated", "trailer-missing"],
  },
  {
    name: "2 last 1000 bytes cut",
    source: "many",
    mutate: (b) => b.subarray(0, b.length - 1000),
    expect: ["trailer-missing", "truncated"],
  },
  {
    name: "3 bit flip in a leaf value",
    source: "many",
    mutate: (b, p) => {
      const leaf = p.leafPages[0];
      assert.ok(leaf);
      return flip(b, leaf.id * p.pageSize + p.pageSize - 40);
    },
    expect: ["trailer-mismatch"],
  },
  {
    name: "4 bit flip in an overflow continuation page",
    source: "overflow",
    mutate: (b, p) => {
      const big = p.leafPages.find((l) => l.overflow > 0);
      assert.ok(big, "the overflow fixture has an overflowing leaf");
      return flip(b, (big.id + 1) * p.pageSize + 100);
    },
    expect: ["trailer-mismatch"],
    only: true,
  },
  {
    name: "5 bit flip in unused page space",
    source: "many",
    mutate: (b, p) => flip(b, 0 * p.pageSize + 2000),
    expect: ["trailer-mismatch"],
    only: true,
  },
  {
    name: "6 meta 0 checksum",
    source: "many",
    mutate: (b) => flip(b, 72),
    expect: ["meta", "trailer-mismatch"],
    only: true,
  },
  {
    name: "7 both meta checksums",
    source: "many",
    mutate: (b, p) => flip(flip(b, 72), p.pageSize + 72),
    expect: ["meta", "trailer-mismatch"],
    only: true,
  },
  {
    name: "8 wrong trailer",
    source: "many",
    mutate: (b) => flip(b, b.length - 5),
    expect: ["trailer-mismatch"],
    only: true,
  },
  {
    name: "9 branch element pgid beyond the high-water mark",
    source: "many",
    mutate: (b, p) => {
      const br = p.branchPages[0];
      assert.ok(br, "the many fixture has a branch page");
      b.writeBigUInt64LE(BigInt(p.pages + 5), elem(p, br.id, 0) + 8);
      return b;
    },
    expect: ["page-bounds"],
  },
  {
    name: "10 meta root beyond the high-water mark (checksums recomputed)",
    source: "many",
    mutate: (b, p) => {
      setMeta(b, 0, p.pageSize, 32, BigInt(p.pages + 1));
      setMeta(b, 1, p.pageSize, 32, BigInt(p.pages + 1));
      return b;
    },
    expect: ["page-bounds"],
  },
  {
    name: "11 two branch elements point to the same child",
    source: "many",
    mutate: (b, p) => {
      const br = p.branchPages[0];
      assert.ok(br && br.count >= 2);
      b.writeBigUInt64LE(BigInt(br.children[0] as number), elem(p, br.id, 1) + 8);
      return b;
    },
    expect: ["multiple-references"],
  },
  {
    name: "12 page header id differs from its position",
    source: "many",
    mutate: (b, p) => {
      const leaf = p.leafPages[0];
      assert.ok(leaf);
      b.writeBigUInt64LE(77n, leaf.id * p.pageSize);
      return b;
    },
    expect: ["page-id"],
  },
  {
    name: "13 page flags 0x40",
    source: "many",
    mutate: (b, p) => {
      const leaf = p.leafPages[0];
      assert.ok(leaf);
      b.writeUInt16LE(0x40, leaf.id * p.pageSize + 8);
      return b;
    },
    expect: ["page-type"],
  },
  {
    name: "13b page flags 0x03 (branch|leaf bits)",
    source: "many",
    mutate: (b, p) => {
      const leaf = p.leafPages[0];
      assert.ok(leaf);
      b.writeUInt16LE(0x03, leaf.id * p.pageSize + 8);
      return b;
    },
    expect: ["page-type"],
  },
  {
    name: "14 two keys swapped in a leaf",
    source: "many",
    mutate: (b, p) => {
      const leaf = p.leafPages.find((l) => l.count >= 3);
      assert.ok(leaf);
      const at = (i: number) => {
        const e = elem(p, leaf.id, i);
        return e + b.readUInt32LE(e + 4);
      };
      const k1 = Buffer.from(b.subarray(at(1), at(1) + 17));
      b.copy(b, at(1), at(2), at(2) + 17);
      k1.copy(b, at(2));
      return b;
    },
    expect: ["key-order"],
  },
  {
    name: "15 leaf ksize beyond the page",
    source: "many",
    mutate: (b, p) => {
      const leaf = p.leafPages[0];
      assert.ok(leaf);
      b.writeUInt32LE(0x7fffffff, elem(p, leaf.id, 0) + 8);
      return b;
    },
    expect: ["element-bounds"],
  },
  {
    name: "16 huge overflow count",
    source: "many",
    mutate: (b, p) => {
      const leaf = p.leafPages[0];
      assert.ok(leaf);
      b.writeUInt32LE(0xfffffff0, leaf.id * p.pageSize + 12);
      return b;
    },
    expect: ["page-bounds"],
  },
  {
    name: "17 inline bucket page with non-leaf flags",
    source: "many",
    mutate: (b, p) => {
      const inline = p.rootEntries.find((e) => e.inline);
      assert.ok(inline, "etcd's empty buckets are inline");
      b.writeUInt16LE(0x01, inline.valueOffset + 16 + 8);
      return b;
    },
    expect: ["inline-bucket"],
  },
  {
    name: "18a persisted freelist: duplicated id",
    source: "freelist",
    mutate: (b) => {
      const fl = Number(b.readBigUInt64LE(48));
      b.writeBigUInt64LE(b.readBigUInt64LE(fl * 4096 + 16), fl * 4096 + 24);
      return b;
    },
    expect: ["already-freed", "unreachable-unfreed"],
  },
  {
    name: "18b persisted freelist: id dropped",
    source: "freelist",
    mutate: (b) => {
      const fl = Number(b.readBigUInt64LE(48));
      b.writeUInt16LE(b.readUInt16LE(fl * 4096 + 10) - 1, fl * 4096 + 10);
      return b;
    },
    expect: ["unreachable-unfreed"],
  },
  {
    name: "18c persisted freelist: reachable page listed",
    source: "freelist",
    mutate: (b) => {
      const fl = Number(b.readBigUInt64LE(48));
      b.writeBigUInt64LE(b.readBigUInt64LE(32), fl * 4096 + 16); // the root page
      return b;
    },
    expect: ["reachable-freed", "unreachable-unfreed"],
  },
  {
    name: "18d persisted freelist: id out of range",
    source: "freelist",
    mutate: (b) => {
      const fl = Number(b.readBigUInt64LE(48));
      b.writeBigUInt64LE(999_999n, fl * 4096 + 16);
      return b;
    },
    expect: ["freelist"],
  },
  {
    name: "18e persisted freelist: 0xFFFF count escape with a bad first word",
    source: "freelist",
    mutate: (b) => {
      const fl = Number(b.readBigUInt64LE(48));
      b.writeUInt16LE(0xffff, fl * 4096 + 10);
      b.writeBigUInt64LE(1n << 40n, fl * 4096 + 16);
      return b;
    },
    expect: ["freelist"],
  },
  {
    name: "19 root entry without the bucket flag",
    source: "many",
    mutate: (b, p) => {
      const e = p.rootEntries[0];
      assert.ok(e);
      b.writeUInt32LE(0, e.elemOffset);
      return b;
    },
    expect: ["root-entry"],
  },
  {
    name: "20 revision key with a bad separator",
    source: "many",
    mutate: (b, p) => {
      const leaf = p.leafPages[0];
      assert.ok(leaf);
      const e = elem(p, leaf.id, 0);
      return flip(b, e + b.readUInt32LE(e + 4) + 8, 0x20);
    },
    expect: ["revision-key"],
  },
  {
    name: "21 big-endian magic",
    source: "many",
    mutate: (b, p) => {
      for (const base of [0, p.pageSize]) b.writeUInt32BE(0xed0cdaed, base + 16);
      return b;
    },
    expect: ["meta"],
  },
];

describe("corruption matrix: verify reports each damage, nothing throws", () => {
  let snaps: RealSnapshots;
  const sources: Record<string, { bytes: Buffer; probe: BoltProbe }> = {};
  before(async () => {
    snaps = await makeRealSnapshots();
    for (const [name, path] of [
      ["many", snaps.many],
      ["overflow", snaps.overflow],
      ["freelist", FREELIST_FIXTURE],
    ] as const) {
      sources[name] = { bytes: readFileSync(path), probe: probe(path) };
    }
  });
  after(async () => {
    await snaps?.cleanup();
  });

  for (const c of CASES) {
    it(c.name, async () => {
      const src = sources[c.source];
      assert.ok(src);
      const path = join(snaps.dir, `case-${c.name.split(" ")[0]}.db`);
      writeFileSync(path, c.mutate(Buffer.from(src.bytes), src.probe));
      const report = await verifySnapshot(path, { etcdChecks: c.source !== "freelist" });
      const codes = new Set(report.findings.filter((f) => f.severity === "error").map((f) => f.code));
      assert.equal(report.ok, false);
      for (const code of c.expect) assert.ok(codes.has(code), `expected "${code}", got ${JSON.stringify([...codes])}`);
      if (c.only) assert.deepEqual([...codes].sort(), [...c.expect].sort());
      // status and keys may refuse the file, but only with a SnapshotFileError.
      for (const read of [() => snapshotStatus(path), () => liveKeys(path)]) {
        try {
          read();
        } catch (err) {
          assert.ok(err instanceof SnapshotFileError, `unexpected ${String(err)}`);
        }
      }
    });
  }

  it("6b: with meta 0 damaged, status is still computed from meta 1, as etcdctl does", () => {
    const src = sources.many;
    assert.ok(src);
    const path = join(snaps.dir, "meta0.db");
    writeFileSync(path, flip(Buffer.from(src.bytes), 72));
    assert.deepEqual(snapshotStatus(path), snapshotStatus(snaps.many));
  });
});
