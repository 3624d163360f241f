import type { PutObjectCommandInput, S3Client } from "@aws-sdk/client-s3";
import { CancelledError, StoreError } from "../errors.js";
import { abortable, cancelled } from "./cancel.js";
import { loadS3Sdk, type S3Sdk } from "./s3-sdk.js";

export interface MultipartRequest {
  readonly client: S3Client;
  readonly params: Pick<
    PutObjectCommandInput,
    "Bucket" | "Key" | "ContentType" | "ServerSideEncryption" | "SSEKMSKeyId"
  >;
  readonly body: AsyncIterable<Buffer>;
  readonly partSize: number;
  /** Parts in flight at once. */
  readonly queue: number;
  readonly signal?: AbortSignal;
}

/** Thrown when the body itself failed: the caller sees the body's error, not an S3 one. */
export class BodyError extends Error {
  constructor(readonly original: unknown) {
    super("upload body failed");
  }
}

/**
 * The error of an upload whose AbortMultipartUpload failed too carries that failure here. It is not
 * the error's `cause`: the cause stays what made the upload fail, which is what the user must fix.
 */
export interface WithAbortError {
  abortError?: unknown;
}

/** The abort failure attached to `err` by uploadStream, if any. */
export function abortErrorOf(err: unknown): unknown {
  return typeof err === "object" && err !== null ? (err as WithAbortError).abortError : undefined;
}

/** How long a cancelled run still waits for CreateMultipartUpload's answer, to abort what it created. */
const CREATE_GRACE_MS = 5_000;

/**
 * CreateMultipartUpload, not cut at once by the caller's signal: a request cut in flight may still
 * have created the upload on the server, and without its id nobody aborts it (1 run in 8 left one
 * behind). After the signal it gets a short grace to answer; the caller checks the signal then and
 * its cleanup aborts the upload. A server that does not answer within the grace is cut (`prune` finds it).
 */
async function createUpload(
  client: S3Client,
  sdk: S3Sdk,
  params: MultipartRequest["params"],
  signal: AbortSignal | undefined,
) {
  if (!signal) return client.send(new sdk.CreateMultipartUploadCommand({ ...params }));
  const grace = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const onAbort = () => {
    timer = setTimeout(() => grace.abort(signal.reason), CREATE_GRACE_MS);
  };
  if (signal.aborted) onAbort();
  else signal.addEventListener("abort", onAbort, { once: true });
  try {
    return await client.send(new sdk.CreateMultipartUploadCommand({ ...params }), { abortSignal: grace.signal });
  } finally {
    signal.removeEventListener("abort", onAbort);
    clearTimeout(timer);
  }
}

/**
 * Streams a body of unknown length into one S3 object: a single PutObject when it fits in one
 * part, else a multipart upload with at most `queue` parts in flight. Part buffers come from a
 * fixed pool of `queue + 1`, so memory stays at (queue + 1) x partSize whatever the object size
 * (lib-storage's Upload, which this replaces, concatenates every part anew and held 230-270 MiB
 * for 1-4 GiB snapshots). Each part is a Buffer, so the SDK can retry it. On any failure (or
 * cancellation) the in-flight parts are awaited, then the upload is aborted, then the first error
 * is thrown: no object appears and no parts are stranded unless S3 itself is gone, in which case
 * the abort's own failure rides along as `abortError`.
 */
