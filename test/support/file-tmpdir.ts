/**
 * Gives each test file's process a temp directory of its own, so that two files running at once
 * (`make test` runs two, one per core) never see each other's daemons and directories: a test that
 * compares the temp directory before and after, or asserts that none of its daemons outlived it,
 * looks only at what its own file started. Children the file spawns (the CLI, etcd, Ceph) inherit it.
 *
 * Preloaded by strict-process.ts. Only the processes node's runner starts for test files take one
 * (NODE_TEST_CONTEXT=child…); the runner itself, and a `node --test FILE` run by hand, keep TMPDIR.
 * At exit the directory is removed when empty; one left behind names a leak, and the last file
 * (zz-no-leftovers.test.ts) finds it under the machine's temp root.
 */
import { mkdtempSync, readdirSync, rmdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { reapAll } from "../../src/localetcd/reaper.js";

/** Where the machine's temp directories are, as the runner saw it (set once, inherited by children). */
export const TEST_TMP_ROOT_ENV = "HCPEB_TEST_TMP_ROOT";
export const FILE_TMP_PREFIX = "hcpeb-file-";

export function machineTmpRoot(): string {
  return process.env[TEST_TMP_ROOT_ENV] ?? tmpdir();
}

if (process.env.NODE_TEST_CONTEXT?.startsWith("child") && process.env[TEST_TMP_ROOT_ENV] === undefined) {
  const root = tmpdir();
  const own = mkdtempSync(join(root, FILE_TMP_PREFIX));
  process.env[TEST_TMP_ROOT_ENV] = root;
  // os.tmpdir() reads TMPDIR on every call.
  process.env.TMPDIR = own;
  process.on("exit", () => {
    // This hook was installed first, so it runs before the reaper's: reap now (it is idempotent),
    // or the directory of a daemon the reaper is about to remove would count as a leak.
    reapAll();
    try {
      // Compile caches of the children a file spawns (tsx's tsx-<uid>, Node 22+'s node-compile-cache): not leaks.
      for (const name of readdirSync(own))
        if (/^(tsx-\d+|node-compile-cache)$/.test(name)) rmSync(join(own, name), { recursive: true, force: true });
      rmdirSync(own);
    } catch {
      // Not empty: something leaked; zz-no-leftovers.test.ts names it.
    }
  });
}
