// The thread that sorts a snapshot's keys (started by sortLiveKeys): its memory is given back when
// it ends, and the thread that answers signals never waits for it.
import { parentPort, workerData } from "node:worker_threads";
import { SnapshotFileError } from "../snapshot/errors.js";
import { type Selection, writeSortedRuns } from "./sorted-live-keys.js";

const port = parentPort;
if (port) {
  const { sortLiveKeysOf, dir, memoryBytes, select } = workerData as {
    sortLiveKeysOf: string;
    dir: string;
    memoryBytes: number;
    select: Selection;
  };
  try {
    const done = writeSortedRuns(
      sortLiveKeysOf,
      dir,
      memoryBytes,
      (progress) => port.postMessage({ progress }),
      select,
    );
    port.postMessage({ done });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    port.postMessage({ failed: { message, kind: err instanceof SnapshotFileError ? "snapshot" : "other" } });
  }
}
