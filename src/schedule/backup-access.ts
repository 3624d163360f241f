import {
  CHAIN_LEASE_NAME,
  DEFAULT_WRITERS,
  ETCD_CA_CONFIGMAP,
  ETCD_CLIENT_SECRET,
  ETCD_STATEFULSET,
  KAS_ENCRYPTION_CONFIG_SECRET,
} from "../hostedcluster/names.js";

/** An RBAC rule as the Kubernetes API spells it. */
export interface PolicyRule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
  readonly resourceNames?: readonly string[];
}

export const HYPERSHIFT_GROUP = "hypershift.openshift.io";

/**
 * What `backup --mode online` asks of the API, call by call (src/hostedcluster/discovery.ts): the
 * HostedCluster, then in its control-plane namespace the etcd StatefulSet, the etcd pods (a
 * label-selected list, which RBAC cannot narrow by name), etcd's CA ConfigMap and client-certificate
 * Secret, and each writer's scale (read for the plan even online). Online never patches the
 * HostedCluster, never reads the HostedControlPlane or scales a Deployment (those are the quiesced
 * mode's), and inside a pod it reaches etcd by pod IP, so no pods/portforward. When it saves aescbc
 * keys it also reads kube-apiserver's EncryptionConfiguration Secret there, for the keys a rotation in
 * progress still reads (src/backup/hosted-keys.ts).
 */
export function controlPlaneRules(savesKeys: boolean): PolicyRule[] {
  const secrets = [ETCD_CLIENT_SECRET.name, ...(savesKeys ? [KAS_ENCRYPTION_CONFIG_SECRET.name] : [])];
  return [
    { apiGroups: [""], resources: ["configmaps"], verbs: ["get"], resourceNames: [ETCD_CA_CONFIGMAP.name] },
    { apiGroups: [""], resources: ["pods"], verbs: ["list"] },
    { apiGroups: [""], resources: ["secrets"], verbs: ["get"], resourceNames: secrets },
    { apiGroups: ["apps"], resources: ["deployments/scale"], verbs: ["get"], resourceNames: [...DEFAULT_WRITERS] },
    { apiGroups: ["apps"], resources: ["statefulsets"], verbs: ["get"], resourceNames: [ETCD_STATEFULSET] },
  ];
}

/**
 * A continuous backup also holds its chain's Lease in the control-plane namespace: reads and
 * renews that one Lease (rendered with the schedule), creates none and touches no other.
 */
export function chainLeaseRules(): PolicyRule[] {
  return [
    {
      apiGroups: ["coordination.k8s.io"],
      resources: ["leases"],
      verbs: ["get", "update"],
      resourceNames: [CHAIN_LEASE_NAME],
    },
  ];
}

/**
 * In the HostedCluster's namespace: the HostedCluster itself, by name for one cluster, or any with
 * `list` when `backup --all -n` enumerates them.
 */
export function hostedClusterRules(clusters: readonly string[] | "any"): PolicyRule[] {
  return [
    clusters === "any"
      ? { apiGroups: [HYPERSHIFT_GROUP], resources: ["hostedclusters"], verbs: ["get", "list"] }
      : { apiGroups: [HYPERSHIFT_GROUP], resources: ["hostedclusters"], verbs: ["get"], resourceNames: [...clusters] },
  ];
}

/** The aescbc key Secrets (HostedCluster's namespace), by name; none when the key is not saved or there is none. */
export function keySecretRules(keySecrets: readonly string[]): PolicyRule[] {
  return keySecrets.length > 0
    ? [{ apiGroups: [""], resources: ["secrets"], verbs: ["get"], resourceNames: [...keySecrets] }]
    : [];
}

/** `backup --all --all-namespaces` lists HostedClusters across the management cluster. */
export function fleetRules(): PolicyRule[] {
  return [{ apiGroups: [HYPERSHIFT_GROUP], resources: ["hostedclusters"], verbs: ["get", "list"] }];
}
