#!/usr/bin/env -S node --max-semi-space-size=4
// The flag caps V8's young generation at 4 MiB semi-spaces. Streaming a snapshot otherwise lets it
// grow to 16 MiB, after which the old generation's headroom is smaller than the young one and V8
// runs a full mark-compact every ~100 ms (40-60 per GiB in about half the runs, 1-2 s of CPU per
// GiB, +20-30 MiB RSS). The flag only takes effect on the command line, hence the shebang.
import { exitReport } from "./exit.js";
import { endQuietlyOnClosedStdout } from "./output.js";
import { buildProgram } from "./program.js";

// Two warnings that say nothing actionable to a user: the AWS SDK's notice that future releases
// need Node 22, and Node's deprecation of an IP address as TLS SNI (endpoints given as IPs).
const QUIET_WARNINGS = new Set(["NodeVersionSupportWarning", "DEP0123"]);
process.removeAllListeners("warning");
process.on("warning", (w: Error & { code?: string }) => {
  if (QUIET_WARNINGS.has(w.name) || (w.code !== undefined && QUIET_WARNINGS.has(w.code))) return;
  if (/NodeVersionSupportWarning/.test(w.message)) return;
  process.stderr.write(`hcp-etcd-backup: warning: ${w.message}\n`);
});

async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    const report = exitReport(err);
    if (report.message) process.stderr.write(`hcp-etcd-backup: ${report.message}\n`);
    if (process.env.HCPEB_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    // exitCode rather than exit(): lets stdout/stderr flush and finally-blocks finish.
    process.exitCode = report.code;
  }
}

endQuietlyOnClosedStdout();
await main(process.argv);
