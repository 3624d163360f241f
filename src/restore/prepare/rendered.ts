import { type Document, parseAllDocuments, type ToStringOptions } from "yaml";
import { z } from "zod";
import { UsageError } from "../../errors.js";

/**
 * The output of `hcp create cluster aws --render --render-sensitive`, kept as YAML documents (comments,
 * key order and formatting preserved) next to the facts the restore reads from it, validated here.
 */
export interface RenderedManifests {
  readonly where: string;
  readonly docs: Document[];
  /** The stringify options under which the unmodified documents print back byte for byte. */
  readonly format: ToStringOptions;
  readonly hostedCluster: RenderedHostedCluster;
  /** Index in `docs` of the Secret holding the aescbc active key, when the HostedCluster uses aescbc. */
  readonly keySecret?: { readonly index: number; readonly name: string };
  /** The same for the backup key, when the HostedCluster names one and the file holds its Secret. */
  readonly backupKeySecret?: { readonly index: number; readonly name: string };
}

const hostedClusterSchema = z.object({
  metadata: z.object({ name: z.string().min(1), namespace: z.string().min(1) }),
  spec: z.object({
    controllerAvailabilityPolicy: z.enum(["HighlyAvailable", "SingleReplica"]).optional(),
    release: z.object({ image: z.string() }).optional(),
    etcd: z
      .object({
        managementType: z.string().optional(),
        managed: z
          .object({
            storage: z
              .object({
                persistentVolume: z.object({ size: z.union([z.string(), z.number()]).optional() }).optional(),
              })
              .optional(),
            shards: z.array(z.unknown()).optional(),
          })
          .optional(),
      })
      .optional(),
    secretEncryption: z
      .object({
        type: z.enum(["aescbc", "kms"]),
        aescbc: z
          .object({
            activeKey: z.object({ name: z.string().min(1) }),
            backupKey: z.object({ name: z.string().min(1) }).optional(),
          })
          .optional(),
        kms: z.object({ aws: z.object({ activeKey: z.object({ arn: z.string() }) }).optional() }).optional(),
      })
      .optional(),
  }),
});

export interface RenderedHostedCluster {
  readonly index: number;
  readonly namespace: string;
  readonly name: string;
  /** The CRD's default (HighlyAvailable) when the field is absent; the hcp CLI renders SingleReplica. */
  readonly availabilityPolicy: "HighlyAvailable" | "SingleReplica";
  readonly releaseImage: string | undefined;
  readonly pvSize: string | number | undefined;
  readonly sharded: boolean;
  readonly encryption:
    | { readonly type: "none" }
    | { readonly type: "aescbc"; readonly activeKeySecret: string; readonly backupKeySecret?: string }
    | { readonly type: "kms"; readonly arn: string | undefined };
}

interface ObjectHead {
  readonly kind?: unknown;
  readonly metadata?: { readonly name?: unknown; readonly namespace?: unknown };
}

export function headOf(doc: Document): ObjectHead {
  const js = doc.toJS() as unknown;
  return typeof js === "object" && js !== null && !Array.isArray(js) ? (js as ObjectHead) : {};
}

/** A document with nothing in it: the trailing `---` the hcp CLI ends its output with. */
export function isEmptyDocument(doc: Document): boolean {
  return doc.contents === null || (doc.toJS() === null && !doc.commentBefore && !doc.comment);
}

export function stringifyDocuments(docs: readonly Document[], format: ToStringOptions): string {
  // An empty document prints as "---" plus a blank line; the source had only the marker.
  return docs.map((d) => (isEmptyDocument(d) ? d.toString(format).replace(/\n+$/, "\n") : d.toString(format))).join("");
}

const FORMATS: readonly ToStringOptions[] = [
  // Go's yaml (what the hcp CLI prints) does not indent sequences under their key.
  { lineWidth: 0, indentSeq: false },
  { lineWidth: 0, indentSeq: true },
];

export function parseRendered(text: string, where: string): RenderedManifests {
  const docs = parseAllDocuments(text, { prettyErrors: false });
  if (!Array.isArray(docs)) throw new UsageError(`${where} is not YAML`);
  for (const d of docs) {
    const e = d.errors[0];
    if (e) throw new UsageError(`${where} is not valid YAML: ${e.message.split("\n")[0]}`);
  }
  for (const [i, d] of docs.entries()) {
    if (isEmptyDocument(d)) continue;
    const h = headOf(d);
    if (typeof h.kind !== "string" || typeof h.metadata?.name !== "string") {
      throw new UsageError(`document ${i + 1} of ${where} is not a Kubernetes object (no kind or metadata.name)`);
    }
  }
  const format = FORMATS.find((f) => stringifyDocuments(docs, f) === text) ?? (FORMATS[0] as ToStringOptions);
  const hcIndexes = docs.flatMap((d, i) => (headOf(d).kind === "HostedCluster" ? [i] : []));
  if (hcIndexes.length !== 1) {
    throw new UsageError(
      `${where} holds ${hcIndexes.length} HostedClusters, expected exactly one: pass the output of "hcp create cluster aws --render --render-sensitive" for one cluster`,
    );
  }
  const index = hcIndexes[0] as number;
  const hostedCluster = readHostedCluster(docs[index] as Document, index, where);
  const secretDoc = (name: string | undefined) => {
    if (name === undefined) return undefined;
    const i = docs.findIndex((d) => {
      const h = headOf(d);
      return (
        h.kind === "Secret" &&
        h.metadata?.name === name &&
        (h.metadata?.namespace ?? hostedCluster.namespace) === hostedCluster.namespace
      );
    });
    return i === -1 ? undefined : { index: i, name };
  };
  const e = hostedCluster.encryption;
  const keySecret = e.type === "aescbc" ? secretDoc(e.activeKeySecret) : undefined;
  const backupKeySecret = e.type === "aescbc" ? secretDoc(e.backupKeySecret) : undefined;
  return {
    where,
    docs,
    format,
    hostedCluster,
    ...(keySecret ? { keySecret } : {}),
    ...(backupKeySecret ? { backupKeySecret } : {}),
  };
}

function readHostedCluster(doc: Document, index: number, where: string): RenderedHostedCluster {
  const parsed = hostedClusterSchema.safeParse(doc.toJS());
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(
      `the HostedCluster in ${where} is not one this tool understands (${issue?.path.join(".") || "(root)"}: ${issue?.message})`,
    );
  }
  const { metadata, spec } = parsed.data;
  const se = spec.secretEncryption;
  let encryption: RenderedHostedCluster["encryption"] = { type: "none" };
  if (se?.type === "aescbc") {
    if (!se.aescbc)
      throw new UsageError(`the HostedCluster in ${where} has secretEncryption aescbc without aescbc.activeKey`);
    encryption = {
      type: "aescbc",
      activeKeySecret: se.aescbc.activeKey.name,
      ...(se.aescbc.backupKey ? { backupKeySecret: se.aescbc.backupKey.name } : {}),
    };
  } else if (se?.type === "kms") encryption = { type: "kms", arn: se.kms?.aws?.activeKey.arn };
  return {
    index,
    namespace: metadata.namespace,
    name: metadata.name,
    availabilityPolicy: spec.controllerAvailabilityPolicy ?? "HighlyAvailable",
    releaseImage: spec.release?.image || undefined,
    pvSize: spec.etcd?.managed?.storage?.persistentVolume?.size,
    sharded: (spec.etcd?.managed?.shards?.length ?? 0) > 0,
    encryption,
  };
}
