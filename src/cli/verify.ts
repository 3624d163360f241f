import type { Command } from "commander";
import { UsageError, VerificationError } from "../errors.js";
import type { Verification } from "../store/manifest.js";
import type { CliContext } from "./context.js";
import { examples } from "./examples.js";
import { addKeyOptions, type KeyFlags, keyringOf } from "./key-options.js";
import { addMetricsOptions, type MetricsFlags, type MetricsReport, metricsReport } from "./metrics-options.js";
import { addStoreReadOptions, addStoreUploadOptions, outputOption, type StoreFlags, storeSettings } from "./options.js";
import { toJson, write } from "./output.js";

interface VerifyFlags extends StoreFlags, MetricsFlags, KeyFlags {
  output: "text" | "json";
  scratchDir?: string;
  structure: boolean;
  restoreDrill?: boolean;
}

export function registerVerify(program: Command, ctx: CliContext): void {
  const verify = program
    .command("verify <backup-ref>")
    .description("re-read a stored backup and prove it matches its manifest (exit 3 if not)")
    .option("--scratch-dir <dir>", "where a remote snapshot is staged for the structural check (default: temp dir)")
    .option("--no-structure", "skip the structural check of remote snapshots (no local disk needed)")
    .option(
      "--restore-drill",
      "also restore it into a throwaway etcd on 127.0.0.1 and compare every key it serves with the snapshot",
    )
    .addOption(outputOption())
    .addHelpText(
      "after",
      examples(
        [
          "Re-read a stored backup and check it against its manifest (the ref as list prints it)",
          "verify s3://hcp-backups/prod/clusters/example/20260101T000000Z-r1234-abcdef",
        ],
        [
          "Prove it restores (a throwaway etcd serves it, every key compared) and its saved key opens every value",
          "verify /var/backups/etcd/prod-etcd/20260101T000000Z-r1234-abcdef --restore-drill --key-identity ./backup-identity.txt",
        ],
        [
          "Prove the saved key opens every encrypted value in the snapshot",
          "verify s3://hcp-backups/prod/clusters/example/20260101T000000Z-r1234-abcdef --key-identity ./backup-identity.txt",
        ],
      ),
    );
  addKeyOptions(verify);
  addStoreReadOptions(verify);
  // verify writes the manifest back with its result: a bucket that demands encryption headers needs them here too.
  addStoreUploadOptions(verify);
  addMetricsOptions(verify);
  verify.action(async (ref: string, flags: VerifyFlags) => {
    const metrics = await metricsReport(flags, ctx);
    const checksKeys = [flags.keyIdentity, flags.keyFile, flags.encryptionConfig].some((f) => f !== undefined);
    if (checksKeys && flags.structure === false)
      throw new UsageError("the decryption proof reads the snapshot from local disk: drop --no-structure");
    if (flags.restoreDrill) return drill(ref, flags, ctx, metrics);
    const { openStore } = await import("../store/open-store.js");
    const { verifyBackup, CHAIN_PROBLEM_PREFIX } = await import("../backup/verify-backup.js");
    const store = openStore(ref, storeSettings(flags));
    const keyring = await keyringOf(flags, store, ctx.signal);
    const r = await verifyBackup(store, {
      scratchDir: flags.structure === false ? false : flags.scratchDir,
      signal: ctx.signal,
      logger: ctx.logger,
      ...(keyring ? { keyring } : {}),
    });
    const { label, backupId } = r.manifest;
    await reportVerified(metrics, flags, ctx, r.ref, { label, backupId }, r.verification);
    // A continuous backup's delta segments were proven with it (each against its record, the ranges contiguous).
    const chain = r.chain;
    const chainOk = chain === undefined || chain.problems.length === 0;
    if (flags.output === "json")
      write(
        toJson({
          ref: r.ref,
          ok: r.verification.ok,
          verification: r.verification,
          problems: r.problems,
          ...(chain ? { chain } : {}),
        }),
      );
    else {
      write(`${r.ref}: ${r.verification.ok ? "OK" : "FAILED"} (${r.verification.checks.join(", ")})`);
      const d = r.verification.decryption;
      if (d) write(`  decryption: ${(await import("../encryption/decryption-proof.js")).proofSummary(d)}`);
      else if (r.manifest.encryption || keyring) write(`  ${notProven(keyring !== undefined)}`);
      // The chain's own problems are printed under its line below.
      for (const p of r.problems) if (!p.startsWith(CHAIN_PROBLEM_PREFIX)) write(`  ${p}`);
      if (chain)
        write(
          `  delta chain: ${chainOk ? "OK" : "FAILED"}, ${chain.segments} segments, ${chain.events} changes, revisions ${r.manifest.snapshot.revision + 1}..${chain.toRevision}`,
        );
      for (const p of chain?.problems ?? []) write(`  ${p}`);
    }
    if (chain && !chainOk)
      throw new VerificationError(`backup ${ref}: its delta chain failed verification: ${chain.problems[0]}`);
    if (!r.verification.ok) throw new VerificationError(`backup ${ref} failed verification: ${r.problems[0]}`);
  });
}

