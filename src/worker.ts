import { basename } from "node:path";
import { type ResourceLimits, Worker } from "node:worker_threads";
import { CancelledError, OperationError } from "./errors.js";
import { inSea, seaText } from "./sea.js";

/**
 * A thread running `script`: from the sources (tests, via tsx) a worker does not inherit tsx's hooks,
 * so it loads them itself before the .ts script; in the single executable there are no script files,
 * so the worker runs the bundle of the same name embedded by scripts/build-sea.ts.
 */
export function startWorker(script: string, workerData: unknown, resourceLimits?: ResourceLimits): Worker {
  const options = { workerData, execArgv: [], ...(resourceLimits ? { resourceLimits } : {}) };
  if (inSea()) return new Worker(seaText(basename(script)), { ...options, eval: true });
  if (script.endsWith(".ts")) {
    return new Worker(
      `import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))}).then((t) => t.tsImport(${JSON.stringify(script)}, ${JSON.stringify(import.meta.url)}))`,
      { ...options, eval: true },
    );
  }
  return new Worker(script, options);
}

/**
 * Runs `script` (a module that answers with one `{ done }` or `{ failed }` message, and may send
 * `{ progress }` before) on a worker thread (see startWorker). A signal terminates the thread at once,
 * wherever it is, and settles only once the thread has stopped.
 */
export function runWorker<Done, Progress = never>(
  script: string,
  workerData: unknown,
  o: {
    readonly what: string;
    readonly signal?: AbortSignal | undefined;
    readonly onProgress?: ((p: Progress) => void) | undefined;
    readonly failure: (failed: { message: string; kind: string }) => Error;
    /** V8's heap limits of the thread (a small young generation keeps a fast allocator's RSS down). */
    readonly resourceLimits?: ResourceLimits | undefined;
    /** What to do when the thread outgrows its old-generation limit (said after the limit). */
    readonly outOfMemory?: string;
  },
): Promise<Done> {
  const { signal } = o;
  if (signal?.aborted) return Promise.reject(new CancelledError(`${o.what} was cancelled`));
  return new Promise((resolve, reject) => {
    const worker = startWorker(script, workerData, o.resourceLimits);
    const onAbort = () => void worker.terminate(); // settled by the thread's exit below
    let settled = false;
    const finish = (then: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener("abort", onAbort);
      then();
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    type Message = { progress: Progress } | { done: Done } | { failed: { message: string; kind: string } };
    worker.on("message", (m: Message) => {
      if ("progress" in m) o.onProgress?.(m.progress);
      else if ("done" in m) finish(() => resolve(m.done));
      else finish(() => reject(o.failure(m.failed)));
    });
    worker.on("error", (err: Error & { code?: string }) =>
      finish(() =>
        reject(
          err.code === "ERR_WORKER_OUT_OF_MEMORY"
            ? new OperationError(
                `${o.what} needed more than the ${o.resourceLimits?.maxOldGenerationSizeMb ?? "default"} MiB its thread may hold${o.outOfMemory ? `: ${o.outOfMemory}` : ""}`,
                { cause: err },
              )
            : new OperationError(`${o.what} failed: ${err.message}`, { cause: err }),
        ),
      ),
    );
    worker.on("exit", (code) =>
      finish(() =>
        reject(
          signal?.aborted
            ? new CancelledError(`${o.what} was cancelled`)
            : new OperationError(`the thread of ${o.what} exited (${code})`),
        ),
      ),
    );
  });
}

/** The script beside `moduleUrl` named `name`, with the same extension (.ts from the sources, .js built). */
export function sibling(moduleUrl: string, name: string): string {
  const file = new URL(moduleUrl).pathname;
  return file.replace(/[^/]+\.(ts|js)$/, `${name}.$1`);
}
