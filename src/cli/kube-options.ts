import type { Command } from "commander";
import type { KubeAccess } from "../hostedcluster/kube.js";

export interface KubeFlags {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
}

/** kubectl's flags: the management cluster and the HostedCluster's namespace. */
export function addKubeOptions(cmd: Command): Command {
  return cmd
    .option("-n, --namespace <namespace>", "namespace of the HostedCluster (required)")
    .option(
      "--kubeconfig <file>",
      "kubeconfig of the management cluster (default: KUBECONFIG, ~/.kube/config, in-cluster)",
    )
    .option("--context <name>", "kubeconfig context to use");
}

export function kubeAccess(flags: KubeFlags): KubeAccess {
  return { kubeconfig: flags.kubeconfig, context: flags.context };
}
