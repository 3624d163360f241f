import { readFileSync } from "node:fs";
import { UsageError } from "../errors.js";

export interface S3Settings {
  /** Custom endpoint for S3-compatible stores (Ceph RGW / ODF, MinIO); AWS when absent. */
  readonly endpoint?: string;
  readonly region?: string;
  /** Path-style addressing (bucket in the path), needed by most S3-compatible stores. */
  readonly forcePathStyle?: boolean;
  /** PEM bundle of extra CAs for an endpoint with a private CA. */
  readonly caBundle?: string;
  /** Static credentials; absent means the AWS CLI's chain (env, profile, web identity, IMDS). */
  readonly credentials?: {
    readonly accessKeyId: string;
    readonly secretAccessKey: string;
    readonly sessionToken?: string;
  };
  /** Send the SDK's flexible checksums on every request (off by default: many S3-compatible stores reject them). */
  readonly checksums?: boolean;
  readonly maxAttempts?: number;
  /** A request that sends or receives nothing for this long fails (and is retried). Default 60 s. */
  readonly idleTimeoutMs?: number;
}

/**
 * The settings' own mistakes (an endpoint that is not a URL, a CA bundle that cannot be read), found
 * without loading the AWS SDK: openStore refuses them at once, before the client is made on first use.
 */
export function checkS3Settings(settings: S3Settings): { readonly ca?: Buffer } {
  if (settings.endpoint !== undefined) {
    try {
      new URL(settings.endpoint);
    } catch {
      throw new UsageError(`invalid S3 endpoint "${settings.endpoint}": expected a URL like https://s3.example.com`);
    }
  }
  if (!settings.caBundle) return {};
  try {
    return { ca: readFileSync(settings.caBundle) };
  } catch {
    throw new UsageError(`cannot read S3 CA bundle ${settings.caBundle}`);
  }
}
