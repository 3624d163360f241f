// Runs last (the Makefile lists it last): every earlier test file must have stopped the daemons it
// started and removed its temp directories. Files run two at a time, so it first waits for the other
// one still running; each file worked in a temp directory of its own (support/file-tmpdir.ts), removed
// at its exit when empty, so a leak shows as that directory under the machine's temp root.
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import { basename } from "node:path";
import { before, it } from "node:test";
import { machineTmpRoot } from "./support/file-tmpdir.js";
import { leftoverProcesses, leftoverTempDirs, siblingTestFiles } from "./support/leftovers.js";
import { waitFor } from "./support/wait.js";

before(async () => {
  // The longest test file takes about two minutes; the runner's own timeout is far above that.
  await waitFor("the other test files to finish", () => (siblingTestFiles().length === 0 ? true : undefined), 540_000);
});

it("leaves no etcd or Ceph process of the tests running", () => {
  assert.deepEqual(leftoverProcesses(), []);
});

it("leaves no temp directory of the tests behind", () => {
  const own = basename(tmpdir());
  assert.deepEqual(
    leftoverTempDirs(machineTmpRoot()).filter((d) => d !== own),
    [],
  );
});
