// Ctrl-C in a terminal sends SIGINT to the whole foreground process group: the CLI and every child it
// started (the demo's etcd members). A cancelled run must print the cancellation only — no second
// line about what the signal broke on the way — and exit 130, leaving nothing running.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { describe, it } from "node:test";
import { CLI } from "../support/cli.js";

/** Live (not zombie) processes whose parent is `ppid`: the demo's etcd members. */
function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // pid (comm) state ppid ...: comm may hold spaces, so read after its closing parenthesis.
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const [state, parent] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(parent) === ppid && state !== "Z") out.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return out;
}

const alive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
};

/** The demo in a process group of its own, as a shell runs a foreground job; SIGINT goes to the group. */
async function demoInterruptedAt(pattern: RegExp, extra: string[] = []) {
  const child = spawn(process.execPath, [CLI, "demo", ...extra], { stdio: ["ignore", "pipe", "pipe"], detached: true });
  let stdout = "";
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal })),
  );
  const pid = child.pid as number;
  try {
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stdout }).on("line", (line) => {
        stdout += `${line}\n`;
        if (pattern.test(line)) resolve();
      });
      exited.then(() => reject(new Error(`the demo ended before a line matched ${pattern}:\n${stdout}${stderr}`)));
    });
    const children = childrenOf(pid);
    process.kill(-pid, "SIGINT");
    const exit = await exited;
    return { ...exit, stdout, stderr, children };
  } finally {
    // Whatever happened, nothing the demo started outlives the test.
    for (const target of [-pid, ...childrenOf(pid)]) {
      try {
        process.kill(target, "SIGKILL");
      } catch {
        // already gone: good
      }
    }
  }
}

describe("demo interrupted by Ctrl-C (SIGINT to its process group): the cancellation line only, exit 130", () => {
  for (const [when, pattern, extra] of [
    ["while the etcd members start", /^starting a local 3-member etcd/, []],
    ["while it loads data", /^loading \d+ MiB/, ["--data-mib", "64"]],
    ["while the hosted cluster is backed up (paused, writers down)", /^backing up clusters\/example/, []],
  ] as const) {
    it(when, async () => {
      const r = await demoInterruptedAt(pattern, [...extra]);
      assert.equal(r.code, 130, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
      assert.deepEqual(r.stderr.trimEnd().split("\n"), ["hcp-etcd-backup: received SIGINT: stopping and cleaning up"]);
      // The members run in groups of their own (the terminal's SIGINT does not reach them): the demo stopped them.
      if (!when.includes("start")) assert.ok(r.children.length >= 3, "the members were running when the signal came");
      assert.deepEqual(r.children.filter(alive), [], "every etcd member the demo started is gone");
    });
  }
});