async function drill(ref: string, flags: VerifyFlags, ctx: CliContext, metrics: MetricsReport): Promise<void> {
  if (flags.structure === false)
    throw new UsageError(
      "--no-structure cannot go with --restore-drill: the drill needs the snapshot on local disk anyway",
    );
  const { openStore } = await import("../store/open-store.js");
  const { proofLine, restoreDrill } = await import("../restore/drill.js");
  const store = openStore(ref, storeSettings(flags));
  const keyring = await keyringOf(flags, store, ctx.signal);
  const r = await restoreDrill(store, {
    ...(flags.scratchDir ? { scratchDir: flags.scratchDir } : {}),
    ...(keyring ? { keyring } : {}),
    signal: ctx.signal,
    logger: ctx.logger,
  });
  const v = r.verification;
  await reportVerified(metrics, flags, ctx, r.ref, r.manifest, v);
  if (flags.output === "json") {
    write(
      toJson({
        ref: r.ref,
        ok: v.ok,
        verification: v,
        problems: r.problems,
        proof: r.proof,
        warnings: r.warnings,
        comparison: r.comparison,
        phases: r.phases,
      }),
    );
  } else {
    const phases = Object.entries(r.phases)
      .map(([name, s]) => `${name} ${s.toFixed(1)} s`)
      .join(", ");
    write(`${r.ref}: restore drill ${v.ok ? "OK" : "FAILED"} in ${r.seconds.toFixed(1)} s (${phases})`);
    write(`  checks: ${v.checks.join(", ")}`);
    if (v.ok) write(`  ${v.detail}`);
    if (r.proof) write(`  proof: ${proofLine(r.proof)}`);
    for (const w of r.warnings) write(`  warning: ${w}`);
    if (v.decryption)
      write(`  decryption: ${(await import("../encryption/decryption-proof.js")).proofSummary(v.decryption)}`);
    else if (r.manifest.encryption || keyring) write(`  ${notProven(keyring !== undefined)}`);
    for (const p of r.problems) write(`  ${p}`);
  }
  if (!v.ok) throw new VerificationError(`backup ${ref} failed the restore drill: ${r.problems[0]}`);
}

/** The cluster's verification metrics follow its newest backup only; an older one's result is left out (and said). */
async function reportVerified(
  metrics: MetricsReport,
  flags: VerifyFlags,
  ctx: CliContext,
  ref: string,
  backup: { readonly label: string; readonly backupId: string },
  verification: Verification,
): Promise<void> {
  if (flags.pushgateway === undefined && flags.metricsFile === undefined) return;
  const [{ storeRootOf }, { isNewestBackup }, { openStore }] = await Promise.all([
    import("../store/layout.js"),
    import("../store/catalog.js"),
    import("../store/open-store.js"),
  ]);
  const root = storeRootOf(ref, backup.label, backup.backupId);
  if (await isNewestBackup(openStore(root, storeSettings(flags)), backup.label, backup.backupId, ctx.signal)) {
    metrics.verified({ cluster: backup.label, store: root }, verification);
    await metrics.publish();
  } else
    ctx.logger.warn(
      { ref },
      `not the newest backup of ${backup.label}: its result is recorded in its manifest, not in the cluster's metrics`,
    );
}

/** Why no decryption proof is printed: no keys were given, or the checks before it failed. */
function notProven(keysGiven: boolean): string {
  return keysGiven
    ? "decryption not proven: the snapshot failed the checks before it"
    : "encryption not checked: --key-identity or --key-file proves the saved keys open the snapshot's values";
}
