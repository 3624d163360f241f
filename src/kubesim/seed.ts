import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import yaml from "js-yaml";
import { aescbcKeyName } from "../hostedcluster/encryption-key.js";
import type { LocalEtcdCluster } from "../localetcd/cluster.js";
import { admit } from "./admission.js";
import { type OwnerRef, podObject, readyPodStatus } from "./controllers.js";
import type { JsonObject } from "./json.js";
import { controlPlaneNamespace, KAS_ENCRYPTION_CONFIG, WRITER_DEPLOYMENTS } from "./names.js";
import { FORWARD_ANNOTATION_PREFIX } from "./portforward.js";
import { resourceByKind } from "./resources.js";
import type { KubeApiServer } from "./server.js";

export interface SeedOptions {
  /** Namespace of the HostedCluster (default `clusters`). */
  readonly namespace?: string;
  /** HostedCluster name (default `example`). */
  readonly name?: string;
  /** Replicas of each writer deployment (default 3, HighlyAvailable). */
  readonly writerReplicas?: number;
  readonly releaseImage?: string;
}

/** The names of what the seed created: what a backup discovers from the HostedCluster. */
export interface SeededHostedCluster {
  readonly namespace: string;
  readonly name: string;
  readonly controlPlaneNamespace: string;
  readonly encryptionKeySecret: string;
  /** The AES-CBC key (32 bytes) in the encryption Secret's `data.key`. */
  readonly encryptionKey: Buffer;
  /** Secret (control-plane namespace) with kube-apiserver's EncryptionConfiguration in `data["config.yaml"]`. */
  readonly encryptionConfigSecret: string;
  readonly etcdPods: readonly string[];
  readonly etcdStatefulSet: string;
  readonly etcdClientService: string;
  readonly etcdCaConfigMap: string;
  readonly etcdClientSecret: string;
  readonly writers: readonly string[];
}

const ETCD_CLIENT_PORT = 2379;

/**
 * Preloads a hosted cluster as HyperShift lays it out, backed by a real etcd: namespace `clusters`
 * with HostedCluster `example` and its encryption key Secret; namespace `clusters-example` with the
 * HostedControlPlane, the etcd StatefulSet and pods (each forwards port 2379 to one real member), the
 * etcd CA and client certificate, and the three writer Deployments with ready pods. The HyperShift
 * objects pass the real CRDs' validation.
 */
