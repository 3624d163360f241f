// hcp-etcd-backup as a library: the same building blocks the CLI uses. The supported entry points are
// backupEtcd, backupHostedCluster, verifyBackup, openStore, prepareRestore and watchRestore, with their
// request and result types (README: "Use it as a library"); the rest are the parts they are made of.
export { type CapturedSnapshot, type CaptureRequest, captureSnapshot } from "./backup/capture.js";
export { type BackupResult, backupEtcd, commitManifest, type EtcdBackupRequest } from "./backup/etcd-backup.js";
export {
  backupHostedCluster,
  type HostedBackupPlan,
  type HostedBackupRequest,
  type HostedBackupResult,
  type KeyDestination,
  type Timeouts as HostedBackupTimeouts,
} from "./backup/hosted-backup.js";
export { buildManifest, type ManifestInput, type SourceDescription } from "./backup/manifest-builder.js";
export { type PruneRequest, type PruneResult, prune } from "./backup/prune.js";
export { type SaveRequest, saveSnapshotFile } from "./backup/save-file.js";
export {
  type ProvenBytes,
  SnapshotVerifier,
  TrailerVerifier,
  type VerifiedSnapshot,
} from "./backup/verified-stream.js";
export { type BackupVerification, type VerifyOptions, verifyBackup } from "./backup/verify-backup.js";
export { type AescbcKey, Keyring } from "./encryption/keyring.js";
export {
  CancelledError,
  EtcdError,
  HcpError,
  OperationError,
  StoreError,
  UsageError,
  VerificationError,
} from "./errors.js";
export { EtcdClient, type Member, type MemberStatus, type TlsMaterial } from "./etcd/client.js";
export { directConnector, type EtcdConnector, type EtcdCredentials } from "./etcd/connector.js";
export { type Endpoint, parseEndpoint, parseEndpoints } from "./etcd/endpoint.js";
export {
  type MemberSurvey,
  revisionsAgree,
  type SurveyedMember,
  snapshotCandidates,
  surveyMembers,
} from "./etcd/survey.js";
export { loadTls } from "./etcd/tls.js";
export { type KubeAccess, loadKubeConfig, ManagementCluster } from "./hostedcluster/kube.js";
export { type ExistingMember, LocalEtcdCluster, type MemberPlan } from "./localetcd/cluster.js";
export { createLogger, type Logger, silentLogger } from "./logging.js";
export type { Check, CheckStatus } from "./restore/prepare/checks.js";
export { readRendered } from "./restore/prepare/files.js";
export {
  type PrepareRequest,
  type PrepareResult,
  prepareRestore,
  type SnapshotLink,
} from "./restore/prepare/prepare.js";
export type { Change } from "./restore/prepare/render-patch.js";
export type { KeySource } from "./restore/prepare/saved-key.js";
export { type AppliedObject, TargetCluster } from "./restore/prepare/target-cluster.js";
export { type Finding, type WatchOptions, type WatchResult, watchRestore } from "./restore/watch.js";
export * from "./snapshot/index.js";
export { StreamingStatus } from "./snapshot/stream-status.js";
export { type BackupEntry, type Catalog, readCatalog } from "./store/catalog.js";
export { backupId, parseBackupId } from "./store/layout.js";
export { LocalStore } from "./store/local-store.js";
export { type Manifest, manifestSchema, parseManifest } from "./store/manifest.js";
export { openStore, type StoreSettings } from "./store/open-store.js";
export { planRetention, type RetentionPlan, type RetentionPolicy } from "./store/retention.js";
export { S3Store } from "./store/s3-store.js";
export type { OperationOptions, PutOptions, Store, StoredObject } from "./store/store.js";
