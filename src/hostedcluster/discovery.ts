import { z } from "zod";
import { encryptionConfigKeys } from "../encryption/key-files.js";
import type { AescbcKey } from "../encryption/keyring.js";
import { describe, OperationError, UsageError } from "../errors.js";
import type { TlsMaterial } from "../etcd/client.js";
import { ineligibility } from "./eligibility.js";
import { KubeNotFoundError, type ManagementCluster } from "./kube.js";
import {
  AESCBC_SECRET_KEY,
  ETCD_CA_CONFIGMAP,
  ETCD_CLIENT_PORT,
  ETCD_CLIENT_PORT_NAME,
  ETCD_CLIENT_SECRET,
  ETCD_CONTAINER,
  ETCD_STATEFULSET,
  etcdServerName,
  hcpNamespace,
  KAS_ENCRYPTION_CONFIG_SECRET,
} from "./names.js";

const ref = z.object({ name: z.string().min(1) });

/** The part of a HostedCluster the backup reads; validated here, trusted inside. */
export const hostedClusterSchema = z.object({
  metadata: z.object({
    name: z.string(),
    namespace: z.string(),
    uid: z.string(),
    resourceVersion: z.string(),
    annotations: z.record(z.string(), z.string()).optional(),
  }),
  spec: z.object({
    pausedUntil: z.string().optional(),
    etcd: z.object({
      managementType: z.enum(["Managed", "Unmanaged"]),
      managed: z.object({ shards: z.array(z.unknown()).optional() }).optional(),
    }),
    secretEncryption: z
      .object({
        type: z.enum(["aescbc", "kms"]),
        aescbc: z.object({ activeKey: ref, backupKey: ref.optional() }).optional(),
        kms: z
          .object({
            provider: z.string(),
            aws: z.object({ activeKey: z.object({ arn: z.string() }), region: z.string() }).optional(),
          })
          .optional(),
      })
      .optional(),
  }),
});

export type HostedCluster = z.infer<typeof hostedClusterSchema>;

export interface EtcdPod {
  readonly name: string;
  readonly podIP: string | undefined;
  /** The etcd container's port named `client` (HyperShift: 2379), where the pod IP serves clients. */
  readonly clientPort: number;
  readonly ready: boolean;
}

export type EncryptionSource =
  | { readonly type: "none" }
  | {
      readonly type: "aescbc";
      /** Secrets in the HostedCluster's namespace: the active key first, then the backup key if any. */
      readonly secrets: ReadonlyArray<{ readonly role: "active" | "backup"; readonly name: string }>;
    }
  | { readonly type: "kms"; readonly provider: string; readonly arn?: string; readonly region?: string };

/** Everything phase 1 learned: where etcd is, how to talk to it, who writes to it, what encrypts it. */
export interface HostedClusterTarget {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly hcpNamespace: string;
  readonly hostedCluster: HostedCluster;
  readonly etcdPods: readonly EtcdPod[];
  readonly etcdReplicas: number;
  /** PEM bytes from `etcd-ca` and `etcd-client-tls`, with the server name HyperShift's certificates carry. */
  readonly tls: TlsMaterial;
  readonly encryption: EncryptionSource;
  readonly writers: ReadonlyArray<{ readonly name: string; readonly replicas: number }>;
}

export interface DiscoverOptions {
  readonly writers: readonly string[];
  readonly signal?: AbortSignal;
}

