import type { Command } from "commander";
import { UsageError, VerificationError } from "../errors.js";
import type { CliContext } from "./context.js";
import { addStoreOptions, outputOption, type StoreFlags, storeSettings } from "./options.js";
import { toJson, write } from "./output.js";

interface ListFlags extends StoreFlags {
  from?: string;
  label?: string;
  output: "table" | "json";
}

interface VerifyFlags extends StoreFlags {
  output: "text" | "json";
  scratchDir?: string;
  structure: boolean;
}

interface PruneFlags extends StoreFlags {
  from?: string;
  keepLast?: number;
  keepDaily?: number;
  keepWeekly?: number;
  dryRun?: boolean;
  minAge: number;
  output: "text" | "json";
}

const count = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`expected a whole number >= 0, got "${v}"`);
  return n;
};

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

export function registerCatalog(program: Command, _ctx: CliContext): void {
  const list = program
    .command("list")
    .description("backups in a store, newest first (only those with a manifest exist)")
    .option("--from <store-url>", "s3://bucket/prefix, file:///path or a directory")
    .option("--label <label>", "only this backup series")
    .addOption(outputOption(["table", "json"]));
  addStoreOptions(list);
  list.action(async (flags: ListFlags) => {
    if (!flags.from) throw new UsageError("missing --from: the store to list (s3://bucket/prefix or a directory)");
    const { openStore } = await import("../store/open-store.js");
    const { readCatalog } = await import("../store/catalog.js");
    const catalog = await readCatalog(
      openStore(flags.from, storeSettings(flags)),
      flags.label ? { label: flags.label } : {},
    );
    if (flags.output === "json") {
      write(
        toJson(
          catalog.backups.map((b) => ({
            ref: b.ref,
            label: b.manifest.label,
            backupId: b.manifest.backupId,
            createdAt: b.manifest.createdAt,
            revision: b.manifest.snapshot.revision,
            totalKeys: b.manifest.snapshot.totalKeys,
            size: b.manifest.snapshot.objectSize,
            sha256: b.manifest.snapshot.sha256,
            verified: b.verified,
            lastVerified: b.manifest.verifications.at(-1)?.at,
          })),
        ),
      );
      return;
    }
    const rows = [["REF", "LABEL", "CREATED", "REVISION", "KEYS", "SIZE", "VERIFIED"]];
    for (const b of catalog.backups) {
      const m = b.manifest;
      rows.push([
        b.ref,
        m.label,
        m.createdAt,
        String(m.snapshot.revision),
        String(m.snapshot.totalKeys),
        `${(m.snapshot.objectSize / 1048576).toFixed(1)} MiB`,
        b.verified ? "yes" : "FAILED",
      ]);
    }
    write(catalog.backups.length === 0 ? `no backups in ${flags.from}` : table(rows));
    for (const b of catalog.broken) process.stderr.write(`hcp-etcd-backup: warning: ${b.folder}: ${b.reason}\n`);
  });

  const verify = program
    .command("verify <backup-ref>")
    .description("re-read a stored backup and prove it matches its manifest (exit 3 if not)")
    .option("--scratch-dir <dir>", "where a remote snapshot is staged for the structural check (default: temp dir)")
    .option("--no-structure", "skip the structural check of remote snapshots (no local disk needed)")
    .addOption(outputOption());
  addStoreOptions(verify);
  verify.action(async (ref: string, flags: VerifyFlags) => {
    const { openStore } = await import("../store/open-store.js");
    const { verifyBackup } = await import("../backup/verify-backup.js");
    const r = await verifyBackup(openStore(ref, storeSettings(flags)), {
      scratchDir: flags.structure === false ? false : flags.scratchDir,
    });
    if (flags.output === "json")
      write(toJson({ ref: r.ref, ok: r.verification.ok, verification: r.verification, problems: r.problems }));
    else {
      write(`${r.ref}: ${r.verification.ok ? "OK" : "FAILED"} (${r.verification.checks.join(", ")})`);
      for (const p of r.problems) write(`  ${p}`);
    }
    if (!r.verification.ok) throw new VerificationError(`backup ${ref} failed verification: ${r.problems[0]}`);
  });

  const pruneCmd = program
    .command("prune")
    .description("delete backups a retention policy does not keep, leftovers and stale uploads")
    .option("--from <store-url>", "s3://bucket/prefix, file:///path or a directory")
    .option("--keep-last <n>", "keep the newest N backups of each label", count)
    .option("--keep-daily <n>", "keep the newest backup of each of the last N days", count)
    .option("--keep-weekly <n>", "keep the newest backup of each of the last N weeks", count)
    .option("--dry-run", "print what would be deleted, delete nothing")
    .option(
      "--min-age <seconds>",
      "leave leftovers and uploads younger than this (a backup may be running)",
      count,
      3600,
    )
    .addOption(outputOption());
  addStoreOptions(pruneCmd);
  pruneCmd.action(async (flags: PruneFlags) => {
    if (!flags.from) throw new UsageError("missing --from: the store to prune");
    const { openStore } = await import("../store/open-store.js");
    const { prune } = await import("../backup/prune.js");
    const r = await prune({
      store: openStore(flags.from, storeSettings(flags)),
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
          remove: r.plan.remove.map((b) => b.ref),
          leftovers: r.leftovers.map((l) => l.folder),
          abortedUploads: r.abortedUploads,
        }),
      );
      return;
    }
    const verb = r.dryRun ? "would delete" : "deleted";
    for (const k of r.plan.keep) write(`keep    ${k.entry.ref} (${k.reasons.join(", ")})`);
    for (const b of r.plan.remove) write(`${verb} ${b.ref}`);
    for (const l of r.leftovers) write(`${verb} leftover ${l.folder} (no manifest)`);
    if (!r.dryRun) write(`aborted ${r.abortedUploads} incomplete upload(s)`);
  });
}