export async function uploadStream(req: MultipartRequest): Promise<{ versionId?: string }> {
  const { client, params, partSize, queue, signal } = req;
  // The store loaded it already; a direct caller may not have.
  const sdk = await loadS3Sdk();
  const key = params.Key ?? "";
  const pool: Buffer[] = [];
  const take = () => pool.pop() ?? Buffer.allocUnsafe(partSize);
  let current = take();
  let filled = 0;
  let uploadId: string | undefined;
  let nextPart = 1;
  const etags = new Map<number, string>();
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;

  // Never rejects: a part's failure is recorded in `failure` and acted on by the loop, so several
  // parts failing at once cannot turn into unhandled rejections.
  const send = (buf: Buffer, length: number): void => {
    const PartNumber = nextPart++;
    const p = client
      .send(
        new sdk.UploadPartCommand({
          Bucket: params.Bucket,
          Key: params.Key,
          UploadId: uploadId,
          PartNumber,
          Body: buf.subarray(0, length),
        }),
        { abortSignal: signal },
      )
      .then(
        (res) => {
          if (res.ETag) etags.set(PartNumber, res.ETag);
          else
            failure ??= new StoreError(
              `S3 answered part ${PartNumber} of ${key} without an ETag, so the upload cannot be completed; it was aborted (a proxy in front of S3 may strip the ETag header)`,
            );
        },
        (err: unknown) => {
          failure ??= err;
        },
      )
      .finally(() => {
        pool.push(buf);
        inFlight.delete(p);
      });
    inFlight.add(p);
  };

  const flush = async (): Promise<void> => {
    if (uploadId === undefined) {
      const created = await createUpload(client, sdk, params, signal);
      uploadId = created.UploadId;
      if (!uploadId) throw new StoreError(`S3 answered the multipart upload of ${key} without an UploadId`);
      if (signal?.aborted) throw cancelled(`the upload of ${key}`, signal);
    }
    while (inFlight.size >= queue) await Promise.race(inFlight);
    if (failure) throw failure;
    send(current, filled);
    current = take();
    filled = 0;
  };

  try {
    for await (const chunk of abortable(req.body, signal, `the upload of ${key}`, (err) => new BodyError(err))) {
      let off = 0;
      while (off < chunk.length) {
        const n = Math.min(chunk.length - off, partSize - filled);
        chunk.copy(current, filled, off, off + n);
        filled += n;
        off += n;
        if (filled === partSize) await flush();
      }
    }
    if (uploadId === undefined) {
      const put = await client.send(new sdk.PutObjectCommand({ ...params, Body: current.subarray(0, filled) }), {
        abortSignal: signal,
      });
      return { versionId: put.VersionId };
    }
    if (filled > 0) await flush();
    await Promise.all(inFlight);
    if (failure) throw failure;
    const parts = [...etags]
      .map(([PartNumber, ETag]) => ({ PartNumber, ETag }))
      .sort((a, b) => a.PartNumber - b.PartNumber);
    // Completing with a part missing would store a silently shorter object (lib-storage's old bug, #2311).
    const sent = nextPart - 1;
    if (parts.length !== sent || parts.some((p, i) => p.PartNumber !== i + 1)) {
      throw new StoreError(
        `the upload of ${key} recorded ${parts.length} of the ${sent} parts sent; it was aborted rather than completed with parts missing`,
      );
    }
    const completed = await client.send(
      new sdk.CompleteMultipartUploadCommand({
        Bucket: params.Bucket,
        Key: params.Key,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts },
      }),
      { abortSignal: signal },
    );
    return { versionId: completed.VersionId };
  } catch (err) {
    // Parts still in flight would otherwise land after the abort and be stranded.
    await Promise.allSettled([...inFlight]);
    const primary =
      signal?.aborted && !(err instanceof CancelledError) ? cancelled(`the upload of ${key}`, signal, err) : err;
    if (uploadId !== undefined) {
      try {
        // Deliberately without the caller's signal: after a cancellation it has fired, and the abort must still go out.
        await client.send(
          new sdk.AbortMultipartUploadCommand({ Bucket: params.Bucket, Key: params.Key, UploadId: uploadId }),
        );
      } catch (abortErr) {
        // S3 unreachable: the upload stays incomplete until `prune` aborts it; the first error stays the one thrown.
        if (typeof primary === "object" && primary !== null) (primary as WithAbortError).abortError = abortErr;
      }
    }
    throw primary;
  }
}
