// Runs last (the Makefile lists it last): every earlier test file must have stopped the daemons it
// started and removed its temp directories. Files run two at a time, so it first waits for the other
// one still running; each file worked in a temp directory of its own (support/file-tmpdir.ts), removed
// at its exit when empty, so a leak shows as that directory under the machine's temp root.
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { before, it } from "node:test";
import { FILE_TMP_PREFIX, machineTmpRoot, settleFileTmpDir } from "./support/file-tmpdir.js";
import { leftoverProcesses, leftoverTempDirs, listTree, siblingTestFiles } from "./support/leftovers.js";
import { waitFor } from "./support/wait.js";

before(async () => {
  // The longest test file takes about two minutes; the runner's own timeout is far above that.
  await waitFor("the other test files to finish", () => (siblingTestFiles().length === 0 ? true : undefined), 540_000);
});

it("leaves no etcd or Ceph process of the tests running", () => {
  assert.deepEqual(leftoverProcesses(), []);
});

it("leaves no temp directory of the tests behind", (t) => {
  const own = basename(tmpdir());
  const root = machineTmpRoot();
  const left: string[] = [];
  for (const d of leftoverTempDirs(root)) {
    if (d === own) continue;
    const path = join(root, d);
    if (!d.startsWith(FILE_TMP_PREFIX)) {
      left.push(`${d}: ${listTree(path, 12).join(", ") || "(empty)"}`);
      continue;
    }
    // A file's own directory: empty by now is not a leak (see file-tmpdir.ts); otherwise name the file.
    const { owner, left: entries } = settleFileTmpDir(path);
    // Not a failure, but worth seeing: which file's children were still cleaning up when it exited.
    if (entries.length === 0) t.diagnostic(`${owner ?? d}: its temp directory was emptied only after the file exited`);
    if (entries.length > 0)
      left.push(
        `${owner ?? d} left: ${listTree(path, 12)
          .filter((p) => !p.startsWith(".hcpeb-"))
          .join(", ")}`,
      );
  }
  assert.deepEqual(left, []);
});

it("leaves nothing of the tests in RAM (/dev/shm, where a replay's scratch etcd keeps its WAL)", () => {
  assert.deepEqual(
    readdirSync("/dev/shm").filter((d) => d.startsWith("hcpeb-")),
    [],
  );
});
