import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const HOLDER = fileURLToPath(new URL("../support/fixtures/hold-sandbox.ts", import.meta.url));

function alive(pid: number): boolean {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/** Runs the holder, waits for its report, applies `end`, and returns what it had started. */
async function startAndEnd(
  mode: "signal" | "throw",
  signal: NodeJS.Signals = "SIGTERM",
): Promise<{ dirs: string[]; pids: number[]; exit: { code: number | null; sig: NodeJS.Signals | null } }> {
  const child = spawn(process.execPath, ["--import", "tsx", HOLDER, mode === "throw" ? "throw" : "wait"], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  const exited = new Promise<{ code: number | null; sig: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, sig) => resolve({ code, sig })),
  );
  const lines = createInterface({ input: child.stdout });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once("line", resolve);
    child.once("exit", () => reject(new Error("holder exited before reporting")));
  });
  const started = JSON.parse(first) as { dirs: string[]; pids: number[] };
  assert.equal(started.pids.length, 4, "one etcd member and three Ceph daemons");
  for (const pid of started.pids) assert.ok(alive(pid));
  if (mode === "signal") child.kill(signal);
  else child.stdin.end(); // the holder throws once its stdin closes
  const exit = await exited;
  return { ...started, exit };
}

describe("sandbox cleanup when the process that started it dies", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`kills the daemons and removes the temp dirs on ${signal}`, async () => {
      const { dirs, pids, exit } = await startAndEnd("signal", signal);
      assert.equal(exit.sig, signal, "the process still reports the signal that ended it");
      for (const pid of pids) assert.equal(alive(pid), false, `pid ${pid} survived`);
      for (const dir of dirs) assert.equal(existsSync(dir), false, `${dir} survived`);
    });
  }

  it("kills the daemons and removes the temp dirs on an uncaught exception", async () => {
    const { dirs, pids, exit } = await startAndEnd("throw");
    assert.notEqual(exit.code, 0);
    for (const pid of pids) assert.equal(alive(pid), false, `pid ${pid} survived`);
    for (const dir of dirs) assert.equal(existsSync(dir), false, `${dir} survived`);
  });
});
