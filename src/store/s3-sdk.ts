import type { S3Client } from "@aws-sdk/client-s3";

export type S3Sdk = typeof import("@aws-sdk/client-s3");

let sdk: Promise<S3Sdk> | undefined;

/**
 * The AWS SDK's S3 module, loaded on first use: about 34 MiB of heap and a quarter of a second that a
 * run on a local store (the restore drill, `list` of a directory) never needs to pay.
 */
export function loadS3Sdk(): Promise<S3Sdk> {
  sdk ??= import("@aws-sdk/client-s3");
  return sdk;
}

/** A client now, or one made on first use (openStore's: the SDK is loaded only when the store is used). */
export type S3ClientSource = S3Client | (() => Promise<S3Client>);
