import type { Command } from "commander";
import { VerificationError } from "../errors.js";
import type { CliContext } from "./context.js";
import { addMetricsOptions, type MetricsFlags, metricsReport } from "./metrics-options.js";
import { addStoreReadOptions, addStoreUploadOptions, outputOption, type StoreFlags, storeSettings } from "./options.js";
import { toJson, write } from "./output.js";

interface VerifyFlags extends StoreFlags, MetricsFlags {
  output: "text" | "json";
  scratchDir?: string;
  structure: boolean;
}

export function registerVerify(program: Command, ctx: CliContext): void {
  const verify = program
    .command("verify <backup-ref>")
    .description("re-read a stored backup and prove it matches its manifest (exit 3 if not)")
    .option("--scratch-dir <dir>", "where a remote snapshot is staged for the structural check (default: temp dir)")
    .option("--no-structure", "skip the structural check of remote snapshots (no local disk needed)")
    .addOption(outputOption());
  addStoreReadOptions(verify);
  // verify writes the manifest back with its result: a bucket that demands encryption headers needs them here too.
  addStoreUploadOptions(verify);
  addMetricsOptions(verify);
  verify.action(async (ref: string, flags: VerifyFlags) => {
    const metrics = await metricsReport(flags, ctx);
    const { openStore } = await import("../store/open-store.js");
    const { verifyBackup } = await import("../backup/verify-backup.js");
    const { storeRootOf } = await import("../store/layout.js");
    const r = await verifyBackup(openStore(ref, storeSettings(flags)), {
      scratchDir: flags.structure === false ? false : flags.scratchDir,
      signal: ctx.signal,
    });
    const { label, backupId } = r.manifest;
    metrics.verified({ cluster: label, store: storeRootOf(r.ref, label, backupId) }, r.verification);
    await metrics.publish();
    if (flags.output === "json")
      write(toJson({ ref: r.ref, ok: r.verification.ok, verification: r.verification, problems: r.problems }));
    else {
      write(`${r.ref}: ${r.verification.ok ? "OK" : "FAILED"} (${r.verification.checks.join(", ")})`);
      for (const p of r.problems) write(`  ${p}`);
    }
    if (!r.verification.ok) throw new VerificationError(`backup ${ref} failed verification: ${r.problems[0]}`);
  });
}
