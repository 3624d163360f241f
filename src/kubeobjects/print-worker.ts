// The thread that prints `get`'s List or a `diff` for printOffThread: decoding and printing every
// object runs here, with a young generation of its own kept small, while the main thread only
// hands the ring's slots to stdout and answers signals.
import { parentPort, workerData } from "node:worker_threads";
import { jsonLines } from "../cli/output.js";
import { HcpError } from "../errors.js";
import { type PrintMessage, type PrintTask, printOnThisThread } from "./print-objects.js";

const port = parentPort;
if (port) {
  const { task, ring, ...w } = workerData as {
    task: PrintTask;
    jsonLines: boolean;
    ring: Parameters<typeof printOnThisThread>[1];
  };
  jsonLines(w.jsonLines);
  try {
    const done = printOnThisThread(task, ring, (progress: PrintMessage) => port.postMessage({ progress }));
    port.postMessage({ done });
  } catch (err) {
    // Ours (a value no key opens, one that is not protobuf) keep their one-line message as it is.
    port.postMessage({
      failed: {
        message: err instanceof Error ? err.message : String(err),
        kind: err instanceof HcpError ? "operation" : "other",
      },
    });
  }
}
