// A restore is often prepared by a principal that may read the backups but not write them: the
// verification `restore prepare` runs must stand without being written back to the manifest.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { RENDERED_EXAMPLE } from "../../src/demo/rendered-example.js";
import { StoreError } from "../../src/errors.js";
import { prepareRestore } from "../../src/restore/prepare/prepare.js";
import { openStore } from "../../src/store/open-store.js";
import type { Store } from "../../src/store/store.js";
import { EtcdCluster } from "../support/etcd-cluster.js";
import { backupToLocalStore } from "./helpers.js";

/** The store as a read-only principal sees it: every write is refused the way S3 refuses it. */
function readOnly(store: Store): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === "put" || prop === "delete")
        return async () => {
          throw new StoreError(`AccessDenied: not allowed to write ${target.url}`);
        };
      const v = Reflect.get(target, prop, receiver);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

describe("restore prepare with read-only access to the store", () => {
  let etcd: EtcdCluster;
  let work: string;
  let ref: string;

  before(async () => {
    etcd = await EtcdCluster.start({ members: 1 });
    work = await mkdtemp(join(tmpdir(), "hcpeb-test-"));
    ref = await backupToLocalStore(etcd, join(work, "store"));
  });
  after(async () => {
    await etcd?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("verifies, warns that the result was not recorded, and patches; the manifest is untouched", async () => {
    const manifestBefore = readFileSync(join(ref, "manifest.json"), "utf8");
    const r = await prepareRestore({
      store: readOnly(openStore(ref)),
      rendered: { text: RENDERED_EXAMPLE, where: "example.yaml" },
      expiresInSeconds: 3600,
      link: {
        presign: async () => "https://s3.example.invalid/b/lab/snapshot.db",
        credentials: async () => ({ temporary: false }),
      },
    });
    const status = (id: string) => r.checks.find((c) => c.id === id);
    assert.equal(status("backup-verified")?.status, "pass");
    assert.equal(status("verification-recorded")?.status, "warn");
    assert.match(status("verification-recorded")?.reason ?? "", /not added to the manifest \(AccessDenied/);
    assert.equal(r.blocked, false);
    assert.match(r.yaml ?? "", /restoreSnapshotURL:\n\s*- https:\/\/s3\.example\.invalid/);
    assert.equal(readFileSync(join(ref, "manifest.json"), "utf8"), manifestBefore);
  });
});
