import { withoutUrlSecrets } from "../redact.js";

/**
 * What an `etcd-init` log says, as one phrase (the caller names the pod). HyperShift's script
 * (control-plane-operator .../etcd/etcd-init.sh) prints "/var/lib/data not empty, not restoring
 * snapshot" and exits 0 when the volume holds data; otherwise it curls `RESTORE_URL_ETCD` without
 * --fail, so S3's XML error body lands in the file, which the script prints (`cat`) before exit 1;
 * then `etcdctl` (or `etcdutl`) `snapshot status` and `snapshot restore`, whose errors end the
 * script under `sh -e`.
 */
export interface InitLogDiagnosis {
  readonly kind: "skipped" | "s3-error" | "download-failed" | "not-a-snapshot" | "no-restore-tool" | "other";
  /** One line, secrets redacted: what happened and what to do. */
  readonly summary: string;
  /**
   * Retrying cannot help: the URL is immutable on the HostedCluster, so every attempt of the
   * container fails the same way. A network error may pass by itself.
   */
  readonly fatal: boolean;
}

export const SKIP_LINE = "not empty, not restoring snapshot";

const PRESIGN_AGAIN = "run restore prepare again for a fresh URL";

/** Advice per S3 error code, after "S3 refused the snapshot URL: <Code>: <Message>". */
const S3_ADVICE: Record<string, string> = {
  AccessDenied:
    "the credentials that presigned the URL cannot read the object (s3:GetObject, bucket or KMS key policy): presign with ones that can",
  SignatureDoesNotMatch: `the URL was changed after signing, or signed for another endpoint or region: ${PRESIGN_AGAIN} and use it unchanged`,
  NoSuchKey:
    "the snapshot object is not there (deleted, pruned, or another key): check the backup with list and verify",
  NoSuchBucket: "the bucket does not exist at this endpoint: check the backup's store URL and region",
  InvalidAccessKeyId: `the access key that presigned the URL is unknown to this endpoint: ${PRESIGN_AGAIN} with valid credentials`,
  ExpiredToken: `the temporary credentials that presigned the URL expired, and the URL with them: ${PRESIGN_AGAIN} with long-lived credentials`,
  TokenRefreshRequired: `the temporary credentials that presigned the URL expired: ${PRESIGN_AGAIN} with long-lived credentials`,
  AuthorizationQueryParametersError: `the URL's signing parameters are invalid (an expiry over 7 days?): ${PRESIGN_AGAIN}`,
  PermanentRedirect: "the URL names the bucket in the wrong region: presign against the bucket's region",
};

export function diagnoseInitLog(log: string, exitCode: number | undefined): InitLogDiagnosis {
  const text = withoutUrlSecrets(log);
  if (text.includes(SKIP_LINE)) {
    return {
      kind: "skipped",
      fatal: true,
      summary:
        "skipped the restore: /var/lib/data was not empty, so this member runs on the data its volume already held, not the backup's — delete the HostedCluster and its data-etcd-* PVCs, then restore again",
    };
  }
  const s3 = s3Error(text);
  if (s3) {
    const expired = s3.code === "AccessDenied" && /request has expired/i.test(s3.message);
    const advice = expired ? PRESIGN_AGAIN : (S3_ADVICE[s3.code] ?? "see the S3 error code's documentation");
    const what = expired ? s3.message : `${s3.code}${s3.message ? `: ${s3.message}` : ""}`;
    return { kind: "s3-error", fatal: true, summary: `S3 refused the snapshot URL: ${what} — ${advice}` };
  }
  const curl = /curl: \((\d+)\)[^\n]*/.exec(text);
  if (curl) {
    return {
      kind: "download-failed",
      fatal: false,
      summary: `could not download the snapshot: ${curl[0].trim()} — the etcd pod must reach the S3 endpoint (egress NetworkPolicy, proxy, DNS, CA)`,
    };
  }
  if (/snapshot missing hash|--skip-hash-check/.test(text)) {
    return {
      kind: "not-a-snapshot",
      fatal: true,
      summary:
        "the downloaded object has no snapshot integrity hash (a copied member/snap/db, not `snapshot save` output) — restore from a backup made by this tool",
    };
  }
  if (/expected sha256|invalid database|file is not a bolt|unexpected EOF|checksum mismatch/i.test(text)) {
    return {
      kind: "not-a-snapshot",
      fatal: true,
      summary: `the downloaded snapshot is corrupt or truncated (${lastMeaningfulLine(text)}) — verify the backup, then ${PRESIGN_AGAIN}`,
    };
  }
  if (/etcdctl: (not found|No such file)|unknown command "restore"|etcdutl: not found/.test(text)) {
    return {
      kind: "no-restore-tool",
      fatal: true,
      summary:
        "the etcd image cannot restore: its etcdctl has no `snapshot restore` (etcd 3.6 moved it to etcdutl; OCPBUGS-82166) — use a HyperShift release whose etcd-init uses etcdutl",
    };
  }
  const last = lastMeaningfulLine(text);
  return {
    kind: "other",
    fatal: false,
    summary: `exited ${exitCode ?? "?"}${last ? `: ${last}` : " without output"}`,
  };
}

/** Code and Message of an S3 `<Error>` body, entities decoded. */
function s3Error(text: string): { code: string; message: string } | undefined {
  const body = /<Error>([\s\S]*?)<\/Error>/.exec(text)?.[1];
  if (body === undefined) return undefined;
  const field = (name: string) => decode(new RegExp(`<${name}>([^<]*)</${name}>`).exec(body)?.[1] ?? "");
  const code = field("Code");
  return code === "" ? undefined : { code, message: field("Message") };
}

function decode(s: string): string {
  return s
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&");
}

/** The last line that is not curl's progress meter or a table border. */
function lastMeaningfulLine(text: string): string {
  const lines = text
    .split("\n")
    .map((l) => l.replace(/\r.*$/, "").trim())
    .filter((l) => l !== "" && !/^[\d\s%.:kMG-]+$/.test(l) && !/^% Total|Dload/.test(l) && !/^[+|-]/.test(l));
  return (lines.at(-1) ?? "").slice(0, 300);
}
