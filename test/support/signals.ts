// The tests' process owner for signals (the CLI's is src/cli/run.ts). A test file whose process
// gets SIGINT/SIGTERM/SIGHUP (Ctrl-C, the runner's timeout) reaps the sandbox daemons it started,
// then dies of the same signal, so the exit status still tells what happened.
import { reapAll } from "../../src/localetcd/reaper.js";

let installed = false;

export function reapOnSignals(): void {
  if (installed) return;
  installed = true;
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      reapAll();
      process.kill(process.pid, signal);
    });
  }
}
