import { readFileSync } from "node:fs";
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import type { BuildMiddleware, HttpRequest, MetadataBearer } from "@smithy/types";
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
 * The S3 client every part of the tool uses. Checksums are `WHEN_REQUIRED` by default because the
 * SDK's default aws-chunked streaming bodies are refused by Ceph RGW (411) and mangled by others;
 * integrity is ours to prove anyway (SHA-256 of the snapshot, checked before completing an upload).
 */
export function createS3Client(settings: S3Settings = {}): S3Client {
  const config: S3ClientConfig = {
    region: settings.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "us-east-1",
    forcePathStyle: settings.forcePathStyle ?? settings.endpoint !== undefined,
    requestChecksumCalculation: settings.checksums ? "WHEN_SUPPORTED" : "WHEN_REQUIRED",
    responseChecksumValidation: settings.checksums ? "WHEN_SUPPORTED" : "WHEN_REQUIRED",
    maxAttempts: settings.maxAttempts ?? 5,
  };
  if (settings.endpoint !== undefined) {
    try {
      new URL(settings.endpoint);
    } catch {
      throw new UsageError(`invalid S3 endpoint "${settings.endpoint}": expected a URL like https://s3.example.com`);
    }
    config.endpoint = settings.endpoint;
  }
  if (settings.credentials) config.credentials = settings.credentials;
  let ca: Buffer | undefined;
  if (settings.caBundle) {
    try {
      ca = readFileSync(settings.caBundle);
    } catch {
      throw new UsageError(`cannot read S3 CA bundle ${settings.caBundle}`);
    }
  }
  // Without an idle timeout a store that stops reading (a full Ceph cluster blocks writes) hangs
  // the upload forever; with one, the request fails, is retried, and the upload is aborted.
  config.requestHandler = new NodeHttpHandler({
    connectionTimeout: 10_000,
    socketTimeout: settings.idleTimeoutMs ?? 60_000,
    httpAgent: new HttpAgent({ keepAlive: true, maxSockets: 50 }),
    httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets: 50, ...(ca ? { ca } : {}) }),
  });
  const client = new S3Client(config);
  client.middlewareStack.add(unsignedPayloadOverTls, {
    step: "build",
    name: "hcpebUnsignedPayloadOverTls",
  });
  return client;
}

const PAYLOAD_COMMANDS = new Set(["UploadPartCommand", "PutObjectCommand"]);

/**
 * Over HTTPS, object bodies are sent as UNSIGNED-PAYLOAD, as the AWS CLI does: TLS already protects
 * every byte in transit, and hashing each part for SigV4 cost a full SHA-256 pass on our side and
 * another on the server's (about 0.8 s per GiB each here). Over plain HTTP the payload stays signed,
 * because then the signature is the only thing that proves the server stored what we sent.
 */
const unsignedPayloadOverTls: BuildMiddleware<object, MetadataBearer> = (next, context) => async (args) => {
  const request = args.request as Partial<HttpRequest>;
  if (PAYLOAD_COMMANDS.has(context.commandName ?? "") && request.protocol === "https:" && request.headers) {
    request.headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD";
  }
  return next(args);
};
