import { reapAll } from "../localetcd/reaper.js";
import { MutableCliContext } from "./context.js";
import { exitReport } from "./exit.js";
import { Interrupt } from "./interrupt.js";
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

/** The command line, parsed and run; errors become one line and an exit code (src/cli/exit.ts). */
export async function runMain(argv: string[]): Promise<void> {
  // The interrupt reports through the context, which exists by the time any signal can arrive.
  const interrupt = new Interrupt({ report: (line) => ctx.say("warn", line) });
  const ctx = new MutableCliContext(interrupt);
  interrupt.install();
  endQuietlyOnClosedStdout((code) => void interrupt.readerGone(code));
  // Daemons of the sandbox (demo) go last, whatever else was registered.
  interrupt.defer("stop sandbox daemons", reapAll);
  const work = buildProgram(ctx).parseAsync(argv);
  interrupt.track(work);
  try {
    await work;
  } catch (err) {
    // After a signal the interrupt handler reports and exits; the work's error is only the echo of it.
    if (interrupt.exiting) return;
    const report = exitReport(err);
    if (report.message) ctx.say("error", report.message, { exitCode: report.code });
    if (process.env.HCPEB_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    // exitCode rather than exit(): lets stdout/stderr flush and finally-blocks finish.
    process.exitCode = report.code;
  }
}
