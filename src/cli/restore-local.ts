import type { Command } from "commander";
import { UsageError } from "../errors.js";
import type { RestoreLayout } from "../restore/local.js";
import type { CliContext } from "./context.js";
import { examples } from "./examples.js";
import { addStoreReadOptions, outputOption, type StoreFlags, storeSettings } from "./options.js";
import { toJson, write } from "./output.js";
import { addPointOptions, type PointFlags, pointOf } from "./point-options.js";

interface RestoreLocalFlags extends StoreFlags, PointFlags {
  dataDir: string;
  name?: string;
  initialCluster?: string;
  initialClusterToken?: string;
  members?: string;
  scratchDir?: string;
  output: "text" | "json";
}

export function registerRestoreLocal(restore: Command, ctx: CliContext): void {
  const cmd = restore
    .command("local <backup-ref|file>")
    .description("verify a snapshot, then restore it into etcd data directories (never leaves a partial one)")
    .requiredOption("--data-dir <dir>", "where the data goes: must not exist or be empty")
    .option("--members <n>", "a cluster of n members on 127.0.0.1: <data-dir>/<member>, with certificates (default 1)")
    .option("--name <name>", "this member's name, for one member of a real cluster (with --initial-cluster)")
    .option("--initial-cluster <list>", "every member's name=peerURL, as etcd takes it (with --name)")
    .option("--initial-cluster-token <token>", "cluster token, the same on every member (default etcd-cluster)")
    .option(
      "--scratch-dir <dir>",
      "with --at-revision/--at-time: where the chain is replayed into a scratch etcd, all of it (default: the scratch etcd in /dev/shm when it has room for the database and the history and the machine memory to spare, else its WAL there, else the temp dir)",
    )
    .addOption(outputOption());
  addPointOptions(cmd);
  addStoreReadOptions(cmd);
  cmd.addHelpText(
    "after",
    examples(
      [
        "A 3-member cluster on 127.0.0.1 from a snapshot file",
        "restore local backup.db --data-dir ./restored --members 3",
      ],
      [
        "One member's data directory of a real cluster",
        "restore local backup.db --data-dir /var/lib/etcd/member --name etcd-0 --initial-cluster etcd-0=https://10.0.0.5:2380,etcd-1=https://10.0.0.6:2380,etcd-2=https://10.0.0.7:2380",
      ],
    ),
  );
  cmd.action(async (ref: string, flags: RestoreLocalFlags) => {
    const layout = layoutOf(flags);
    const { resolveSource } = await import("../restore/source.js");
    const { restoreLocal } = await import("../restore/local.js");
    const { shellLine } = await import("../restore/member-plan.js");
    const point = pointOf(flags);
    if (!point && flags.scratchDir !== undefined)
      throw new UsageError(
        "--scratch-dir is where --at-revision/--at-time replays a chain: give one of them, or drop it",
      );
    const source = await resolveSource(ref, storeSettings(flags));
    if (point) {
      const { restoreAtPoint } = await import("../continuous/replay.js");
      const r = await restoreAtPoint({
        source,
        point,
        dataDir: flags.dataDir,
        layout,
        ...(flags.scratchDir ? { scratchDir: flags.scratchDir } : {}),
        signal: ctx.signal,
        logger: ctx.logger,
      });
      if (flags.output === "json") {
        write(toJson(r));
        return;
      }
      write(
        `restored ${r.origin} at revision ${r.replayedRevision} (base ${r.baseRevision} + ${r.changes} changes from ${r.segments} segments; ` +
          `${r.liveKeys} live keys, state sha256 ${r.stateSha256}${r.revisionsAligned ? "" : "; etcd's revisions differ from the source's"}) into ${r.dataDir}`,
      );
      for (const m of r.members) write(`  ${shellLine(m.command)}`);
      return;
    }
    const r = await restoreLocal({ source, dataDir: flags.dataDir, layout, signal: ctx.signal, logger: ctx.logger });
    if (flags.output === "json") {
      write(toJson(r));
      return;
    }
    write(
      `restored ${r.origin} (revision ${r.revision}, verified: ${r.checks.join(", ")}) into ${r.dataDir}: ` +
        `${r.members.length === 1 ? "1 member" : `${r.members.length} members`}, cluster token ${r.token}`,
    );
    write(r.members.length === 1 ? "start it with:" : "start each member (each in its own shell or as a service):");
    for (const m of r.members) write(`  ${shellLine(m.command)}`);
    if (layout.kind === "member")
      write("  (add this host's --listen-peer-urls, --listen-client-urls, --advertise-client-urls and TLS flags)");
    if (r.clientTls) {
      const endpoints = r.members.map((m) => m.clientURL).join(",");
      write("then reach it with (certificates valid 7 days):");
      write(
        `  ${shellLine(["env", "ETCDCTL_API=3", "etcdctl", `--endpoints=${endpoints}`, `--cacert=${r.clientTls.caCert}`, `--cert=${r.clientTls.cert}`, `--key=${r.clientTls.key}`, "endpoint", "status", "-w", "table"])}`,
      );
    }
  });
}

function layoutOf(flags: RestoreLocalFlags): RestoreLayout {
  const named = flags.name !== undefined || flags.initialCluster !== undefined;
  if (named && flags.members !== undefined)
    throw new UsageError(
      "--members and --name/--initial-cluster cannot be combined: --members makes a loopback cluster, --name one member of a real one",
    );
  if (named) {
    if (flags.name === undefined) throw new UsageError("--initial-cluster needs --name: which member this is");
    if (flags.initialCluster === undefined)
      throw new UsageError("--name needs --initial-cluster: every member's name=peerURL");
    return {
      kind: "member",
      name: flags.name,
      initialCluster: flags.initialCluster,
      ...(flags.initialClusterToken ? { token: flags.initialClusterToken } : {}),
    };
  }
  if (flags.initialClusterToken !== undefined)
    throw new UsageError("--initial-cluster-token goes with --name/--initial-cluster (--members makes its own)");
  const members = Number(flags.members ?? 1);
  if (!Number.isInteger(members) || members < 1 || members > 9)
    throw new UsageError(`--members must be a whole number from 1 to 9, got "${flags.members}"`);
  return { kind: "loopback", members };
}
