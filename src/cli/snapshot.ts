import { type Command, Option } from "commander";
import { UsageError, VerificationError } from "../errors.js";
import type { Endpoint } from "../etcd/endpoint.js";
import type { SnapshotDiff } from "../snapshot/diff.js";
import type { LiveKey } from "../snapshot/keys.js";
import type { StatusCompat } from "../snapshot/status.js";
import type { StatusFormat } from "../snapshot/status-format.js";
import type { VerifyReport } from "../snapshot/verify.js";
import type { CliContext } from "./context.js";
import { examples } from "./examples.js";
import { ExitAs, ExitStatus } from "./exit.js";
import { addEtcdOptions, type EtcdFlags, etcdConnection } from "./options.js";
import { toJson, totalKeysText, write } from "./output.js";
import { transferProgress } from "./progress.js";

// Each command loads its library code when it runs: `--help` and short commands start fast.
const snapshotLib = () => import("../snapshot/index.js");

const outputOption = () =>
  new Option("-o, --output <format>", "output format").choices(["text", "json"]).default("text");

export function registerSnapshot(program: Command, ctx: CliContext): void {
  const snapshot = program.command("snapshot").description("take, read and check etcd snapshot files");

  const save = snapshot
    .command("save <file>")
    .description("etcdctl snapshot save, verified: SHA-256 and structure checked while streaming, 0600, fsync, rename")
    .addHelpText(
      "after",
      examples([
        "Save a snapshot of one member over mutual TLS",
        "snapshot save backup.db --endpoints https://10.0.0.5:2379 --cacert ca.crt --cert client.crt --key client.key",
      ]),
    );
  addEtcdOptions(save, "the etcd member to snapshot: one client URL, e.g. https://host:2379 (required)");
  save.action(async (file: string, flags: EtcdFlags) => {
    const conn = await etcdConnection(flags);
    if (conn.endpoints.length !== 1) throw new UsageError("snapshot save takes exactly one endpoint in --endpoints");
    const { saveSnapshotFile } = await import("../backup/save-file.js");
    const progress = transferProgress("snapshot");
    let r: Awaited<ReturnType<typeof saveSnapshotFile>>;
    try {
      r = await saveSnapshotFile({
        endpoint: conn.endpoints[0] as Endpoint,
        file,
        tls: conn.tls,
        auth: conn.auth,
        signal: ctx.signal,
        onProgress: progress.update,
      });
    } finally {
      progress.stop();
    }
    write(
      `Snapshot saved at ${file} (${r.objectSize} bytes, revision ${r.status.revision}, sha256 ${r.sha256} verified)`,
    );
  });

  snapshot
    .command("status <file>")
    .description("hash, revision, total keys and size, exactly as etcdctl/etcdutl print them")
    .addHelpText(
      "after",
      examples(
        ["Print the status as a table, as etcdctl 3.4 does", "snapshot status backup.db -w table"],
        ["The same as etcdutl 3.5 prints it, in JSON", "snapshot status backup.db -w json --compat 3.5"],
      ),
    )
    .addOption(
      new Option("-w, --write-out <format>", "output format")
        .choices(["simple", "table", "json", "fields"])
        .default("simple"),
    )
    .addOption(
      new Option("--compat <version>", "etcd version whose output to reproduce")
        .choices(["3.4", "3.5", "3.6"])
        .default("3.4"),
    )
    .action(async (file: string, opts: { writeOut: StatusFormat; compat: StatusCompat }) => {
      const { formatStatus, snapshotStatus } = await snapshotLib();
      process.stdout.write(formatStatus(snapshotStatus(file, opts.compat), opts.writeOut, opts.compat));
    });

  snapshot
    .command("verify <file>")
    .description("prove a snapshot intact: SHA-256 trailer, every page, key order, etcd encoding (exit 3 on findings)")
    .addHelpText(
      "after",
      examples(
        ["Check a snapshot file before restoring it", "snapshot verify backup.db"],
        ["The findings as JSON, for a script", "snapshot verify backup.db -o json"],
      ),
    )
    .addOption(outputOption())
    .option("--no-etcd-checks", "check the bbolt structure only, not etcd's encoding of its keys")
    .action(async (file: string, opts: { output: "text" | "json"; etcdChecks: boolean }) => {
      const { verifySnapshot } = await snapshotLib();
      const report = await verifySnapshot(file, { etcdChecks: opts.etcdChecks });
      write(opts.output === "json" ? toJson(report) : verifyText(report));
      if (!report.ok) {
        const errors = report.findings.filter((f) => f.severity === "error").length;
        throw new VerificationError(`${file} failed verification: ${errors} finding${errors === 1 ? "" : "s"}`);
      }
    });

  snapshot
    .command("keys <file>")
    .description("live keys at the snapshot's revision, with revisions, version, lease and value size")
    .addHelpText(
      "after",
      examples(["The Secrets stored in a snapshot", "snapshot keys backup.db --prefix /kubernetes.io/secrets/"]),
    )
    .option("--prefix <prefix>", "only keys starting with this prefix")
    .addOption(outputOption())
    .action(async (file: string, opts: { prefix?: string; output: "text" | "json" }) => {
      const { liveKeys, sortedKeys } = await snapshotLib();
      const keys = sortedKeys(liveKeys(file, opts.prefix === undefined ? {} : { prefix: Buffer.from(opts.prefix) }));
      if (opts.output === "json") write(toJson(keys.map(keyJson)));
      else for (const k of keys) write(keyLine(k));
    });

  snapshot
    .command("diff <a> <b>")
    .description("keys added, removed and changed from snapshot a to snapshot b")
    .addHelpText(
      "after",
      examples(
        ["What changed between two snapshots (exit 1 if anything did)", "snapshot diff monday.db tuesday.db"],
        ["Only the ConfigMaps", "snapshot diff monday.db tuesday.db --prefix /kubernetes.io/configmaps/"],
      ),
    )
    .option("--prefix <prefix>", "only keys starting with this prefix")
    .addOption(outputOption())
    .action(async (a: string, b: string, opts: { prefix?: string; output: "text" | "json" }) => {
      // Exit statuses as diff(1): 0 the same, 1 different, 2 trouble (1 cannot also mean "failed").
      let d: SnapshotDiff;
      try {
        const { diffSnapshots } = await snapshotLib();
        d = diffSnapshots(a, b, opts.prefix === undefined ? {} : { prefix: Buffer.from(opts.prefix) });
      } catch (err) {
        throw new ExitAs(2, err);
      }
      printDiff(d, opts.output);
      if (d.added.length + d.removed.length + d.changed.length > 0) throw new ExitStatus(1);
    });
}

