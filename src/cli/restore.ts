import type { Command } from "commander";
import type { CliContext } from "./context.js";
import { registerRestoreLocal } from "./restore-local.js";
import { registerRestorePrepare } from "./restore-prepare.js";
import { registerRestoreWatch } from "./restore-watch.js";

/**
 * The `restore` group. Each subcommand lives in its own file (restore-prepare.ts, restore-watch.ts,
 * restore-local.ts) and is attached here.
 */
export function registerRestore(program: Command, ctx: CliContext): void {
  const restore = program
    .command("restore")
    .description("bring a backup back: a restore-ready HostedCluster, proof that etcd came back, local data dirs");
  registerRestorePrepare(restore, ctx);
  registerRestoreWatch(restore, ctx);
  registerRestoreLocal(restore, ctx);
}
