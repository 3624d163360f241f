import { UsageError } from "../errors.js";
import { withoutCredentials } from "../redact.js";
import { LocalStore } from "./local-store.js";
import { type ObjectLockRequest, retentionFrom } from "./object-lock.js";
import { checkS3Settings, type S3Settings } from "./s3-settings.js";
import { S3Store } from "./s3-store.js";
import type { Store } from "./store.js";

export interface StoreSettings extends S3Settings {
  readonly sse?: { readonly type: "AES256" | "aws:kms"; readonly kmsKeyId?: string };
  /** S3 Object Lock for every object written; its date is fixed now, for the whole run. */
  readonly objectLock?: ObjectLockRequest;
}

/**
 * A store from its URL: `s3://bucket/prefix` (AWS, or any S3-compatible endpoint given in
 * settings), `file:///path`, or a plain path. A backup ref is the same kind of URL, pointing
 * at the backup's folder, so opening a ref gives a store rooted at that backup.
 */
export function openStore(url: string, settings: StoreSettings = {}): Store {
  if (url.trim() === "")
    throw new UsageError("no store or backup given: an s3://bucket/prefix URL or a local directory");
  if (url.startsWith("s3://")) {
    const rest = url.slice(5);
    const slash = rest.indexOf("/");
    const bucket = slash === -1 ? rest : rest.slice(0, slash);
    const prefix = slash === -1 ? "" : rest.slice(slash + 1);
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
      throw new UsageError(
        `invalid S3 bucket name "${bucket}" in ${url}: 3-63 characters, lower-case letters, digits, dots and hyphens`,
      );
    }
    checkS3Settings(settings);
    return new S3Store({
      bucket,
      prefix,
      // The SDK (and the client) load on the store's first request: opening a store costs nothing.
      client: () => import("./s3-client.js").then((m) => m.createS3Client(settings)),
      endpoint: settings.endpoint ? withoutCredentials(settings.endpoint) : "AWS S3",
      sse: settings.sse,
      ...(settings.objectLock ? { objectLock: retentionFrom(settings.objectLock) } : {}),
    });
  }
  if (settings.objectLock) {
    throw new UsageError(
      `--object-lock needs an S3 store whose bucket has Object Lock enabled; ${withoutCredentials(url)} is a local directory, which nothing can lock`,
    );
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url) && !url.startsWith("file://")) {
    throw new UsageError(
      `unsupported store URL "${withoutCredentials(url).replace(/\?.*$/, "?...")}": use s3://bucket/prefix, file:///path or a directory path`,
    );
  }
  if (url.startsWith("file://")) {
    let path: string;
    try {
      path = decodeURIComponent(new URL(url).pathname);
    } catch {
      throw new UsageError(`invalid file URL "${url}"`);
    }
    return new LocalStore(path);
  }
  return new LocalStore(url);
}
