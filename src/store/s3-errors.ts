import { StoreError } from "../errors.js";

interface SdkError {
  name?: string;
  Code?: string;
  message?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
}

const TLS_CODES = new Set([
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/** One line naming the bucket, the S3 error and what to check; never credentials or signatures. */
export function mapS3Error(err: unknown, what: string, bucket: string, endpoint: string): StoreError {
  const e = (err ?? {}) as SdkError;
  const status = e.$metadata?.httpStatusCode;
  let code = e.Code ?? e.name ?? e.code ?? "error";
  // Errors without a body (HEAD) come back as "Unknown"/"403": name them by their status.
  if ((code === "Unknown" || code === "UnknownError" || /^\d+$/.test(code)) && status === 403) code = "AccessDenied";
  if ((code === "Unknown" || code === "NotFound") && status === 404) code = "NoSuchBucket";
  if (code === "TimeoutError" && /inactivity/.test(e.message ?? "")) {
    return new StoreError(
      `S3 endpoint ${endpoint} stopped answering while trying to ${what} (no progress within --s3-timeout, after retries): the store may be full or overloaded`,
      { cause: err },
    );
  }
  const connectionLost =
    code === "TimeoutError" || /socket hang up|ECONNRESET|ECONNREFUSED|EPIPE/.test(e.message ?? "");
  if (TLS_CODES.has(e.code ?? "") || /certificate/i.test(e.message ?? "")) {
    return new StoreError(
      `cannot verify the TLS certificate of S3 endpoint ${endpoint} (${e.code ?? (e.message ?? "").split("\n")[0]}) while trying to ${what}: pass --s3-ca-bundle with the CA that signed it`,
      { cause: err },
    );
  }
  const where = `bucket "${bucket}" at ${endpoint}`;
  let hint: string;
  if (connectionLost) {
    return new StoreError(
      `cannot reach S3 endpoint ${endpoint} (${(e.message ?? code).split("\n")[0]}) while trying to ${what}`,
      { cause: err },
    );
  }
  switch (code) {
    case "NoSuchBucket":
      hint = `the bucket does not exist: create it or fix --to`;
      break;
    case "InvalidAccessKeyId":
      hint = "the access key is unknown to this endpoint: check AWS_ACCESS_KEY_ID / --profile";
      break;
    case "SignatureDoesNotMatch":
      hint = "the signature was refused: the secret key is wrong (or the request was altered)";
      break;
    case "AccessDenied":
    case "Forbidden":
      hint = "access denied: check the credentials and the bucket policy";
      break;
    case "RequestTimeTooSkewed":
      hint = "the local clock is off by more than 15 minutes";
      break;
    case "ECONNREFUSED":
    case "ENOTFOUND":
    case "ECONNRESET":
    case "ETIMEDOUT":
    case "EHOSTUNREACH":
      return new StoreError(`cannot reach S3 endpoint ${endpoint} (${code}) while trying to ${what}`, {
        cause: err,
      });
    default:
      hint = (e.message ?? "").split("\n")[0] || "unexpected answer";
  }
  const statusText = status ? `${status} ${code}` : code;
  return new StoreError(`S3 refused to ${what} in ${where} (${statusText}): ${hint}`, { cause: err });
}
