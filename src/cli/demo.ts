import { realpathSync } from "node:fs";
import type { Command } from "commander";
import type { CliContext } from "./context.js";
import { countFlag } from "./options.js";

/** The demo's etcd keeps its default 2 GiB quota; the data, its revisions and the restore's copy fit under it. */
const MAX_DATA_MIB = 1024;

export function registerDemo(program: Command, ctx: CliContext): void {
  program
    .command("demo")
    .description(
      "walk through a hosted cluster's backup: a local 3-member etcd with mutual TLS and a simulated management cluster (no cloud account needed)",
    )
    .option("--members <n>", "etcd members (1 to 9)", (v) => countFlag("--members", v, 1, 9), 3)
    .option(
      "--data-mib <n>",
      `MiB of sample data to load (1 to ${MAX_DATA_MIB})`,
      (v) => countFlag("--data-mib", v, 1, MAX_DATA_MIB),
      8,
    )
    .option("--store <dir>", "back up into this directory and keep it (default: a temp directory, removed)")
    .option(
      "--keep-running",
      "afterwards leave the simulated management cluster and its etcd up and print commands to try against them; Ctrl-C stops them (exit 130)",
    )
    .action(async (opts: { members: number; dataMib: number; store?: string; keepRunning?: boolean }) => {
      const { runDemo } = await import("../demo/walkthrough.js");
      await runDemo({
        members: opts.members,
        dataBytes: opts.dataMib * 1024 * 1024,
        storeDir: opts.store,
        signal: ctx.signal,
        logger: ctx.logger,
        defer: (what, cleanup) => ctx.defer(what, cleanup),
        report: (line) => process.stdout.write(`${line}\n`),
        ...(opts.keepRunning ? { keepRunning: { command: realpathSync(process.argv[1] as string) } } : {}),
      });
      process.stdout.write("demo finished\n");
    });
}
