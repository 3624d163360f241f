import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { it } from "node:test";
import { cgroupRoom, makeMemoryDir } from "../../src/scratch.js";

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

it("the room left under a cgroup's memory limit, v1 and v2, counts; no limit is no bound", async () => {
  const root = mkdtempSync(join(tmpdir(), "hcpeb-unit-cgroup-"));
  try {
    const file = (path: string, text: string) => {
      mkdirSync(join(root, path, ".."), { recursive: true });
      writeFileSync(join(root, path), text);
    };
    file("v2/proc", "0::/kubepods/pod1\n");
    file("v2/sys/kubepods/pod1/memory.max", "2147483648\n");
    file("v2/sys/kubepods/pod1/memory.current", "536870912\n");
    assert.equal(await cgroupRoom(join(root, "v2/proc"), join(root, "v2/sys")), 1610612736);
    file("v1/proc", "5:memory:/pod2\n0::/\n");
    file("v1/sys/memory/pod2/memory.limit_in_bytes", "1073741824\n");
    file("v1/sys/memory/pod2/memory.usage_in_bytes", "1073741824\n");
    assert.equal(await cgroupRoom(join(root, "v1/proc"), join(root, "v1/sys")), 0);
    file("none/proc", "0::/\n");
    file("none/sys/memory.max", "max\n");
    assert.equal(await cgroupRoom(join(root, "none/proc"), join(root, "none/sys")), Number.POSITIVE_INFINITY);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
