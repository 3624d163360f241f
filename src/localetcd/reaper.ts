import type { ChildProcess } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";

/**
 * Last line of defence for the sandbox: whenever this process exits (normally, on an uncaught
 * error, or through a signal handler), the daemons it started are SIGKILLed and their temp
 * directories removed. Orderly shutdown paths call `releaseDir`/`stop` first; this only catches
 * what they missed. Signals are not handled here: the process owner (src/cli/main.ts, or the
 * tests' preload) runs `reapAll` as a cleanup and exits, which also fires the exit hook.
 */
const children = new Set<ChildProcess>();
const dirs = new Set<string>();
let installed = false;

export function reapAll(): void {
  const killed: number[] = [];
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        child.kill("SIGKILL");
        killed.push(child.pid);
      } catch {
        // already gone
      }
    }
  }
  children.clear();
  waitUntilDeadSync(killed, 3000);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}

/**
 * SIGKILL is delivered asynchronously; this process may be about to exit, so block (briefly) until
 * each victim is a zombie or gone. Nothing may observe a "killed" daemon still running.
 */
function waitUntilDeadSync(pids: number[], budgetMs: number): void {
  const deadline = Date.now() + budgetMs;
  const tick = new Int32Array(new SharedArrayBuffer(4));
  for (const pid of pids) {
    while (Date.now() < deadline && isRunning(pid)) Atomics.wait(tick, 0, 0, 1);
  }
}

function isRunning(pid: number): boolean {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on("exit", reapAll);
}

export function trackChild(child: ChildProcess): void {
  install();
  children.add(child);
  child.once("exit", () => children.delete(child));
}

export function trackDir(dir: string): void {
  install();
  dirs.add(dir);
}

export function releaseDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  dirs.delete(dir);
}
