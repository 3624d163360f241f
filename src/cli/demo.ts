import { realpathSync } from "node:fs";
import type { Command } from "commander";
import type * as Sandbox from "../demo/walkthrough.js";
import { UsageError } from "../errors.js";
import { inSea } from "../sea.js";
import type { CliContext } from "./context.js";
import { examples } from "./examples.js";
import { countFlag } from "./options.js";

/** The demo's etcd keeps its default 2 GiB quota; the data, its revisions and the restore's copy fit under it. */
const MAX_DATA_MIB = 1024;

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
        ["Leave the sandbox up afterwards and try backup, list and restore by hand", "demo --keep-running"],
      ),
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
      const { runDemo } = await loadSandbox();
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

/** What a published install says instead: the sandbox ships with the checkout only. */
export const NO_SANDBOX =
  "demo: the sandbox (simulated management cluster and sample data) is not in this install; to run the demo, clone the hcp-etcd-backup repository and run `make demo` in it";

/**
 * The sandbox (src/demo + src/kubesim) is left out of the published package: the product never imports
 * it statically, and `demo` loads it here. A missing module of the sandbox itself means a published
 * install; any other failure to load is a real error and goes on as one.
 */
async function loadSandbox(): Promise<typeof Sandbox> {
  // The single executable bundles no sandbox data (the simulator's CRDs): say so before anything starts.
  if (inSea()) throw new UsageError(NO_SANDBOX);
  try {
    return await import("../demo/walkthrough.js");
  } catch (err) {
    const missing = (err as { code?: string }).code === "ERR_MODULE_NOT_FOUND";
    if (missing && /[/\\](demo|kubesim)[/\\][^/\\]+\.js'/.test(String((err as Error).message)))
      throw new UsageError(NO_SANDBOX, { cause: err });
    throw err;
  }
}
