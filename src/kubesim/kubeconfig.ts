import { writeFile } from "node:fs/promises";
import yaml from "js-yaml";

export interface KubeconfigParams {
  readonly server: string;
  readonly caPem: Buffer;
  readonly token: string;
  readonly user: string;
  readonly context?: string;
  readonly namespace?: string;
}

/** A kubeconfig with one cluster, user and context, written 0600 (it holds the token). */
export async function writeKubeconfig(path: string, p: KubeconfigParams): Promise<void> {
  const context = p.context ?? "kubesim";
  const doc = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      { name: "kubesim", cluster: { server: p.server, "certificate-authority-data": p.caPem.toString("base64") } },
    ],
    users: [{ name: p.user, user: { token: p.token } }],
    contexts: [
      {
        name: context,
        context: { cluster: "kubesim", user: p.user, ...(p.namespace ? { namespace: p.namespace } : {}) },
      },
    ],
    "current-context": context,
    preferences: {},
  };
  await writeFile(path, yaml.dump(doc), { mode: 0o600 });
}
