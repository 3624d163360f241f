/**
 * Preloaded into every test process (Makefile NODE_TEST: `--import ./test/support/strict-process.ts`).
 * An unhandled rejection is a bug even when every assertion passed (a part upload that failed with
 * nobody listening, say), but node:test may only print it: here it fails the file's process.
 */
process.on("unhandledRejection", (reason) => {
  const text = reason instanceof Error ? (reason.stack ?? reason.message) : String(reason);
  process.stderr.write(`strict-process: unhandled rejection: ${text}\n`);
  process.exitCode = 1;
});
