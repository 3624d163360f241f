/** The namespace HyperShift gives a hosted cluster's control plane: `<namespace>-<name>`, dots as dashes. */
export function controlPlaneNamespace(namespace: string, name: string): string {
  return `${namespace}-${name}`.replace(/\./g, "-");
}

/** The deployments that write to the hosted cluster's etcd; the backup stops them. */
export const WRITER_DEPLOYMENTS = ["kube-apiserver", "openshift-apiserver", "openshift-oauth-apiserver"] as const;

/**
 * The Secret HyperShift's control-plane operator renders kube-apiserver's EncryptionConfiguration
 * into (data key `config.yaml`): openshift/hypershift's `manifests.KASSecretEncryptionConfigFile`
 * and `secretencryption.EncryptionConfigurationKey`.
 */
export const KAS_ENCRYPTION_CONFIG = { secret: "kas-secret-encryption-config", key: "config.yaml" } as const;