export async function seedHostedCluster(
  api: KubeApiServer,
  etcd: LocalEtcdCluster,
  options: SeedOptions = {},
): Promise<SeededHostedCluster> {
  const ns = options.namespace ?? "clusters";
  const name = options.name ?? "example";
  const hcpNs = controlPlaneNamespace(ns, name);
  const writerReplicas = options.writerReplicas ?? 3;
  const keySecret = `${name}-etcd-encryption-key`;
  const encryptionKey = randomBytes(32);
  const [ca, clientCert, clientKey] = await Promise.all([
    readFile(etcd.pki.caCert),
    readFile(etcd.pki.clientCert),
    readFile(etcd.pki.clientKey),
  ]);
  const now = api.clock.now();
  const put = (kind: string, obj: JsonObject): JsonObject => {
    const rt = resourceByKind(kind);
    const admitted = admit(rt, obj, undefined, { strict: true });
    return api.store.create(rt, admitted.object, now);
  };
  const b64 = (b: Buffer | string): string => Buffer.from(b).toString("base64");

  // Several hosted clusters may share one namespace (seeded one after the other on one server).
  if (!api.store.get(resourceByKind("Namespace"), undefined, ns))
    put("Namespace", { apiVersion: "v1", kind: "Namespace", metadata: { name: ns }, status: { phase: "Active" } });
  put("Namespace", {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: hcpNs, labels: { "hypershift.openshift.io/hosted-control-plane": "true" } },
    status: { phase: "Active" },
  });
  const keyData = { key: b64(encryptionKey) };
  put("Secret", {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name: keySecret,
      namespace: ns,
      labels: { "hypershift.openshift.io/safe-to-delete-with-cluster": "true" },
    },
    type: "Opaque",
    data: keyData,
  });
  put("Secret", {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: `${name}-pull-secret`, namespace: ns },
    type: "kubernetes.io/dockerconfigjson",
    data: { ".dockerconfigjson": b64('{"auths":{}}') },
  });
  const release = options.releaseImage ?? "quay.io/openshift-release-dev/ocp-release:4.20.0-x86_64";
  const spec = hostedClusterSpec(name, release, keySecret);
  put("HostedCluster", {
    apiVersion: "hypershift.openshift.io/v1beta1",
    kind: "HostedCluster",
    metadata: { name, namespace: ns },
    spec,
    status: {
      version: {
        desired: { image: release, version: releaseVersion(release) },
        availableUpdates: null,
        observedGeneration: 1,
      },
    },
  });
  put("HostedControlPlane", {
    apiVersion: "hypershift.openshift.io/v1beta1",
    kind: "HostedControlPlane",
    metadata: {
      name,
      namespace: hcpNs,
      annotations: { "hypershift.openshift.io/cluster": `${ns}/${name}` },
    },
    spec: hostedControlPlaneSpec(name, release, keySecret),
    status: { initialized: true, ready: true },
  });
  put("Secret", {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: keySecret, namespace: hcpNs },
    type: "Opaque",
    data: keyData,
  });
  put("Secret", {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: KAS_ENCRYPTION_CONFIG.secret, namespace: hcpNs },
    type: "Opaque",
    data: { [KAS_ENCRYPTION_CONFIG.key]: b64(encryptionConfiguration([encryptionKey])) },
  });
  put("ConfigMap", {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "etcd-ca", namespace: hcpNs },
    data: { "ca.crt": ca.toString() },
  });
  put("Secret", {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "etcd-client-tls", namespace: hcpNs },
    type: "Opaque",
    data: { "etcd-client.crt": b64(clientCert), "etcd-client.key": b64(clientKey) },
  });
  for (const svc of ["etcd-client", "etcd-discovery"]) {
    put("Service", {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: svc, namespace: hcpNs, labels: { app: "etcd" } },
      spec: {
        selector: { app: "etcd" },
        ports: [{ name: "etcd-client", port: ETCD_CLIENT_PORT, protocol: "TCP", targetPort: "client" }],
        ...(svc === "etcd-discovery"
          ? { clusterIP: "None", publishNotReadyAddresses: true }
          : { clusterIP: "172.31.0.10", type: "ClusterIP" }),
      },
    });
  }

  const etcdPods = Array.from({ length: etcd.size }, (_, i) => `etcd-${i}`);
  // A member on its own loopback address stands for a pod on the pod network: that address is the
  // pod's IP and its port the container's client port (one port for all, as in a StatefulSet). A
  // member on 127.0.0.1 is reached by port-forward only: its pod shows HyperShift's port 2379.
  const members = etcdPods.map((_, i) => new URL(etcd.endpoint(i)));
  const onPodNetwork = members.every((u) => u.hostname !== "127.0.0.1");
  const containerPort = onPodNetwork ? Number(members[0]?.port) : ETCD_CLIENT_PORT;
  const sts = put("StatefulSet", {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name: "etcd", namespace: hcpNs, labels: { app: "etcd" } },
    spec: {
      replicas: etcd.size,
      serviceName: "etcd-discovery",
      selector: { matchLabels: { app: "etcd" } },
      template: { metadata: { labels: { app: "etcd" } }, spec: { containers: [etcdContainer(containerPort)] } },
    },
    status: {
      observedGeneration: 1,
      replicas: etcd.size,
      readyReplicas: etcd.size,
      availableReplicas: etcd.size,
      currentReplicas: etcd.size,
      updatedReplicas: etcd.size,
    },
  });
  const stsOwner = owner("StatefulSet", sts);
  for (const [i, podName] of etcdPods.entries()) {
    const member = members[i] as URL;
    const pod = podObject(
      hcpNs,
      podName,
      { app: "etcd", "statefulset.kubernetes.io/pod-name": podName },
      { containers: [etcdContainer(containerPort)] },
      stsOwner,
    );
    const m = pod.metadata as JsonObject;
    if (!onPodNetwork) m.annotations = { [`${FORWARD_ANNOTATION_PREFIX}${ETCD_CLIENT_PORT}`]: member.port };
    pod.status = readyPodStatus(pod, now, onPodNetwork ? member.hostname : undefined);
    put("Pod", pod);
  }

  for (const writer of WRITER_DEPLOYMENTS) {
    const labels = { app: writer, "hypershift.openshift.io/control-plane-component": writer };
    const d = put("Deployment", {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: writer, namespace: hcpNs, labels: { app: writer } },
      spec: {
        replicas: writerReplicas,
        selector: { matchLabels: { app: writer } },
        template: { metadata: { labels }, spec: { containers: [{ name: writer, image: release }] } },
      },
      status: {
        observedGeneration: 1,
        replicas: writerReplicas,
        updatedReplicas: writerReplicas,
        readyReplicas: writerReplicas,
        availableReplicas: writerReplicas,
      },
    });
    for (let i = 0; i < writerReplicas; i++) {
      const podName = `${writer}-${randomBytes(4).toString("hex").slice(0, 7)}-${randomBytes(3).toString("hex").slice(0, 5)}`;
      const pod = podObject(
        hcpNs,
        podName,
        labels,
        { containers: [{ name: writer, image: release }] },
        owner("Deployment", d),
      );
      pod.status = readyPodStatus(pod, now);
      put("Pod", pod);
    }
  }
  put("ServiceAccount", { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "default", namespace: hcpNs } });

  return {
    namespace: ns,
    name,
    controlPlaneNamespace: hcpNs,
    encryptionKeySecret: keySecret,
    encryptionKey,
    encryptionConfigSecret: KAS_ENCRYPTION_CONFIG.secret,
    etcdPods,
    etcdStatefulSet: "etcd",
    etcdClientService: "etcd-client",
    etcdCaConfigMap: "etcd-ca",
    etcdClientSecret: "etcd-client-tls",
    writers: [...WRITER_DEPLOYMENTS],
  };
}

