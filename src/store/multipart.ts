import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type PutObjectCommandInput,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";

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
 * Streams a body of unknown length into one S3 object: a single PutObject when it fits in one
 * part, else a multipart upload with at most `queue` parts in flight. Part buffers come from a
 * fixed pool of `queue + 1`, so memory stays at (queue + 1) x partSize whatever the object size
 * (lib-storage's Upload, which this replaces, concatenates every part anew and held 230-270 MiB
 * for 1-4 GiB snapshots). Each part is a Buffer, so the SDK can retry it. On any failure the
 * in-flight parts are awaited, then the upload is aborted, then the first error is thrown: no
 * object appears and no parts are stranded unless S3 itself is gone.
 */
export async function uploadStream(req: MultipartRequest): Promise<void> {
  const { client, params, partSize, queue } = req;
  const pool: Buffer[] = [];
  const take = () => pool.pop() ?? Buffer.allocUnsafe(partSize);
  let current = take();
  let filled = 0;
  let uploadId: string | undefined;
  let nextPart = 1;
  const done: Array<{ PartNumber: number; ETag: string }> = [];
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;

  const send = (buf: Buffer, length: number): Promise<void> => {
    const PartNumber = nextPart++;
    const p = client
      .send(
        new UploadPartCommand({
          Bucket: params.Bucket,
          Key: params.Key,
          UploadId: uploadId,
          PartNumber,
          Body: buf.subarray(0, length),
        }),
        { abortSignal: req.signal },
      )
      .then(
        (res) => {
          if (!res.ETag) throw new Error(`S3 returned no ETag for part ${PartNumber}`);
          done.push({ PartNumber, ETag: res.ETag });
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
    return p;
  };

  const flush = async (): Promise<void> => {
    if (uploadId === undefined) {
      const created = await client.send(new CreateMultipartUploadCommand({ ...params }));
      uploadId = created.UploadId;
      if (!uploadId) throw new Error("S3 returned no UploadId");
    }
    while (inFlight.size >= queue) await Promise.race(inFlight);
    if (failure) throw failure;
    void send(current, filled);
    current = take();
    filled = 0;
  };

  try {
    try {
      for await (const chunk of req.body) {
        let off = 0;
        while (off < chunk.length) {
          const n = Math.min(chunk.length - off, partSize - filled);
          chunk.copy(current, filled, off, off + n);
          filled += n;
          off += n;
          if (filled === partSize) await flush();
        }
      }
    } catch (err) {
      if (failure === undefined) throw new BodyError(err);
      throw err;
    }
    if (uploadId === undefined) {
      await client.send(new PutObjectCommand({ ...params, Body: current.subarray(0, filled) }), {
        abortSignal: req.signal,
      });
      return;
    }
    if (filled > 0) await flush();
    await Promise.all(inFlight);
    if (failure) throw failure;
    done.sort((a, b) => a.PartNumber - b.PartNumber);
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: params.Bucket,
        Key: params.Key,
        UploadId: uploadId,
        MultipartUpload: { Parts: done },
      }),
    );
  } catch (err) {
    await Promise.allSettled(inFlight);
    if (uploadId !== undefined) {
      await client
        .send(new AbortMultipartUploadCommand({ Bucket: params.Bucket, Key: params.Key, UploadId: uploadId }))
        .catch(() => {
          // S3 unreachable: the upload stays incomplete until `prune` aborts it.
        });
    }
    throw err;
  }
}
