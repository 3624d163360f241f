// The snapshot file format: read, check and compare etcd snapshots. Depends on nothing else of ours.
export { BoltFile, hasTrailer } from "./bolt-file.js";
export { diffSnapshots, type KeyChange, type SnapshotDiff } from "./diff.js";
export { SnapshotFileError } from "./errors.js";
export { forEachRevision, type LiveKey, liveKeys, type RevisionEntry, sortedKeys } from "./keys.js";
export { type SnapshotStatus, type StatusCompat, snapshotStatus, statusOf } from "./status.js";
export { formatStatus, humanizeBytes, type StatusFormat } from "./status-format.js";
export { checkTrailer, type TrailerCheck } from "./trailer.js";
export { type Finding, type VerifyOptions, type VerifyReport, verifySnapshot } from "./verify.js";
