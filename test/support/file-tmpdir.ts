/**
 * Gives each test file's process a temp directory of its own, so that two files running at once
 * (`make test` runs two, one per core) never see each other's daemons and directories: a test that
 * compares the temp directory before and after, or asserts that none of its daemons outlived it,
 * looks only at what its own file started. Children the file spawns (the CLI, etcd, Ceph) inherit it.
 *
 * Preloaded by strict-process.ts. Only the processes node's runner starts for test files take one
 * (NODE_TEST_CONTEXT=child…); the runner itself, and a `node --test FILE` run by hand, keep TMPDIR.
 * At exit the directory is removed when empty; one left behind says which test file it was (an owner
 * file inside), and the last file (zz-no-leftovers.test.ts) judges it: still empty of everything
 * but caches by then (a child of the file finished cleaning up after the file's process exited), it
 * is removed; anything else is a leak, reported with the file that left it.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { reapAll } from "../../src/localetcd/reaper.js";

/** Where the machine's temp directories are, as the runner saw it (set once, inherited by children). */
export const TEST_TMP_ROOT_ENV = "HCPEB_TEST_TMP_ROOT";
export const FILE_TMP_PREFIX = "hcpeb-file-";
/** Inside a file's directory left at exit: the test file's path. */
const OWNER_FILE = ".hcpeb-test-file";

export function machineTmpRoot(): string {
  return process.env[TEST_TMP_ROOT_ENV] ?? tmpdir();
}

/** Compile caches of the processes a test file spawns (tsx's tsx-<uid>, Node 22+'s node-compile-cache): not leaks. */
function isCache(name: string): boolean {
  return /^(tsx-\d+|node-compile-cache)$/.test(name);
}

/**
 * What a file's temp directory holds besides caches and the owner file, after removing the caches;
 * removes the directory when nothing else is left. `owner` is the test file, when it said.
 */
export function settleFileTmpDir(dir: string): { readonly owner?: string; readonly left: string[] } {
  let owner: string | undefined;
  const left: string[] = [];
  for (const name of readdirSync(dir)) {
    if (isCache(name)) rmSync(join(dir, name), { recursive: true, force: true });
    else if (name === OWNER_FILE) owner = readFileSync(join(dir, name), "utf8").trim();
    else left.push(name);
  }
  if (left.length === 0) rmSync(dir, { recursive: true, force: true });
  return { ...(owner ? { owner } : {}), left };
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
      if (settleFileTmpDir(own).left.length === 0) return;
      // Not empty: say whose it is, for zz-no-leftovers.test.ts to report.
      const file = process.argv.find((a) => a.endsWith(".test.ts"));
      writeFileSync(join(own, OWNER_FILE), file ? relative(process.cwd(), file) : "(unknown test file)");
    } catch {
      // Gone meanwhile: nothing to report.
    }
  });
}
