// What `hcp create cluster aws --name example --namespace clusters --render --render-sensitive` prints
// for the demo's cluster (the same as test/fixtures/rendered/example-aescbc.yaml): the file an SRE
// gives `restore prepare`. Its encryption Secret holds a fresh random key, as the CLI renders it.
export const RENDERED_EXAMPLE = String.raw`# Rendered with:
#   hcp create cluster aws --name example --namespace clusters --infra-id example-7q2xz \
#     --region us-east-1 --zones us-east-1a --node-pool-replicas 2 \
#     --release-image quay.io/openshift-release-dev/ocp-release:4.18.12-multi \
#     --render --render-sensitive
# Reviewed by the on-call SRE before the restore; keep these notes.
apiVersion: v1
kind: Namespace
metadata:
  name: clusters
spec: {}
status: {}
---
apiVersion: v1
data:
  .dockerconfigjson: eyJhdXRocyI6eyJxdWF5LmlvIjp7ImF1dGgiOiJaWGhoYlhCc1pUcHViM1F0WVMxeVpXRnNMWFJ2YTJWdSIsImVtYWlsIjoic3JlQGV4YW1wbGUuY29tIn19fQ==
kind: Secret
metadata:
  labels:
    hypershift.openshift.io/safe-to-delete-with-cluster: "true"
  name: example-pull-secret
  namespace: clusters
---
apiVersion: v1
data:
  id_rsa.pub: c3NoLWVkMjU1MTkgQUFBQUMzTnphQzFsWkRJMU5URTVBQUFBSUZha2VLZXlGb3JUaGVGaXh0dXJlT25seU5vdFVzZWRBbnl3aGVyZTAwMDAgc3JlQGV4YW1wbGUuY29tCg==
kind: Secret
metadata:
  labels:
    hypershift.openshift.io/safe-to-delete-with-cluster: "true"
  name: example-ssh-key
  namespace: clusters
---
apiVersion: v1
data:
  key: gL1JMAUYkWl46xSYZkbsC/4pCm1Bv7OL3WA5k5tg/n4= # fresh random key from the render: must become the saved one
kind: Secret
metadata:
  labels:
    hypershift.openshift.io/safe-to-delete-with-cluster: "true"
  name: example-etcd-encryption-key
  namespace: clusters
type: Opaque
---
apiVersion: hypershift.openshift.io/v1beta1
kind: HostedCluster
metadata:
  annotations:
    hypershift.openshift.io/cleanup-cloud-resources: "true"
  name: example
  namespace: clusters
spec:
  autoscaling: {}
  configuration: {}
  controllerAvailabilityPolicy: SingleReplica
  dns:
    baseDomain: example.com
    privateZoneID: Z0123456789PRIVATE
    publicZoneID: Z0123456789PUBLIC
  # etcd: the restore adds restoreSnapshotURL below
  etcd:
    managed:
      storage:
        persistentVolume:
          size: 8Gi
          storageClassName: gp3-csi
        type: PersistentVolume
    managementType: Managed
  fips: false
  infraID: example-7q2xz
  issuerURL: https://example-oidc.s3.us-east-1.amazonaws.com/example-7q2xz
  networking:
    clusterNetwork:
    - cidr: 10.132.0.0/14
    machineNetwork:
    - cidr: 10.0.0.0/16
    networkType: OVNKubernetes
    serviceNetwork:
    - cidr: 172.31.0.0/16
  olmCatalogPlacement: management
  platform:
    aws:
      cloudProviderConfig:
        subnet:
          id: subnet-0a1b2c3d4e5f60718
        vpc: vpc-0123456789abcdef0
        zone: us-east-1a
      endpointAccess: Public
      multiArch: false
      region: us-east-1
      rolesRef:
        controlPlaneOperatorARN: arn:aws:iam::123456789012:role/example-7q2xz-control-plane-operator
        imageRegistryARN: arn:aws:iam::123456789012:role/example-7q2xz-openshift-image-registry
        ingressARN: arn:aws:iam::123456789012:role/example-7q2xz-openshift-ingress
        kubeCloudControllerARN: arn:aws:iam::123456789012:role/example-7q2xz-cloud-controller
        networkARN: arn:aws:iam::123456789012:role/example-7q2xz-cloud-network-config-controller
        nodePoolManagementARN: arn:aws:iam::123456789012:role/example-7q2xz-node-pool
        storageARN: arn:aws:iam::123456789012:role/example-7q2xz-aws-ebs-csi-driver-controller
    type: AWS
  pullSecret:
    name: example-pull-secret
  release:
    image: quay.io/openshift-release-dev/ocp-release:4.18.12-multi
  secretEncryption:
    aescbc:
      activeKey:
        name: example-etcd-encryption-key
    type: aescbc
  services:
  - service: APIServer
    servicePublishingStrategy:
      type: LoadBalancer
  - service: Ignition
    servicePublishingStrategy:
      type: Route
  - service: Konnectivity
    servicePublishingStrategy:
      type: Route
  - service: OAuthServer
    servicePublishingStrategy:
      type: Route
  sshKey:
    name: example-ssh-key
status:
  controlPlaneEndpoint:
    host: ""
    port: 0
---
apiVersion: hypershift.openshift.io/v1beta1
kind: NodePool
metadata:
  name: example-us-east-1a
  namespace: clusters
spec:
  arch: amd64
  clusterName: example
  management:
    autoRepair: false
    upgradeType: Replace
  nodeDrainTimeout: 0s
  nodeVolumeDetachTimeout: 0s
  platform:
    aws:
      instanceProfile: example-7q2xz-worker
      instanceType: m5.xlarge
      rootVolume:
        size: 120
        type: gp3
      subnet:
        id: subnet-0a1b2c3d4e5f60718
    type: AWS
  release:
    image: quay.io/openshift-release-dev/ocp-release:4.18.12-multi
  replicas: 2
status:
  replicas: 0
---
`;
