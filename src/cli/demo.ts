import type { Command } from "commander";
import type { CliContext } from "./context.js";
import { examples } from "./examples.js";

export function registerDemo(program: Command, ctx: CliContext): void {
  program
    .command("demo")
    .description(
      "walk through a hosted cluster's backup: a local 3-member etcd with mutual TLS and a simulated management cluster (no cloud account needed)",
    )
    .addHelpText(
      "after",
      examples(
        ["The whole walk-through; nothing is left behind", "demo"],
        ["Keep the backup, the age identity and the patched manifests in a directory", "demo --store ./demo-store"],
      ),
    )
    .option("--members <n>", "etcd members", (v) => Number.parseInt(v, 10), 3)
    .option("--data-mib <n>", "MiB of sample data to load", (v) => Number.parseInt(v, 10), 8)
    .option("--store <dir>", "back up into this directory and keep it (default: a temp directory, removed)")
    .action(async (opts: { members: number; dataMib: number; store?: string }) => {
      const { runDemo } = await import("../demo/walkthrough.js");
      await runDemo({
        members: opts.members,
        dataBytes: opts.dataMib * 1024 * 1024,
        storeDir: opts.store,
        signal: ctx.signal,
        logger: ctx.logger,
        defer: (what, cleanup) => ctx.defer(what, cleanup),
        report: (line) => process.stdout.write(`${line}\n`),
      });
      process.stdout.write("demo finished\n");
    });
}
