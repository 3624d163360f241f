import type { Command } from "commander";
import { UsageError } from "../errors.js";
import type { ObjectStream } from "../kubeobjects/read-objects.js";
import type { ResourceType } from "../kubeobjects/resources.js";
import type { CliContext } from "./context.js";
import { examples } from "./examples.js";
import { ExitAs, ExitStatus } from "./exit.js";
import { addKeyOptions, type KeyFlags, keyringOf } from "./key-options.js";
import { addStoreReadOptions, outputOption, type StoreFlags, storeSettings } from "./options.js";

interface DiffFlags extends StoreFlags, KeyFlags {
  namespace?: string;
  allNamespaces?: boolean;
  showSecrets?: boolean;
  output: "text" | "json";
  etcdPrefix: string;
  scratchDir?: string;
}

export function registerDiff(program: Command, ctx: CliContext): void {
  const diff = program
    .command("diff <a> <b> [resource]")
    .description(
      "objects added, removed and changed from backup (or snapshot file) a to b, decoded and decrypted as get prints them, with the fields that changed (exit 1 if anything did)",
    )
    .option("-n, --namespace <namespace>", "only objects of this namespace")
    .option("-A, --all-namespaces", "objects of every namespace (the default)")
    .option("--show-secrets", "print Secrets' changed values (by default only that they changed)")
    .option("--etcd-prefix <prefix>", "kube-apiserver's --etcd-prefix", "/kubernetes.io")
    .option("--scratch-dir <dir>", "where a remote backup's snapshot is staged (default: temp dir)")
    .addOption(outputOption())
    .addHelpText(
      "after",
      examples(
        [
          "What changed in namespace clusters between two backups, Secrets opened with the keys each saved",
          "diff ./store/orion/20260101T000000Z-r1200-aaaaaa ./store/orion/20260102T000000Z-r1900-bbbbbb -n clusters --key-identity key.txt",
        ],
        ["Only the Deployments, between two snapshot files", "diff monday.db tuesday.db deployments.apps -A"],
        [
          "Every change as JSON (exit 1 when there are changes, 0 when none)",
          "diff monday.db tuesday.db secrets -n clusters --encryption-config encryption-config.yaml -o json",
        ],
      ),
    );
  addKeyOptions(diff);
  addStoreReadOptions(diff);
  diff.action(async (a: string, b: string, resourceArg: string | undefined, flags: DiffFlags) => {
    if (flags.allNamespaces && flags.namespace !== undefined) throw new UsageError("use -n or -A, not both");
    const { resolveResource } = await import("../kubeobjects/resources.js");
    const resource = resourceArg === undefined ? undefined : resolveResource(resourceArg);
    // Exit statuses as diff(1) and `snapshot diff`: 0 the same, 1 different, 2 trouble.
    let differs: boolean;
    const streams: ObjectStream[] = [];
    const undo = ctx.defer("remove the sorted objects", async () => {
      for (const s of streams) await s.dispose();
    });
    try {
      streams.push(await objectsOf(a, resource, flags, ctx));
      streams.push(await objectsOf(b, resource, flags, ctx));
      const [before, after] = streams as [ObjectStream, ObjectStream];
      // Compared and printed on a thread of its own (its young generation kept small).
      const { printOffThread } = await import("../kubeobjects/print-objects.js");
      ({ differs } = await printOffThread(
        {
          kind: "diff",
          before: before.sorted,
          after: after.sorted,
          showSecrets: flags.showSecrets === true,
          format: flags.output,
        },
        {
          signal: ctx.signal,
          onNote: (key, note) => ctx.logger.warn({ key }, note),
          onStarted: (t) => ctx.logger.debug(t, "comparing the objects on a worker thread"),
        },
      ));
    } catch (err) {
      throw new ExitAs(2, err);
    } finally {
      undo();
      for (const s of streams) await s.dispose();
    }
    if (differs) throw new ExitStatus(1);
  });
}

/** One side's objects, sorted onto disk as `get` reads them (each backup opened with the keys it saved). */
async function objectsOf(
  source: string,
  resource: ResourceType | undefined,
  flags: DiffFlags,
  ctx: CliContext,
): Promise<ObjectStream> {
  const [{ openSnapshotSource }, { openStore }, { streamObjects }] = await Promise.all([
    import("../kubeobjects/snapshot-source.js"),
    import("../store/open-store.js"),
    import("../kubeobjects/read-objects.js"),
  ]);
  const snapshot = await openSnapshotSource(source, () => openStore(source, storeSettings(flags)), {
    ...(flags.scratchDir ? { scratchDir: flags.scratchDir } : {}),
    signal: ctx.signal,
  });
  const undo = ctx.defer("remove the staged snapshot", () => snapshot.release());
  try {
    const keyring = await keyringOf(flags, snapshot.store, ctx.signal);
    // The sorted runs hold what is compared: the staged snapshot goes once they are written.
    return await streamObjects(
      snapshot.path,
      {
        ...(resource ? { resource } : {}),
        etcdPrefix: flags.etcdPrefix,
        ...(flags.namespace !== undefined ? { namespace: flags.namespace } : {}),
        ...(keyring ? { keyring } : {}),
      },
      { ...(flags.scratchDir ? { scratchDir: flags.scratchDir } : {}), signal: ctx.signal },
    );
  } finally {
    undo();
    await snapshot.release();
  }
}
