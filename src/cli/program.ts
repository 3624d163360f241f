import { Command } from "commander";
import { toolVersion } from "../package-info.js";
import { registerBackup } from "./backup.js";
import { registerDemo } from "./demo.js";
import { registerList } from "./list.js";
import { registerPrune } from "./prune.js";
import { registerSnapshot } from "./snapshot.js";
import { registerVerify } from "./verify.js";

/** The command tree. Each command lives in its own file and only parses, calls the library, prints. */
export function buildProgram(): Command {
  const program = new Command("hcp-etcd-backup")
    .description("Back up and restore the etcd of HyperShift hosted control planes, verified, to S3 or a local store.")
    .version(toolVersion(), "-V, --version")
    .showSuggestionAfterError()
    .exitOverride()
    // Errors are printed once, by main(); help asked for by a missing subcommand still goes to stderr.
    .configureOutput({ outputError: () => {} });
  registerSnapshot(program);
  registerBackup(program);
  registerList(program);
  registerVerify(program);
  registerPrune(program);
  registerDemo(program);
  return program;
}
