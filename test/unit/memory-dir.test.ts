import assert from "node:assert/strict";
import { rmSync, statSync } from "node:fs";
import { it } from "node:test";
import { makeMemoryDir } from "../../src/scratch.js";

it("a RAM-backed scratch directory is made in /dev/shm (0700) when it has room", async () => {
  const dir = await makeMemoryDir("hcpeb-unit-", 1);
  if (!dir) return assert.fail("no directory made in /dev/shm");
  assert.ok(dir.startsWith("/dev/shm/hcpeb-unit-"), dir);
  try {
    assert.equal(statSync(dir).mode & 0o777, 0o700);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it("none when the tmpfs has too little room or is missing: the caller's disk is used instead", async () => {
  assert.equal(await makeMemoryDir("hcpeb-unit-", Number.MAX_SAFE_INTEGER), undefined);
  assert.equal(await makeMemoryDir("hcpeb-unit-", 1, "/nonexistent-hcpeb"), undefined);
  // A directory that is not a tmpfs mount's: /proc is procfs.
  assert.equal(await makeMemoryDir("hcpeb-unit-", 1, "/proc"), undefined);
});
