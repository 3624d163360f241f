import type { Command } from "commander";
import type { KubeAccess } from "../hostedcluster/kube.js";

export interface KubeFlags {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
}

/** kubectl's flags: the management cluster and the HostedCluster's namespace (its help: when it is required). */
export function addKubeOptions(cmd: Command, namespaceHelp = "namespace of the HostedCluster (required)"): Command {
  return cmd
    .option("-n, --namespace <namespace>", namespaceHelp)
    .option(
      "--kubeconfig <file>",
      "kubeconfig of the management cluster (default: KUBECONFIG, ~/.kube/config, in-cluster)",
    )
    .option("--context <name>", "kubeconfig context to use");
}

/**
 * HCPEB_IN_CLUSTER_ROOT moves the service-account files' root (default "/"): a Job's command line
 * can then run outside its pod, against a token and CA laid out under that directory.
 */
export const IN_CLUSTER_ROOT_ENV = "HCPEB_IN_CLUSTER_ROOT";

export function kubeAccess(flags: KubeFlags): KubeAccess {
  const inClusterRoot = process.env[IN_CLUSTER_ROOT_ENV];
  return { kubeconfig: flags.kubeconfig, context: flags.context, ...(inClusterRoot ? { inClusterRoot } : {}) };
}
