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

/** Node's system errors for a connection that could not be made or was lost, in words. */
const NETWORK: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ENOTFOUND: "host name not found",
  EAI_AGAIN: "host name lookup failed (DNS)",
  ECONNRESET: "connection reset",
  ETIMEDOUT: "connection timed out",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  EPIPE: "connection closed while sending",
};

/** The system error code of a failed connection, from the error or (the SDK wraps some) its message. */
function networkCode(e: SdkError): string | undefined {
  if (e.code && e.code in NETWORK) return e.code;
  const m = /\b(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|EPIPE)\b/.exec(
    e.message ?? "",
  );
  return m?.[1];
}

/**
 * One line naming the bucket, the S3 error and what to check; never credentials or signatures.
 * `profile` is the AWS profile in use (--profile sets AWS_PROFILE), named when it gave no credentials.
 */
export function mapS3Error(
  err: unknown,
  what: string,
  bucket: string,
  endpoint: string,
  profile: string | undefined = process.env.AWS_PROFILE,
): StoreError {
  const e = (err ?? {}) as SdkError;
  const status = e.$metadata?.httpStatusCode;
  // The SDK's credential chain found nothing: no request was sent, so S3 refused nothing.
  if (e.name === "CredentialsProviderError") {
    const tried = profile
      ? `profile "${profile}" (--profile / AWS_PROFILE) gave none`
      : "none in the environment, ~/.aws, web identity or instance metadata";
    return new StoreError(
      `no S3 credentials to ${what} in bucket "${bucket}" at ${endpoint}: ${tried}; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, pass --profile NAME (~/.aws/credentials or ~/.aws/config), or use web identity (AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE)`,
      { cause: err },
    );
  }
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
  const network = networkCode(e);
  if (network) {
    // Which host, when Node says (AWS's is the bucket's virtual host, e.g. b.s3.us-east-1.amazonaws.com).
    const host = /(?:getaddrinfo \w+|connect \w+) (\S+)/.exec(e.message ?? "")?.[1];
    const fix =
      network === "ENOTFOUND" || network === "EAI_AGAIN"
        ? "check --s3-endpoint (or the bucket's region, --s3-region) and DNS"
        : "check --s3-endpoint and that the store is up";
    return new StoreError(
      `cannot reach ${endpoint === "AWS S3" ? endpoint : `S3 endpoint ${endpoint}`} to ${what}: ${NETWORK[network]}${host ? ` (${host})` : ""}, ${network}: ${fix}`,
      { cause: err },
    );
  }
  const connectionLost = code === "TimeoutError" || /socket hang up/.test(e.message ?? "");
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
    default:
      hint = (e.message ?? "").split("\n")[0] || "unexpected answer";
  }
  const statusText = status ? `${status} ${code}` : code;
  return new StoreError(`S3 refused to ${what} in ${where} (${statusText}): ${hint}`, { cause: err });
}
