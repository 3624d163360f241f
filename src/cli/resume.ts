import type { Command } from "commander";
import { OperationError, UsageError } from "../errors.js";
import type { CliContext } from "./context.js";
import { examples } from "./examples.js";
import { addKubeOptions, type KubeFlags, kubeAccess } from "./kube-options.js";
import { outputOption } from "./options.js";
import { toJson, write } from "./output.js";

interface ResumeFlags extends KubeFlags {
  output: "text" | "json";
  wait: boolean;
  force?: boolean;
}

export function registerResume(program: Command, ctx: CliContext): void {
  const cmd = program
    .command("resume <hosted-cluster>")
    .description(
      "bring a hosted cluster back after an interrupted backup: the replicas and pausedUntil from its journal; safe at any time",
    )
    .option("--no-wait", "do not wait for the writers to be available again")
    .option("--force", "resume even though the backup that holds the lock may still be running")
    .addOption(outputOption())
    .addHelpText(
      "after",
      examples(
        ["Put back what an interrupted backup changed", "resume example -n clusters"],
        ["The same once you know the run holding the lock is dead", "resume example -n clusters --force"],
      ),
    );
  addKubeOptions(cmd);
  cmd.action(async (name: string, flags: ResumeFlags) => {
    if (!flags.namespace) throw new UsageError(`missing -n/--namespace: the namespace of the HostedCluster ${name}`);
    const { loadKubeConfig, ManagementCluster } = await import("../hostedcluster/kube.js");
    const { readJournal, resumeFromJournal } = await import("../hostedcluster/quiesce.js");
    const { runningHolder, thisHost } = await import("../hostedcluster/journal.js");
    const cluster = new ManagementCluster(loadKubeConfig(kubeAccess(flags)));
    const { journal } = await readJournal(cluster, flags.namespace, name, ctx.signal);
    if (!journal) {
      if (flags.output === "json") write(toJson({ resumed: false, reason: "no journal" }));
      else
        write(`nothing to resume: ${flags.namespace}/${name} has no backup journal (no backup running or interrupted)`);
      return;
    }
    // The lock's expiry was written in the API server's time: judged by it, not by this machine's clock.
    const { serverClock } = await import("../hostedcluster/server-clock.js");
    const clock = serverClock(await cluster.dateSample(ctx.signal), ctx.logger, Date.now, cluster.server);
    const running = runningHolder(journal, clock.now(), thisHost());
    if (running && !flags.force)
      throw new OperationError(
        `${running}: resuming now would undo its pause in the middle of its snapshot; if it is dead, run again with --force`,
      );
    const r = await resumeFromJournal(
      { cluster, target: { namespace: flags.namespace, name }, logger: ctx.logger },
      journal,
      { availableTimeoutMs: 600_000, waitAvailable: flags.wait },
    );
    if (flags.output === "json") {
      write(toJson({ resumed: true, runId: journal.runId, ...r, original: journal.original }));
      return;
    }
    write(
      `resumed ${flags.namespace}/${name} (backup run ${journal.runId}, started ${journal.startedAt} by ${journal.holder.user}@${journal.holder.host})`,
    );
    for (const w of journal.original.writers)
      if (r.restoredWriters.includes(w.name)) write(`  ${w.namespace}/${w.name} scaled back to ${w.replicas}`);
    if (r.restoredPause) write(`  pausedUntil restored to ${journal.original.pausedUntil ?? "unset (removed)"}`);
    write("  journal removed");
  });
}
