import type { Command } from "commander";
import { UsageError } from "../errors.js";
import type { CliContext } from "./context.js";
import { examples } from "./examples.js";
import { addFleetListOptions, type FleetListFlags, runFleetList } from "./list-fleet.js";
import { addStoreReadOptions, outputOption, type StoreFlags, storeSettings } from "./options.js";
import { sizeText, toJson, write } from "./output.js";
import { table } from "./table.js";

interface ListFlags extends StoreFlags, FleetListFlags {
  from?: string;
  label?: string;
  cluster?: string;
  output: "table" | "json";
}

export function registerList(program: Command, ctx: CliContext): void {
  const list = program
    .command("list")
    .description(
      "backups in a store, newest first (only those with a manifest exist), a continuous one with its restorable window",
    )
    .option("--from <store-url>", "s3://bucket/prefix, file:///path or a directory (required)")
    .option("--label <label>", "only this backup series")
    .option("--cluster <namespace/name>", "only the backups of this hosted cluster (its label)")
    .addOption(outputOption(["table", "json"]))
    .addHelpText(
      "after",
      examples(
        [
          "The backups of one hosted cluster, with the refs other commands take",
          "list --from s3://hcp-backups/prod --cluster clusters/example",
        ],
        [
          "One row per cluster with its age and status, for a cron check",
          "list --fleet --from s3://hcp-backups/prod --max-age 25h",
        ],
        [
          "A continuous backup's restorable window: up to which time and revision, over how many segments",
          "list --from s3://etcd-backups/prod --label prod-etcd -o json",
        ],
      ),
    );
  addStoreReadOptions(list);
  addFleetListOptions(list);
  list.action(async (flags: ListFlags) => {
    if (!flags.from) throw new UsageError("missing --from: the store to list (s3://bucket/prefix or a directory)");
    if (flags.fleet) {
      if (flags.cluster !== undefined || flags.label !== undefined)
        throw new UsageError("--fleet shows every cluster: drop --cluster/--label (or drop --fleet)");
      const { openStore } = await import("../store/open-store.js");
      await runFleetList(openStore(flags.from, storeSettings(flags)), flags, ctx);
      return;
    }
    if (flags.maxAge !== undefined || flags.maxVerifyAge !== undefined)
      throw new UsageError("--max-age and --max-verify-age go with --fleet");
    if (flags.cluster !== undefined && !/^[^/]+\/[^/]+$/.test(flags.cluster))
      throw new UsageError(`--cluster takes <namespace>/<name>, got "${flags.cluster}"`);
    if (flags.cluster !== undefined && flags.label !== undefined)
      throw new UsageError("use --cluster or --label, not both");
    const { openStore } = await import("../store/open-store.js");
    const { readCatalog } = await import("../store/catalog.js");
    const store = openStore(flags.from, storeSettings(flags));
    const catalog = await readCatalog(store, { label: flags.cluster ?? flags.label, signal: ctx.signal });
    // A continuous backup's restorable window: one record read per chain, none for a plain backup.
    const { chainWindows } = await import("../continuous/window.js");
    const windows = await chainWindows(store, catalog.backups, ctx.signal);
    if (flags.output === "json") {
      write(
        toJson(
          catalog.backups.map((b) => ({
            ref: b.ref,
            label: b.manifest.label,
            backupId: b.manifest.backupId,
            source: b.manifest.source.kind,
            mode: b.manifest.mode,
            createdAt: b.manifest.createdAt,
            revision: b.manifest.snapshot.revision,
            totalKeys: b.manifest.snapshot.totalKeys,
            size: b.manifest.snapshot.objectSize,
            sha256: b.manifest.snapshot.sha256,
            verified: b.verified,
            lastVerified: b.manifest.verifications.at(-1)?.at,
            ...(windows.has(b.folder) ? { chain: windows.get(b.folder) } : {}),
          })),
        ),
      );
      return;
    }
    // TOTAL KEYS is etcdctl's figure (every stored revision and bucket entry), not the live keys.
    // Continuous backups add where their chain reaches: the window runs from CREATED/REVISION to there.
    const chains = windows.size > 0;
    const rows = [
      [
        "REF",
        "LABEL",
        "CREATED",
        "REVISION",
        "TOTAL KEYS",
        "SIZE",
        "VERIFIED",
        ...(chains ? ["RESTORABLE TO", "TO REVISION", "SEGMENTS"] : []),
      ],
    ];
    for (const b of catalog.backups) {
      const m = b.manifest;
      const w = windows.get(b.folder);
      rows.push([
        b.ref,
        m.label,
        m.createdAt,
        String(m.snapshot.revision),
        String(m.snapshot.totalKeys),
        sizeText(m.snapshot.objectSize),
        b.verified ? "yes" : "FAILED",
        ...(chains ? (w ? [w.toTime, String(w.toRevision), String(w.segments)] : ["-", "-", "-"]) : []),
      ]);
    }
    write(catalog.backups.length === 0 ? `no backups in ${flags.from}` : table(rows));
    for (const [folder, w] of windows)
      for (const p of w.problems)
        process.stderr.write(
          `hcp-etcd-backup: warning: ${folder}: the chain stops at revision ${w.toRevision}: ${p}\n`,
        );
    for (const b of catalog.broken) process.stderr.write(`hcp-etcd-backup: warning: ${b.folder}: ${b.reason}\n`);
  });
}
