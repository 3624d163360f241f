import { type Command, Option } from "commander";
import yaml from "js-yaml";
import { OperationError, UsageError } from "../errors.js";
import type { ObjectStream } from "../kubeobjects/read-objects.js";
import type { CliContext } from "./context.js";
import { examples } from "./examples.js";
import { addKeyOptions, type KeyFlags, keyringOf } from "./key-options.js";
import { addStoreReadOptions, type StoreFlags, storeSettings } from "./options.js";
import { toJson, write } from "./output.js";

interface GetFlags extends StoreFlags, KeyFlags {
  namespace?: string;
  allNamespaces?: boolean;
  output: "yaml" | "json";
  raw?: boolean;
  etcdPrefix: string;
  scratchDir?: string;
}

export function registerGet(program: Command, ctx: CliContext): void {
  const get = program
    .command("get <source> <resource> [name]")
    .description(
      "print objects from a backup or a snapshot file, decrypted and decoded, without a restore (ready for kubectl create -f)",
    )
    .option("-n, --namespace <namespace>", "namespace of the objects (default: default)")
    .option("-A, --all-namespaces", "objects of every namespace")
    .addOption(new Option("-o, --output <format>", "output format").choices(["yaml", "json"]).default("yaml"))
    .option("--raw", "keep resourceVersion, uid, creationTimestamp and managedFields")
    .option("--etcd-prefix <prefix>", "kube-apiserver's --etcd-prefix", "/kubernetes.io")
    .option("--scratch-dir <dir>", "where a remote backup's snapshot is staged (default: temp dir)");
  addKeyOptions(get);
  addStoreReadOptions(get);
  get.addHelpText(
    "after",
    examples(
      [
        "One Secret out of a stored backup, decrypted with the key the backup saved",
        "get s3://hcp-backups/prod/clusters/example/20260101T000000Z-r1234-abcdef secrets pull-secret -n clusters --key-identity ./backup-identity.txt",
      ],
      [
        "Every ConfigMap of a snapshot file, with kube-apiserver's own EncryptionConfiguration",
        "get ./snapshot.db configmaps -A --encryption-config ./encryption-config.yaml -o json",
      ],
      [
        "Custom resources of one namespace",
        "get /var/backups/etcd/clusters/example/20260101T000000Z-r1234-abcdef prometheusrules.monitoring.coreos.com -n monitoring",
      ],
    ),
  );
  get.action(async (source: string, resourceArg: string, name: string | undefined, flags: GetFlags) => {
    if (flags.allNamespaces && flags.namespace !== undefined) throw new UsageError("use -n or -A, not both");
    if (flags.allNamespaces && name !== undefined) throw new UsageError("a name cannot go with -A: give -n instead");
    const { resolveResource } = await import("../kubeobjects/resources.js");
    const resource = resolveResource(resourceArg);
    const [{ openSnapshotSource }, { openStore }] = await Promise.all([
      import("../kubeobjects/snapshot-source.js"),
      import("../store/open-store.js"),
    ]);
    const snapshot = await openSnapshotSource(source, () => openStore(source, storeSettings(flags)), {
      ...(flags.scratchDir ? { scratchDir: flags.scratchDir } : {}),
      signal: ctx.signal,
    });
    const undo = ctx.defer("remove the staged snapshot", () => snapshot.release());
    let stream: ObjectStream | undefined;
    const undoRuns = ctx.defer("remove the sorted objects", () => stream?.dispose() ?? Promise.resolve());
    try {
      const keyring = await keyringOf(flags, snapshot.store, ctx.signal);
      const { streamObjects } = await import("../kubeobjects/read-objects.js");
      stream = await streamObjects(
        snapshot.path,
        {
          resource,
          etcdPrefix: flags.etcdPrefix,
          ...(flags.allNamespaces ? {} : { namespace: flags.namespace ?? "default" }),
          ...(name !== undefined ? { name } : {}),
          ...(keyring ? { keyring } : {}),
          raw: flags.raw === true,
        },
        { ...(flags.scratchDir ? { scratchDir: flags.scratchDir } : {}), signal: ctx.signal },
      );
      // The sorted runs hold what is printed: the staged snapshot can go now.
      await snapshot.release();
      const dump = (v: unknown) => yaml.dump(v, { noRefs: true, lineWidth: -1 });
      if (name !== undefined) {
        const found = [...stream.objects()];
        for (const f of found) if (f.note) ctx.logger.warn({ key: f.key }, f.note);
        const only = found[0];
        if (!only) {
          const where = resource.namespaced ? ` in namespace ${flags.namespace ?? "default"}` : "";
          throw new OperationError(`${resourceArg} "${name}" not found${where} in ${source}`);
        }
        write(flags.output === "json" ? toJson(only.object) : dump(only.object));
        return;
      }
      // The List is decoded and printed on a thread of its own (its young generation kept small).
      const { printOffThread } = await import("../kubeobjects/print-objects.js");
      await printOffThread(
        { kind: "list", objects: stream.sorted, format: flags.output },
        {
          signal: ctx.signal,
          onNote: (key, note) => ctx.logger.warn({ key }, note),
          onStarted: (t) => ctx.logger.debug(t, "printing the objects on a worker thread"),
        },
      );
    } finally {
      undoRuns();
      undo();
      await stream?.dispose();
      await snapshot.release();
    }
  });
}