function printDiff(d: SnapshotDiff, output: "text" | "json"): void {
  if (output === "json") {
    write(
      toJson({
        added: d.added.map(keyJson),
        removed: d.removed.map(keyJson),
        changed: d.changed.map((c) => ({
          key: c.key.toString("latin1"),
          what: c.what,
          before: keyJson(c.before),
          after: keyJson(c.after),
        })),
        unchanged: d.unchanged,
      }),
    );
    return;
  }
  for (const k of d.added) write(`+ ${printable(k.key)}`);
  for (const k of d.removed) write(`- ${printable(k.key)}`);
  for (const c of d.changed) write(`~ ${printable(c.key)} (${c.what.join(", ")})`);
  write(`${d.added.length} added, ${d.removed.length} removed, ${d.changed.length} changed, ${d.unchanged} unchanged`);
}

function printable(key: Buffer): string {
  const text = key.toString("latin1");
  return /^[\x20-\x7e]*$/.test(text) ? text : `0x${key.toString("hex")}`;
}

function keyJson(k: LiveKey) {
  return {
    key: k.key.toString("latin1"),
    createRevision: k.createRevision,
    modRevision: k.modRevision,
    version: k.version,
    lease: k.lease.toString(),
    valueSize: k.valueSize,
    valueSha256: k.valueHash,
  };
}

function keyLine(k: LiveKey): string {
  const lease = k.lease === 0n ? "" : ` lease=${k.lease.toString(16)}`;
  return `${printable(k.key)}  create=${k.createRevision} mod=${k.modRevision} version=${k.version}${lease} size=${k.valueSize}`;
}

function verifyText(r: VerifyReport): string {
  const errors = r.findings.filter((f) => f.severity === "error");
  const lines = [`${r.file}: ${r.ok ? "OK" : `FAILED (${errors.length} finding${errors.length === 1 ? "" : "s"})`}`];
  if (r.pages !== undefined) {
    const use =
      r.reachablePages !== undefined && r.freePages !== undefined
        ? `${r.reachablePages} in use, ${r.freePages} free`
        : "pages in use and free unknown: the walk could not cover the whole tree";
    lines.push(
      `  ${r.fileSize} bytes, page size ${r.pageSize}, ${r.pages} pages (${use}), meta page ${r.metaInUse} in use`,
    );
  }
  const t = r.trailer;
  lines.push(
    `  sha256 ${t.actual} ${t.present ? (t.ok ? "(matches the trailer)" : "(trailer differs)") : "(no trailer)"}`,
  );
  if (r.status)
    lines.push(
      `  revision ${r.status.revision}, ${totalKeysText(r.status.totalKey)}, status hash ${r.status.hash.toString(16)}`,
    );
  else lines.push("  revision, total keys and status hash unknown: the walk could not cover the whole tree");
  for (const f of r.findings) {
    const where = f.page !== undefined ? ` page ${f.page}${f.offset !== undefined ? ` +${f.offset}` : ""}` : "";
    lines.push(`  ${f.severity} [${f.code}]${where}: ${f.message}`);
  }
  return lines.join("\n");
}
