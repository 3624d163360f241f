import { createHash, randomBytes } from "node:crypto";

/**
 * A body of `size` random bytes generated on the fly in `chunk`-sized pieces (never held whole), and
 * the SHA-256 of what it yielded, known once it has been consumed to the end.
 */
export function generatedBody(
  size: number,
  chunk = 1024 * 1024,
): { body: AsyncIterable<Buffer>; sha256: () => string } {
  const hash = createHash("sha256");
  let digest: string | undefined;
  async function* body() {
    for (let sent = 0; sent < size; ) {
      const piece = randomBytes(Math.min(chunk, size - sent));
      hash.update(piece);
      sent += piece.length;
      yield piece;
    }
    digest = hash.digest("hex");
  }
  return {
    body: body(),
    sha256: () => {
      if (digest === undefined) throw new Error("the body was not consumed to its end");
      return digest;
    },
  };
}

/** Yields `size` bytes, then waits forever: a source that stalls (an etcd member that stops sending). */
export async function* stallingBody(size: number, onStall?: () => void): AsyncGenerator<Buffer> {
  for (let sent = 0; sent < size; sent += 1024 * 1024) yield randomBytes(Math.min(1024 * 1024, size - sent));
  onStall?.();
  await new Promise(() => {});
}

export async function sha256Of(chunks: AsyncIterable<Buffer>): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const c of chunks) {
    hash.update(c);
    size += c.length;
  }
  return { sha256: hash.digest("hex"), size };
}
