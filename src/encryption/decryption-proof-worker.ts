// The thread that runs proveDecryption for proveDecryptionOffThread: one synchronous pass over every
// stored value, which must not hold up the thread that answers Ctrl-C.
import { parentPort, workerData } from "node:worker_threads";
import { SnapshotFileError } from "../snapshot/errors.js";
import { proveDecryption } from "./decryption-proof.js";
import { type AescbcKey, keyringOfClones } from "./keyring.js";

const port = parentPort;
if (port) {
  const { proveDecryptionOf, keys } = workerData as { proveDecryptionOf: string; keys: AescbcKey[] };
  try {
    const ring = keyringOfClones(keys);
    port.postMessage({ done: proveDecryption(proveDecryptionOf, ring, (progress) => port.postMessage({ progress })) });
  } catch (err) {
    port.postMessage({
      failed: {
        message: err instanceof Error ? err.message : String(err),
        kind: err instanceof SnapshotFileError ? err.kind : "other",
      },
    });
  }
}
