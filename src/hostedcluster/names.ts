/**
 * Names HyperShift gives the objects of a hosted control plane (HyperShift's manifests; see
 * docs/architecture.md). One place, so discovery, the simulator and the tests agree.
 */

/** The hosted control plane's namespace: `<namespace>-<name>`, dots in the name become dashes. */
export function hcpNamespace(namespace: string, name: string): string {
  return `${namespace}-${name.replaceAll(".", "-")}`;
}

export const ETCD_STATEFULSET = "etcd";
export const ETCD_CONTAINER = "etcd";
export const ETCD_CLIENT_SERVICE = "etcd-client";
export const ETCD_DISCOVERY_SERVICE = "etcd-discovery";
/** HyperShift's etcd client port, and the name of that port on the etcd container. */
export const ETCD_CLIENT_PORT = 2379;
export const ETCD_CLIENT_PORT_NAME = "client";
/** ConfigMap (not a Secret) holding the CA that signed etcd's server certificates. */
export const ETCD_CA_CONFIGMAP = { name: "etcd-ca", key: "ca.crt" } as const;
/** Secret with the client certificate the API servers use (CN etcd-client). */
export const ETCD_CLIENT_SECRET = { name: "etcd-client-tls", cert: "etcd-client.crt", key: "etcd-client.key" } as const;
/** Data key of an aescbc encryption Secret. */
export const AESCBC_SECRET_KEY = "key";
/**
 * The kube-apiserver EncryptionConfiguration HyperShift's control-plane operator renders into the
 * control-plane namespace: every aescbc key the API servers still read, so during a key rotation
 * also keys the HostedCluster no longer names. Checked against openshift/hypershift:
 * `manifests.KASSecretEncryptionConfigFile` (control-plane-operator/controllers/hostedcontrolplane/
 * manifests) names the Secret `kas-secret-encryption-config`, and
 * support/secretencryption/encryptionconfig.go has `EncryptionConfigurationKey = "config.yaml"`;
 * v2/kas/secretencryption.go and v2/kas/aescbc.go write it (write key first, read-only keys after).
 */
export const KAS_ENCRYPTION_CONFIG_SECRET = { name: "kas-secret-encryption-config", key: "config.yaml" } as const;

/** The only components configured with etcd endpoints: scaled to zero, etcd receives no writes. */
export const DEFAULT_WRITERS = ["kube-apiserver", "openshift-apiserver", "openshift-oauth-apiserver"] as const;

/** In-cluster URL of etcd's client service, as a pod in the management cluster reaches it. */
export function etcdServiceUrl(hcpNs: string): string {
  return `https://${ETCD_CLIENT_SERVICE}.${hcpNs}.svc:${ETCD_CLIENT_PORT}`;
}

/**
 * The name to check etcd's server certificate against. HyperShift's server certificate names
 * `etcd-client.<ns>.svc`, `*.etcd-discovery.<ns>.svc`, `etcd-client` and `localhost`, but never a
 * pod IP or 127.0.0.1, so a port-forward or an IP endpoint needs this override.
 */
export function etcdServerName(hcpNs: string): string {
  return `${ETCD_CLIENT_SERVICE}.${hcpNs}.svc`;
}

/**
 * The member's own name, as its peers and a client on the pod network know it: the StatefulSet's
 * pod behind the headless `etcd-discovery` Service. HyperShift's server certificate covers it with
 * `*.etcd-discovery.<ns>.svc`; a pod IP it never names.
 */
export function etcdMemberServerName(pod: string, hcpNs: string): string {
  return `${pod}.${ETCD_DISCOVERY_SERVICE}.${hcpNs}.svc`;
}

/** The DNS names HyperShift's etcd server certificate carries (besides localhost). */
export function etcdCertificateNames(hcpNs: string): string[] {
  return [
    ETCD_CLIENT_SERVICE,
    `${ETCD_CLIENT_SERVICE}.${hcpNs}.svc`,
    `${ETCD_CLIENT_SERVICE}.${hcpNs}.svc.cluster.local`,
    `*.${ETCD_DISCOVERY_SERVICE}.${hcpNs}.svc`,
    `*.${ETCD_DISCOVERY_SERVICE}.${hcpNs}.svc.cluster.local`,
  ];
}

/** The Lease a hosted cluster's continuous backup holds in its control-plane namespace: one chain writer per cluster. */
export const CHAIN_LEASE_NAME = "hcp-etcd-backup-continuous";