/**
 * kube-apiserver's EncryptionConfiguration as HyperShift renders it for aescbc (v2/kas/aescbc.go): write key first,
 * keys it still reads after it (a rotation in progress), each named `key-<FNV-1 32>` of its bytes,
 * then identity for values written before encryption was on.
 */
export function encryptionConfiguration(keys: readonly Buffer[]): string {
  return yaml.dump({
    kind: "EncryptionConfiguration",
    apiVersion: "apiserver.config.k8s.io/v1",
    resources: [
      {
        resources: ["secrets"],
        providers: [
          { aescbc: { keys: keys.map((k) => ({ name: aescbcKeyName(k), secret: k.toString("base64") })) } },
          { identity: {} },
        ],
      },
    ],
  });
}

/** `4.20.0` from `...ocp-release:4.20.0-x86_64`. */
function releaseVersion(image: string): string {
  return /:(\d+\.\d+\.\d+)/.exec(image)?.[1] ?? "4.20.0";
}

function owner(kind: string, obj: JsonObject): OwnerRef {
  const m = obj.metadata as JsonObject;
  return { apiVersion: "apps/v1", kind, name: String(m.name), uid: String(m.uid) };
}

function etcdContainer(clientPort: number): JsonObject {
  return {
    name: "etcd",
    image: "quay.io/openshift-release-dev/ocp-v4.0-art-dev:etcd",
    ports: [
      { name: "client", containerPort: clientPort, protocol: "TCP" },
      { name: "peer", containerPort: 2380, protocol: "TCP" },
    ],
  };
}

const SERVICES: JsonObject[] = ["APIServer", "OAuthServer", "Konnectivity", "Ignition"].map((service) => ({
  service,
  servicePublishingStrategy: service === "APIServer" ? { type: "LoadBalancer" } : { type: "Route" },
}));

function etcdSpec(): JsonObject {
  return {
    managementType: "Managed",
    managed: { storage: { type: "PersistentVolume", persistentVolume: { size: "8Gi", storageClassName: "gp3-csi" } } },
  };
}

function awsPlatform(name: string): JsonObject {
  const arn = (role: string): string => `arn:aws:iam::123456789012:role/${name}-${role}`;
  return {
    type: "AWS",
    aws: {
      region: "us-east-1",
      endpointAccess: "Public",
      rolesRef: {
        controlPlaneOperatorARN: arn("control-plane-operator"),
        imageRegistryARN: arn("openshift-image-registry"),
        ingressARN: arn("openshift-ingress"),
        kubeCloudControllerARN: arn("cloud-controller"),
        networkARN: arn("cloud-network-config-controller"),
        nodePoolManagementARN: arn("node-pool"),
        storageARN: arn("aws-ebs-csi-driver-controller"),
      },
    },
  };
}

function secretEncryption(keySecret: string): JsonObject {
  return { type: "aescbc", aescbc: { activeKey: { name: keySecret } } };
}

/** What a HostedCluster and its HostedControlPlane share: the HyperShift operator copies these across. */
function sharedSpec(name: string, keySecret: string): JsonObject {
  return {
    infraID: `${name}-k8x2q`,
    issuerURL: `https://${name}-oidc.s3.us-east-1.amazonaws.com/${name}-k8x2q`,
    controllerAvailabilityPolicy: "HighlyAvailable",
    infrastructureAvailabilityPolicy: "HighlyAvailable",
    dns: { baseDomain: "example.com" },
    etcd: etcdSpec(),
    networking: {
      networkType: "OVNKubernetes",
      clusterNetwork: [{ cidr: "10.132.0.0/14" }],
      serviceNetwork: [{ cidr: "172.31.0.0/16" }],
      machineNetwork: [{ cidr: "10.0.0.0/16" }],
    },
    platform: awsPlatform(name),
    secretEncryption: secretEncryption(keySecret),
    services: SERVICES,
  };
}

function hostedClusterSpec(name: string, release: string, keySecret: string): JsonObject {
  return { release: { image: release }, pullSecret: { name: `${name}-pull-secret` }, ...sharedSpec(name, keySecret) };
}

function hostedControlPlaneSpec(name: string, release: string, keySecret: string): JsonObject {
  return {
    releaseImage: release,
    pullSecret: { name: "pull-secret" },
    sshKey: { name: "" },
    ...sharedSpec(name, keySecret),
  };
}
