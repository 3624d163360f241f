// hcp-etcd-backup as a library: the same building blocks the CLI uses.
export { type BackupResult, backupEtcd, type EtcdBackupRequest } from "./backup/etcd-backup.js";
export { type PruneRequest, type PruneResult, prune } from "./backup/prune.js";
export { type SaveRequest, saveSnapshotFile } from "./backup/save-file.js";
export { SnapshotVerifier, type VerifiedSnapshot } from "./backup/verified-stream.js";
export { type BackupVerification, verifyBackup } from "./backup/verify-backup.js";
export { EtcdError, HcpError, OperationError, StoreError, UsageError, VerificationError } from "./errors.js";
export { EtcdClient, type Member, type MemberStatus, type TlsMaterial } from "./etcd/client.js";
export { type Endpoint, parseEndpoint, parseEndpoints } from "./etcd/endpoint.js";
export { loadTls } from "./etcd/tls.js";
export * from "./snapshot/index.js";
export { StreamingStatus } from "./snapshot/stream-status.js";
export { type BackupEntry, type Catalog, readCatalog } from "./store/catalog.js";
export { type Manifest, manifestSchema, parseManifest } from "./store/manifest.js";
export { openStore, type StoreSettings } from "./store/open-store.js";
export { planRetention, type RetentionPlan, type RetentionPolicy } from "./store/retention.js";
export type { PutOptions, Store, StoredObject } from "./store/store.js";
