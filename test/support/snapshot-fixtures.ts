import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { releaseDir, trackDir } from "../../src/localetcd/reaper.js";
import { EtcdCluster } from "./etcd-cluster.js";
import { etcdctl } from "./etcdctl.js";

/**
 * Real snapshots made by the real etcd during the test run (snapshots are not reproducible byte
 * for byte: lease IDs, timing), each taken with `etcdctl snapshot save`, the oracle's own tool.
 */
export interface RealSnapshots {
  readonly dir: string;
  /** Right after start. */
  readonly empty: string;
  /** Puts, an overwrite, a delete (tombstone), a key attached to a lease. */
  readonly small: string;
  /** Adds a value spanning several pages (overflow pages). */
  readonly overflow: string;
  /** Adds 400 keys: branch pages. */
  readonly many: string;
  /** Writes after `many`, then a compaction. */
  readonly compacted: string;
  /** Auth enabled (users and roles). */
  readonly auth: string;
  /** The writes made between `many` and `compacted`. */
  readonly writesAfterMany: { readonly put: readonly string[]; readonly deleted: readonly string[] };
  readonly cluster: EtcdCluster;
  cleanup(): Promise<void>;
}

export async function makeRealSnapshots(): Promise<RealSnapshots> {
  const dir = await mkdtemp(join(tmpdir(), "hcpeb-snapfix-"));
  trackDir(dir);
  const cluster = await EtcdCluster.start({ members: 1 });
  const save = async (name: string) => {
    const path = join(dir, `${name}.db`);
    await etcdctl(cluster, ["snapshot", "save", path]);
    return path;
  };
  try {
    const client = await cluster.client(0);
    try {
      const empty = await save("empty");
      await client.put("/registry/a", "1");
      await client.put("/registry/b", "2");
      await client.put("/registry/a", "1-changed");
      await client.delete("/registry/b");
      const lease = await client.leaseGrant(3600);
      await client.put("/registry/leased", "v", lease);
      const small = await save("small");
      await client.put("/registry/big", Buffer.alloc(20_000, "x"));
      const overflow = await save("overflow");
      for (let i = 0; i < 400; i++)
        await client.put(`/registry/many/${String(i).padStart(4, "0")}`, `value-${i}-${"y".repeat(100)}`);
      const many = await save("many");
      const put = ["/registry/many/0001", "/registry/new-1", "/registry/new-2"];
      for (const k of put) await client.put(k, `after-${k}`);
      const deleted = ["/registry/many/0002", "/registry/a"];
      for (const k of deleted) await client.delete(k);
      const rev = await client.put("/registry/new-2", "after-/registry/new-2-again");
      await client.compact(rev - 1);
      const compacted = await save("compacted");
      await etcdctl(cluster, ["user", "add", "root", "--new-user-password=not-a-secret"]);
      await etcdctl(cluster, ["role", "add", "reader"]);
      await etcdctl(cluster, ["auth", "enable"]);
      const auth = await save("auth");
      return {
        dir,
        empty,
        small,
        overflow,
        many,
        compacted,
        auth,
        writesAfterMany: { put: [...put, "/registry/new-2"], deleted },
        cluster,
        async cleanup() {
          await cluster.stop();
          releaseDir(dir);
        },
      };
    } finally {
      client.close();
    }
  } catch (err) {
    await cluster.stop();
    releaseDir(dir);
    throw err;
  }
}
