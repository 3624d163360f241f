import { Command, Option } from "commander";
import { createLogger, LOG_LEVELS, type LogFormat, type LogLevel } from "../logging.js";
import { toolVersion } from "../package-info.js";
import { registerBackup } from "./backup.js";
import { registerCompletion } from "./completion.js";
import type { MutableCliContext } from "./context.js";
import { registerDemo } from "./demo.js";
import { registerDiff } from "./diff.js";
import { registerGet } from "./get.js";
import { registerList } from "./list.js";
import { jsonLines } from "./output.js";
import { registerPrune } from "./prune.js";
import { registerRestore } from "./restore.js";
import { registerResume } from "./resume.js";
import { registerSchedule } from "./schedule.js";
import { registerSnapshot } from "./snapshot.js";
import { registerVerify } from "./verify.js";

/** The command tree. Each command lives in its own file and only parses, calls the library, prints. */
export function buildProgram(ctx: MutableCliContext): Command {
  const program = new Command("hcp-etcd-backup")
    .description("Back up and restore the etcd of HyperShift hosted control planes, verified, to S3 or a local store.")
    .version(toolVersion(), "-V, --version")
    .addOption(
      new Option("--log-format <format>", "logs on stderr: text, or one JSON object a line (for Jobs)")
        .choices(["text", "json"])
        .default("text"),
    )
    .addOption(
      new Option(
        "--log-level <level>",
        "least severe log events shown (default: warn for text, info for json)",
      ).choices([...LOG_LEVELS]),
    )
    .showSuggestionAfterError()
    .exitOverride()
    // Errors are printed once, by main(); help asked for by a missing subcommand still goes to stderr.
    .configureOutput({ outputError: () => {} })
    .hook("preAction", (root) => {
      const o = root.opts<{ logFormat: LogFormat; logLevel?: LogLevel }>();
      ctx.logFormat = o.logFormat;
      jsonLines(o.logFormat === "json");
      ctx.logger = createLogger({
        format: o.logFormat,
        level: o.logLevel ?? (o.logFormat === "json" ? "info" : "warn"),
      });
    });
  registerSnapshot(program, ctx);
  registerBackup(program, ctx);
  registerResume(program, ctx);
  registerList(program, ctx);
  registerVerify(program, ctx);
  registerPrune(program, ctx);
  registerRestore(program, ctx);
  registerDemo(program, ctx);
  registerSchedule(program, ctx);
  registerGet(program, ctx);
  registerDiff(program, ctx);
  registerCompletion(program);
  return program;
}
