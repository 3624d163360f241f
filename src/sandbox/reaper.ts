import type { ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";

/**
 * Last line of defence for the sandbox: whatever happens to this process (normal exit, uncaught
 * error, SIGINT/SIGTERM from a test runner's timeout), the daemons it started are SIGKILLed and
 * their temp directories removed. Orderly shutdown paths call `release` first; this only catches
 * what they missed.
 */
const children = new Set<ChildProcess>();
const dirs = new Set<string>();
let installed = false;

function reapAll(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
  }
  children.clear();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on("exit", reapAll);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      reapAll();
      // Re-raise so the exit status says we were killed by the signal.
      process.kill(process.pid, signal);
    });
  }
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
