import { Command } from "commander";
import { toolVersion } from "../package-info.js";
import { registerBackup } from "./backup.js";
import { registerCatalog } from "./catalog.js";
import { registerDemo } from "./demo.js";
import { registerSnapshot } from "./snapshot.js";

/** The command tree. Each command lives in its own file and only parses, calls the library, prints. */
export function buildProgram(): Command {
  const program = new Command("hcp-etcd-backup")
    .description("Back up and restore the etcd of HyperShift hosted control planes, verified, to S3 or a local store.")
    .version(toolVersion(), "-V, --version")
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({ writeErr: () => {} }); // errors are printed once, by main()
  registerSnapshot(program);
  registerBackup(program);
  registerCatalog(program);
  registerDemo(program);
  return program;
}