/** Phase 1: reads, never writes. Each missing piece is one line that says what to check. */
export async function discoverHostedCluster(
  cluster: ManagementCluster,
  namespace: string,
  name: string,
  options: DiscoverOptions,
): Promise<HostedClusterTarget> {
  const { signal } = options;
  const hc = parseHostedCluster(
    await cluster.getHostedCluster(namespace, name, signal).catch((err: unknown) => {
      if (err instanceof KubeNotFoundError)
        throw new UsageError(
          `hosted cluster ${namespace}/${name} not found (kubectl get hostedclusters -n ${namespace} lists them)`,
          { cause: err },
        );
      throw err;
    }),
    `${namespace}/${name}`,
  );
  const ineligible = ineligibility(hc.spec.etcd);
  if (ineligible === "unmanaged") {
    throw new UsageError(
      `the etcd of ${namespace}/${name} is Unmanaged (run outside the hosted control plane): back it up with --endpoints and --name instead`,
    );
  }
  if (ineligible === "sharded") {
    throw new UsageError(`the etcd of ${namespace}/${name} is sharded: sharded etcd is not supported yet`);
  }
  const hcpNs = hcpNamespace(namespace, name);
  const sts = await cluster.getStatefulSet(hcpNs, ETCD_STATEFULSET, signal).catch((err: unknown) => {
    throw new OperationError(
      `no etcd StatefulSet ${hcpNs}/${ETCD_STATEFULSET} for ${namespace}/${name}: ${describe(err)}`,
      { cause: err },
    );
  });
  const replicas = sts.spec?.replicas ?? 1;
  const ready = sts.status?.readyReplicas ?? 0;
  if (ready < replicas) {
    throw new OperationError(
      `etcd of ${namespace}/${name} is not ready (${ready}/${replicas} members ready in ${hcpNs}): fix etcd before backing it up`,
    );
  }
  const pods = (await cluster.listPods(hcpNs, "app=etcd", signal)).items.map((p) => ({
    name: p.metadata?.name ?? "?",
    podIP: p.status?.podIP,
    clientPort:
      p.spec?.containers
        .find((c) => c.name === ETCD_CONTAINER)
        ?.ports?.find((port) => port.name === ETCD_CLIENT_PORT_NAME)?.containerPort ?? ETCD_CLIENT_PORT,
    ready: (p.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True"),
  }));
  pods.sort((a, b) => a.name.localeCompare(b.name, "en", { numeric: true }));

  const tls = await readTls(cluster, hcpNs, signal);
  const encryption = encryptionSource(hc);
  const writers = [];
  for (const w of options.writers) {
    const scale = await cluster.getDeploymentScale(hcpNs, w, signal).catch((err: unknown) => {
      throw new OperationError(
        `writer deployment ${hcpNs}/${w} not found or unreadable (${describe(err)}); choose the writers with --writers`,
        { cause: err },
      );
    });
    writers.push({ name: w, replicas: scale.spec?.replicas ?? 0 });
  }
  return {
    namespace,
    name,
    uid: hc.metadata.uid,
    hcpNamespace: hcpNs,
    hostedCluster: hc,
    etcdPods: pods,
    etcdReplicas: replicas,
    tls,
    encryption,
    writers,
  };
}

export function parseHostedCluster(raw: unknown, where: string): HostedCluster {
  const parsed = hostedClusterSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new OperationError(
      `hosted cluster ${where} does not look like a HostedCluster this tool understands (${issue?.path.join(".")}: ${issue?.message})`,
    );
  }
  return parsed.data;
}

function encryptionSource(hc: HostedCluster): EncryptionSource {
  const e = hc.spec.secretEncryption;
  if (!e) return { type: "none" };
  if (e.type === "kms")
    return {
      type: "kms",
      provider: e.kms?.provider ?? "?",
      arn: e.kms?.aws?.activeKey.arn,
      region: e.kms?.aws?.region,
    };
  if (!e.aescbc)
    throw new OperationError(
      `secretEncryption of ${hc.metadata.namespace}/${hc.metadata.name} is aescbc without aescbc.activeKey`,
    );
  const secrets: Array<{ role: "active" | "backup"; name: string }> = [
    { role: "active", name: e.aescbc.activeKey.name },
  ];
  if (e.aescbc.backupKey) secrets.push({ role: "backup", name: e.aescbc.backupKey.name });
  return { type: "aescbc", secrets };
}

