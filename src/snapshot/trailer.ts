import { createHash } from "node:crypto";
import { open } from "node:fs/promises";
import { isMainThread, parentPort, type Worker, workerData } from "node:worker_threads";
import { sibling, startWorker } from "../worker.js";
import { hasTrailer, TRAILER_SIZE } from "./bolt-file.js";

export interface TrailerCheck {
  readonly present: boolean;
  /** SHA-256 (hex) of the bbolt image: every byte before the trailer. */
  readonly actual: string;
  /** The trailer's value (hex), when present. */
  readonly expected?: string;
  readonly ok: boolean;
  readonly fileSize: number;
}

/**
 * Reads the file once, in 1 MiB pieces, and checks etcd's SHA-256 trailer: the 32 bytes that
 * `Maintenance.Snapshot` appends and `snapshot restore` insists on. bbolt has no page checksums,
 * so this is the only proof that no data byte changed.
 */
export async function checkTrailer(path: string): Promise<TrailerCheck> {
  const fh = await open(path, "r");
  try {
    const { size } = await fh.stat();
    const present = hasTrailer(size);
    const dataSize = present ? size - TRAILER_SIZE : size;
    const hash = createHash("sha256");
    const buf = Buffer.allocUnsafe(1 << 20);
    let pos = 0;
    while (pos < dataSize) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, dataSize - pos), pos);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
    const actual = hash.digest("hex");
    if (!present) return { present, actual, ok: false, fileSize: size };
    const trailer = Buffer.alloc(TRAILER_SIZE);
    await fh.read(trailer, 0, TRAILER_SIZE, dataSize);
    const expected = trailer.toString("hex");
    return { present, actual, expected, ok: expected === actual, fileSize: size };
  } finally {
    await fh.close();
  }
}

/**
 * `checkTrailer` on another thread: hashing every byte is the single largest cost of `verify`,
 * and the structure walk (synchronous, on this thread) can run meanwhile on the second core.
 */
/** Below this size a worker's start-up costs more than hashing the file here. */
const PARALLEL_MIN_BYTES = 32 * 1024 * 1024;
/** Set once a worker could not load this module (e.g. a loader that workers do not inherit). */
let workersUnavailable = false;

export function checkTrailerInParallel(path: string, fileSize: number): Promise<TrailerCheck> {
  if (workersUnavailable || fileSize < PARALLEL_MIN_BYTES) return checkTrailer(path);
  return new Promise((resolve, reject) => {
    const inline = () => {
      workersUnavailable = true;
      checkTrailer(path).then(resolve, reject);
    };
    let worker: Worker;
    try {
      worker = startWorker(sibling(import.meta.url, "trailer"), { trailerOf: path });
    } catch {
      inline();
      return;
    }
    worker.once("message", (m: { ok: true; value: TrailerCheck } | { ok: false; code?: string; message: string }) => {
      if (m.ok) resolve(m.value);
      else reject(Object.assign(new Error(m.message), { code: m.code }));
    });
    worker.once("error", inline);
  });
}

if (!isMainThread && parentPort && (workerData as { trailerOf?: string } | null)?.trailerOf) {
  const port = parentPort;
  checkTrailer((workerData as { trailerOf: string }).trailerOf).then(
    (value) => port.postMessage({ ok: true, value }),
    (err: NodeJS.ErrnoException) => port.postMessage({ ok: false, code: err.code, message: err.message }),
  );
}
