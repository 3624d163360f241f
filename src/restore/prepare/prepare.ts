import type { KubernetesObject } from "@kubernetes/client-node";
import { verifyBackup } from "../../backup/verify-backup.js";
import { describe } from "../../errors.js";
import { type Logger, silentLogger } from "../../logging.js";
import { SNAPSHOT_FILE } from "../../store/manifest.js";
import { S3Store } from "../../store/s3-store.js";
import type { Store } from "../../store/store.js";
import { block, blocked, type Check, notRun, pass, warn } from "./checks.js";
import {
  availabilityCheck,
  encryptionTypeCheck,
  operatorTrapChecks,
  pvSizeCheck,
  shapeCheck,
  urlChecks,
} from "./offline-checks.js";
import { planPvSize } from "./pv-size.js";
import { type Change, patchRendered } from "./render-patch.js";
import { isEmptyDocument, parseRendered } from "./rendered.js";
import { type KeySource, loadSavedKey } from "./saved-key.js";
import { clusterChecksNotRun, type TargetCluster } from "./target-cluster.js";

/** Where HyperShift's etcd-init will download the snapshot from, and what signed that URL. */
export interface SnapshotLink {
  presign(expiresInSeconds: number, signingDate: Date): Promise<string>;
  credentials(): Promise<{ readonly temporary: boolean; readonly expiration?: Date }>;
  /** Why this is no real link (the demo's stand-in): then the URL checks are reported as not run, for this reason. */
  readonly standIn?: string;
}

export interface PrepareRequest {
  /** The backup's folder. */
  readonly store: Store;
  /**
   * The snapshot's URL when it does not come from presigning the store (the demo's local store has no
   * URL etcd-init could download; it shows the rest of the patch with a stand-in). Default: the S3 store presigns.
   */
  readonly link?: SnapshotLink;
  readonly rendered: { readonly text: string; readonly where: string };
  readonly expiresInSeconds: number;
  /** Where the saved aescbc key comes from (aescbc sources). */
  readonly key?: KeySource;
  /** The management cluster for the cluster checks (and --apply); undefined: those checks are not run. */
  readonly target?: TargetCluster;
  /** Where the snapshot is staged for the structural check (`verify --scratch-dir`); false skips the walk. */
  readonly scratchDir?: string | false;
  readonly signal?: AbortSignal;
  readonly logger?: Logger;
}

export interface PrepareResult {
  readonly ref: string;
  readonly checks: readonly Check[];
  /** True when a check blocked: then nothing was patched, written or applied. */
  readonly blocked: boolean;
  /** The patched manifests, holding the presigned URL (a bearer credential for the snapshot). */
  readonly yaml?: string;
  readonly url?: string;
  readonly changes: readonly Change[];
  /** The patched objects, in document order, for `TargetCluster.apply`. */
  readonly objects: readonly KubernetesObject[];
  /**
   * Why no URL could be made (a local store cannot be presigned): every other check still ran, so the
   * findings are worth printing, but the result is blocked and the caller refuses with this line.
   */
  readonly unpresignable?: string;
}

/**
 * `restore prepare`: verifies the backup, presigns its snapshot, opens its key, checks every known
 * trap, and — unless a check blocks — patches the rendered manifests. Creating them is
 * `TargetCluster.apply`, once the caller has written them out.
 */