async function readTls(cluster: ManagementCluster, hcpNs: string, signal?: AbortSignal): Promise<TlsMaterial> {
  const cm = await cluster.getConfigMap(hcpNs, ETCD_CA_CONFIGMAP.name, signal).catch((err: unknown) => {
    throw new OperationError(`no ConfigMap ${hcpNs}/${ETCD_CA_CONFIGMAP.name} (etcd's CA): ${describe(err)}`, {
      cause: err,
    });
  });
  const ca = cm.data?.[ETCD_CA_CONFIGMAP.key];
  if (!ca) throw new OperationError(`ConfigMap ${hcpNs}/${ETCD_CA_CONFIGMAP.name} has no ${ETCD_CA_CONFIGMAP.key}`);
  const secret = await cluster.getSecret(hcpNs, ETCD_CLIENT_SECRET.name, signal).catch((err: unknown) => {
    throw new OperationError(
      `no Secret ${hcpNs}/${ETCD_CLIENT_SECRET.name} (etcd's client certificate): ${describe(err)}`,
      {
        cause: err,
      },
    );
  });
  const cert = secret.data?.[ETCD_CLIENT_SECRET.cert];
  const key = secret.data?.[ETCD_CLIENT_SECRET.key];
  if (!cert || !key) {
    throw new OperationError(
      `Secret ${hcpNs}/${ETCD_CLIENT_SECRET.name} lacks ${!cert ? ETCD_CLIENT_SECRET.cert : ETCD_CLIENT_SECRET.key}`,
    );
  }
  return {
    ca: Buffer.from(ca),
    cert: Buffer.from(cert, "base64"),
    key: Buffer.from(key, "base64"),
    serverName: etcdServerName(hcpNs),
  };
}

/** The aescbc key bytes of each key Secret (in the HostedCluster's namespace). */
export async function readEncryptionKeys(
  cluster: ManagementCluster,
  target: HostedClusterTarget,
  signal?: AbortSignal,
): Promise<Array<{ role: "active" | "backup"; secret: string; key: Buffer }>> {
  if (target.encryption.type !== "aescbc") return [];
  const out = [];
  for (const s of target.encryption.secrets) {
    const secret = await cluster.getSecret(target.namespace, s.name, signal).catch((err: unknown) => {
      if (/^not allowed to /.test(describe(err)))
        throw new OperationError(
          `RBAC: this service account may not read the ${s.role} encryption key Secret ${target.namespace}/${s.name} (${describe(err)}); render the schedule again with --kubeconfig so its Role grants every key Secret the HostedCluster names`,
          { cause: err },
        );
      throw new OperationError(
        `the ${s.role} encryption key Secret ${target.namespace}/${s.name} is missing or unreadable (${describe(err)}); without it the backup cannot be restored (--no-key to back up anyway)`,
        { cause: err },
      );
    });
    const value = secret.data?.[AESCBC_SECRET_KEY];
    if (!value) throw new OperationError(`Secret ${target.namespace}/${s.name} has no data.${AESCBC_SECRET_KEY}`);
    out.push({ role: s.role, secret: s.name, key: Buffer.from(value, "base64") });
  }
  return out;
}

/**
 * What the hosted control plane's EncryptionConfiguration lists: its aescbc keys, in its order and
 * under its names, or why it could not be read. An older HyperShift has no such Secret, and a Role
 * rendered before the backup read it does not grant it: the caller decides what each means.
 */
export type ListedKeys =
  | { readonly read: true; readonly secret: string; readonly keys: readonly AescbcKey[] }
  | { readonly read: false; readonly secret: string; readonly why: "missing" | "forbidden"; readonly detail: string };

/** Reads `kas-secret-encryption-config` in the control-plane namespace (a rotation in progress lists more keys). */
export async function readListedEncryptionKeys(
  cluster: ManagementCluster,
  target: HostedClusterTarget,
  signal?: AbortSignal,
): Promise<ListedKeys> {
  const where = `${target.hcpNamespace}/${KAS_ENCRYPTION_CONFIG_SECRET.name}`;
  let secret: Awaited<ReturnType<ManagementCluster["getSecret"]>>;
  try {
    secret = await cluster.getSecret(target.hcpNamespace, KAS_ENCRYPTION_CONFIG_SECRET.name, signal);
  } catch (err) {
    if (err instanceof KubeNotFoundError) return { read: false, secret: where, why: "missing", detail: describe(err) };
    if (/^not allowed to /.test(describe(err)))
      return { read: false, secret: where, why: "forbidden", detail: describe(err) };
    throw new OperationError(`cannot read the encryption configuration Secret ${where}: ${describe(err)}`, {
      cause: err,
    });
  }
  const value = secret.data?.[KAS_ENCRYPTION_CONFIG_SECRET.key];
  if (!value) return { read: true, secret: where, keys: [] };
  const text = Buffer.from(value, "base64").toString("utf8");
  const keys = encryptionConfigKeys(
    text,
    where,
    (m) => new OperationError(`Secret ${where} data.${KAS_ENCRYPTION_CONFIG_SECRET.key}: ${m}`),
  );
  return { read: true, secret: where, keys };
}
