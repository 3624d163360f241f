import type { Command } from "commander";
import { UsageError } from "../errors.js";
import type { CliContext } from "./context.js";
import { examples } from "./examples.js";
import { addStoreReadOptions, outputOption, type StoreFlags, storeSettings, wholeNumber } from "./options.js";
import { toJson, write } from "./output.js";

interface PruneFlags extends StoreFlags {
  from?: string;
  keepLast?: number;
  keepDaily?: number;
  keepWeekly?: number;
  dryRun?: boolean;
  minAge: number;
  output: "text" | "json";
}

export function registerPrune(program: Command, ctx: CliContext): void {
  const pruneCmd = program
    .command("prune")
    .description("delete backups a retention policy does not keep, leftovers and unfinished uploads")
    .option("--from <store-url>", "s3://bucket/prefix, file:///path or a directory (required)")
    .option("--keep-last <n>", "keep the newest N backups of each label", wholeNumber)
    .option("--keep-daily <n>", "keep the newest backup of each of the last N days", wholeNumber)
    .option("--keep-weekly <n>", "keep the newest backup of each of the last N weeks", wholeNumber)
    .option("--dry-run", "print what would be deleted, delete nothing")
    .option(
      "--min-age <seconds>",
      "leave leftovers and uploads younger than this (a backup may be running)",
      wholeNumber,
      3600,
    )
    .addOption(outputOption())
    .addHelpText(
      "after",
      examples(
        [
          "See what a week of dailies and a month of weeklies would delete",
          "prune --from s3://hcp-backups/prod --keep-daily 7 --keep-weekly 4 --dry-run",
        ],
        ["Keep the newest 10 backups of each cluster", "prune --from s3://hcp-backups/prod --keep-last 10"],
      ),
    );
  addStoreReadOptions(pruneCmd);
  pruneCmd.action(async (flags: PruneFlags) => {
    if (!flags.from) throw new UsageError("missing --from: the store to prune");
    const { openStore } = await import("../store/open-store.js");
    const { prune } = await import("../backup/prune.js");
    const { describeLock } = await import("../store/object-lock.js");
    const r = await prune({
      store: openStore(flags.from, storeSettings(flags)),
      signal: ctx.signal,
      keepLast: flags.keepLast,
      keepDaily: flags.keepDaily,
      keepWeekly: flags.keepWeekly,
      dryRun: flags.dryRun === true,
      minAgeSeconds: flags.minAge,
    });
    if (flags.output === "json") {
      write(
        toJson({
          dryRun: r.dryRun,
          keep: r.plan.keep.map((k) => ({ ref: k.entry.ref, reasons: k.reasons })),
          remove: r.removed.map((b) => b.ref),
          // Objects of the delta segments removed with each continuous backup (none for a plain one).
          removedDeltaObjects: r.removed.reduce((n, b) => n + (b.deltas?.length ?? 0), 0),
          locked: r.locked.map((l) => ({
            ref: l.ref,
            retainUntil: l.lock.retainUntil,
            mode: l.lock.mode,
            legalHold: l.lock.legalHold,
          })),
          leftovers: r.leftovers.map((l) => l.folder),
          abortedUploads: r.abortedUploads,
        }),
      );
      return;
    }
    const verb = r.dryRun ? "would delete" : "deleted";
    for (const k of r.plan.keep) write(`keep    ${k.entry.ref} (${k.reasons.join(", ")})`);
    for (const b of r.removed) write(`${verb} ${b.ref}${chainText(b.deltas?.length ?? 0)}`);
    for (const l of r.locked) write(`kept    ${l.ref} (${describeLock(l.lock)}: S3 Object Lock refuses its deletion)`);
    for (const l of r.leftovers) write(`${verb} leftover ${l.folder} (no manifest)`);
    // An S3 multipart upload or a local .part file: "aborted" is only true of the first.
    if (!r.dryRun) write(`removed ${r.abortedUploads} unfinished upload(s)`);
  });
}

/** A continuous backup goes with its whole chain: said, so nobody looks for the segments afterwards. */
function chainText(deltaObjects: number): string {
  return deltaObjects > 0 ? ` with its chain (${deltaObjects} delta segment object(s))` : "";
}