export async function prepareRestore(req: PrepareRequest): Promise<PrepareResult> {
  const logger = req.logger ?? silentLogger();
  const { store, signal } = req;
  const link = req.link ?? (store instanceof S3Store ? s3Link(store) : undefined);
  // Without a URL the rest still runs: the backup, the key and the rendered file's findings are worth
  // knowing before the backup is copied to S3 (the demo's kept output is re-checked this way).
  const unpresignable = link
    ? undefined
    : `${store.url} is a local store and a local file cannot be presigned: copy the backup folder to S3 (aws s3 cp --recursive) and prepare from there, or restore it into data directories with 'restore local'`;
  const rendered = parseRendered(req.rendered.text, req.rendered.where);
  const hc = rendered.hostedCluster;
  const checks: Check[] = [];

  // A restore is often prepared with read-only credentials: the result not written back is a warning.
  let unrecorded: string | undefined;
  const verified = await verifyBackup(store, {
    signal,
    ...(req.scratchDir !== undefined ? { scratchDir: req.scratchDir } : {}),
    onRecordFailed: (err) => {
      unrecorded = describe(err).split("\n")[0];
    },
  });
  logger.info({ ref: verified.ref, ok: verified.verification.ok }, "backup verified");
  const manifest = verified.manifest;
  if (!verified.verification.ok) {
    checks.push(block("backup-verified", `the backup failed verification: ${verified.problems[0]}`));
    return {
      ref: store.url,
      checks,
      blocked: true,
      changes: [],
      objects: [],
      ...(unpresignable ? { unpresignable } : {}),
    };
  }
  checks.push(pass("backup-verified", `${verified.verification.checks.join(", ")} match the manifest`));
  if (unrecorded)
    checks.push(warn("verification-recorded", `the result was not added to the manifest (${unrecorded})`));
  checks.push(
    manifest.source.kind === "hosted-cluster"
      ? pass(
          "source",
          `hosted cluster ${manifest.source.namespace}/${manifest.source.name}, revision ${manifest.snapshot.revision}, taken ${manifest.createdAt}`,
        )
      : pass(
          "source",
          `plain etcd backup "${manifest.label}", revision ${manifest.snapshot.revision}, taken ${manifest.createdAt}`,
        ),
  );
  checks.push(shapeCheck(hc));
  checks.push(encryptionTypeCheck(manifest, hc));
  const saved = await loadSavedKey(store, manifest, rendered, req.key, signal);
  checks.push(...saved.checks);
  // A member's file can be larger than its snapshot (free pages it had not given back): the restored
  // members grow back towards it, so the largest of them sizes the PV.
  const dbBytes = Math.max(manifest.snapshot.dbSize, ...manifest.members.map((m) => m.dbSize));
  const pv = planPvSize(hc.pvSize, dbBytes);
  checks.push(pvSizeCheck(pv, dbBytes));
  checks.push(availabilityCheck(manifest, hc));
  checks.push(...operatorTrapChecks(hc));

  const signedAt = new Date();
  const url = link ? await link.presign(req.expiresInSeconds, signedAt) : undefined;
  if (!link || url === undefined) checks.push(block("url", "a local store cannot be presigned"));
  else if (link.standIn) checks.push(notRun("url", link.standIn));
  else
    checks.push(
      ...urlChecks({
        length: url.length,
        scheme: new URL(url).protocol,
        expiresInSeconds: req.expiresInSeconds,
        expiresAt: new Date(signedAt.getTime() + req.expiresInSeconds * 1000),
        credentials: await link.credentials(),
      }),
    );
  if (url !== undefined) logger.info({ length: url.length }, "snapshot presigned");

  if (req.target) checks.push(...(await req.target.checks(hc, saved.key, saved.backupKey)));
  else checks.push(clusterChecksNotRun());

  if (url === undefined || blocked(checks).length > 0)
    return {
      ref: store.url,
      checks,
      blocked: true,
      changes: [],
      objects: [],
      ...(unpresignable ? { unpresignable } : {}),
    };

  const patched = patchRendered(rendered, {
    restoreSnapshotURL: url,
    ...(pv.raised ? { pvSize: pv.size } : {}),
    ...(saved.key ? { key: saved.key } : {}),
    ...(saved.backupKey ? { backupKey: saved.backupKey } : {}),
  });
  const objects = rendered.docs.filter((d) => !isEmptyDocument(d)).map((d) => d.toJS() as KubernetesObject);
  return {
    ref: store.url,
    checks,
    blocked: false,
    yaml: patched.text,
    url,
    changes: patched.changes,
    objects,
  };
}

function s3Link(store: S3Store): SnapshotLink {
  return {
    presign: (expiresInSeconds, signingDate) => store.presignGet(SNAPSHOT_FILE, expiresInSeconds, { signingDate }),
    credentials: () => store.signingCredentials(),
  };
}
