import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import type { BuildMiddleware, HttpRequest, MetadataBearer } from "@smithy/types";
import { checkS3Settings, type S3Settings } from "./s3-settings.js";

export type { S3Settings };

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
  const { ca } = checkS3Settings(settings);
  if (settings.endpoint !== undefined) config.endpoint = settings.endpoint;
  if (settings.credentials) config.credentials = settings.credentials;
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
