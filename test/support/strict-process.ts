/**
 * Preloaded into every test process (Makefile NODE_TEST: `--import ./test/support/strict-process.ts`).
 * An unhandled rejection is a bug even when every assertion passed (a part upload that failed with
 * nobody listening, say), but node:test may only print it: here it fails the file's process.
 * It also scrubs the caller's environment (hermetic-env.ts) and gives the file a temp directory of
 * its own (file-tmpdir.ts) before any test module loads.
 */
import "./hermetic-env.js";
import "./file-tmpdir.js";

process.on("unhandledRejection", (reason) => {
  const text = reason instanceof Error ? (reason.stack ?? reason.message) : String(reason);
  process.stderr.write(`strict-process: unhandled rejection: ${text}\n`);
  process.exitCode = 1;
});

// The AWS SDK warns on every import that its 2027 releases need Node 22: noise in every test's output
// (the CLI silences it the same way, src/cli/run.ts). Every other warning still prints.
process.removeAllListeners("warning");
process.on("warning", (w: Error) => {
  if (w.name === "NodeVersionSupportWarning" || /NodeVersionSupportWarning/.test(w.message)) return;
  process.stderr.write(`${w.name}: ${w.message}\n`);
});
