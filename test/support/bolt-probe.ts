import { BoltFile, ELEMENT_SIZE, FLAG_BRANCH, FLAG_LEAF, PAGE_HEADER_SIZE } from "../../src/snapshot/bolt-file.js";

/** Where things are inside a bbolt file, found by walking it: the raw material for corruption tests. */
export interface BoltProbe {
  readonly pageSize: number;
  readonly pages: number;
  readonly rootPage: number;
  /** Top-level entries (etcd's buckets): name, file offset of the element header and of the value. */
  readonly rootEntries: ReadonlyArray<{
    name: string;
    elemOffset: number;
    valueOffset: number;
    vsize: number;
    inline: boolean;
  }>;
  /** Pages of bucket `key`'s tree. */
  readonly branchPages: ReadonlyArray<{ id: number; count: number; children: number[] }>;
  readonly leafPages: ReadonlyArray<{ id: number; count: number; overflow: number }>;
}

export function probe(path: string): BoltProbe {
  const file = BoltFile.open(path);
  try {
    const ps = file.pageSize;
    const rootPage = Number(file.meta.root);
    const root = file.page(rootPage);
    const rootEntries = [];
    for (let i = 0; i < root.count; i++) {
      const at = PAGE_HEADER_SIZE + ELEMENT_SIZE * i;
      const pos = root.data.readUInt32LE(at + 4);
      const ksize = root.data.readUInt32LE(at + 8);
      const vsize = root.data.readUInt32LE(at + 12);
      const name = root.data.subarray(at + pos, at + pos + ksize).toString("latin1");
      const valueOffset = rootPage * ps + at + pos + ksize;
      const inline = root.data.readBigUInt64LE(at + pos + ksize) === 0n;
      rootEntries.push({ name, elemOffset: rootPage * ps + at, valueOffset, vsize, inline });
    }
    const keyEntry = rootEntries.find((e) => e.name === "key");
    const branchPages: Array<{ id: number; count: number; children: number[] }> = [];
    const leafPages: Array<{ id: number; count: number; overflow: number }> = [];
    if (keyEntry && !keyEntry.inline) {
      const keyRoot = Number(file.readRaw(keyEntry.valueOffset, 8).readBigUInt64LE(0));
      const queue = [keyRoot];
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        const p = file.page(id);
        if (p.flags === FLAG_BRANCH) {
          const children = [];
          for (let i = 0; i < p.count; i++)
            children.push(Number(p.data.readBigUInt64LE(PAGE_HEADER_SIZE + ELEMENT_SIZE * i + 8)));
          branchPages.push({ id, count: p.count, children });
          queue.push(...children);
        } else if (p.flags === FLAG_LEAF) {
          leafPages.push({ id, count: p.count, overflow: p.overflow });
        }
      }
    }
    return { pageSize: ps, pages: file.highWaterMark, rootPage, rootEntries, branchPages, leafPages };
  } finally {
    file.close();
  }
}
