// The thread that runs verifySnapshot for verifySnapshotOffThread: its structural walk is synchronous.
import { parentPort, workerData } from "node:worker_threads";
import { SnapshotFileError } from "./errors.js";
import { type VerifyOptions, verifySnapshot } from "./verify.js";

const port = parentPort;
if (port) {
  const { verifySnapshotOf, options } = workerData as { verifySnapshotOf: string; options: VerifyOptions };
  verifySnapshot(verifySnapshotOf, options).then(
    (done) => port.postMessage({ done }),
    (err: unknown) =>
      port.postMessage({
        failed: {
          message: err instanceof Error ? err.message : String(err),
          kind: err instanceof SnapshotFileError ? err.kind : "other",
        },
      }),
  );
}
