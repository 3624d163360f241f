import { resourceLimits as limitsOfThisThread, type ResourceLimits, threadId } from "node:worker_threads";
import yaml from "js-yaml";
import { jsonLinesOn, type Out, toJson, write as writeLine, writeList } from "../cli/output.js";
import { OperationError } from "../errors.js";
import { runWorker, sibling } from "../worker.js";
import { diffObjects, fieldChangeText, type ObjectDiff, objectIdText } from "./object-diff.js";
import { type FoundObject, objectsOfRuns, type SortedObjects } from "./read-objects.js";

/** What the printing thread prints: the List of `get -A` / `get -n` without a name, or a `diff`. */
export type PrintTask =
  | { readonly kind: "list"; readonly objects: SortedObjects; readonly format: "yaml" | "json" }
  | {
      readonly kind: "diff";
      readonly before: SortedObjects;
      readonly after: SortedObjects;
      readonly showSecrets: boolean;
      readonly format: "text" | "json";
    };

export interface Printed {
  /** A diff found objects added, removed or changed. */
  readonly differs: boolean;
}

/** What the thread says while it works: that it runs (and with which heap), a chunk of output, a note on an object. */
export type PrintMessage =
  | { readonly started: { readonly threadId: number; readonly maxYoungGenerationSizeMb?: number | undefined } }
  | { readonly chunk: { readonly slot: number; readonly length: number } }
  | { readonly note: { readonly key: string; readonly note: string } };

/**
 * The thread's heap. Decoding and printing hundreds of thousands of objects allocates fast, each one
 * garbage at once, and V8 grows a thread's young generation with its allocation rate (to 16 MiB
 * semi-spaces and more); a small one is collected more often, and cheaply, as nothing in it lives
 * long. What survives two scavenges anyway (the object being printed) is promoted, and V8 lets that
 * garbage pile up in the old generation towards a limit sized for the machine: a bound makes it
 * collect sooner. Measured (docs/benchmarks.md): `get -A` at 481 MiB 181 MiB RSS unbounded, 143 MiB
 * with 128, same CPU; `diff` at 1.23 GiB 237 MiB unbounded, 192-207 MiB bounded, for 20-50% more
 * CPU. A List keeps nothing per object; a diff keeps every change it finds, hence its larger bound
 * (running out fails the command, exit 2).
 */
const LIMITS: Readonly<Record<PrintTask["kind"], ResourceLimits>> = {
  list: { maxYoungGenerationSizeMb: 6, maxOldGenerationSizeMb: 128 },
  diff: { maxYoungGenerationSizeMb: 6, maxOldGenerationSizeMb: 256 },
};

/**
 * The output crosses to this thread through a ring of SLOTS shared buffers of SLOT_BYTES, reused:
 * a message per chunk would leave each chunk's copy here until this thread's next collection, which
 * an idle main thread runs rarely (tens of MiB of dead chunks). The printing thread blocks while
 * every slot is written to stdout and not yet taken by the reader: the flow control.
 */
const SLOTS = 4;
const SLOT_BYTES = 64 * 1024;

/** The ring and the count of slots in use (written by the printing thread, given back here). */
interface Ring {
  readonly bytes: SharedArrayBuffer;
  readonly inUse: Int32Array;
}

/**
 * Runs `task` on a worker thread with a small young generation (LIMITS), its output written to
 * this process's stdout in order, with back-pressure (Ring). A reader that goes away (`| head`)
 * ends the process as any command's closed stdout does (endQuietlyOnClosedStdout). Errors of the
 * objects (a value no key opens, ...) come back as the OperationError the same code throws here.
 */
export function printOffThread(
  task: PrintTask,
  o: {
    readonly signal?: AbortSignal | undefined;
    readonly onNote: (key: string, note: string) => void;
    readonly onStarted?: (s: { threadId: number; maxYoungGenerationSizeMb?: number | undefined }) => void;
  },
): Promise<Printed> {
  const ring: Ring = {
    bytes: new SharedArrayBuffer(SLOTS * SLOT_BYTES),
    inUse: new Int32Array(new SharedArrayBuffer(4)),
  };
  const taken = () => {
    Atomics.sub(ring.inUse, 0, 1);
    Atomics.notify(ring.inUse, 0);
  };
  return runWorker<Printed, PrintMessage>(
    sibling(import.meta.url, "print-worker"),
    { task, jsonLines: jsonLinesOn(), ring },
    {
      what: "printing the objects",
      signal: o.signal,
      resourceLimits: LIMITS[task.kind],
      ...(task.kind === "diff"
        ? { outOfMemory: "a diff holds every change it finds; narrow it to a resource, or a namespace with -n" }
        : {}),
      onProgress: (m) => {
        // A view of the slot, not a copy: the slot is not reused before `taken`.
        if ("chunk" in m)
          process.stdout.write(new Uint8Array(ring.bytes, m.chunk.slot * SLOT_BYTES, m.chunk.length), taken);
        else if ("note" in m) o.onNote(m.note.key, m.note.note);
        else o.onStarted?.(m.started);
      },
      failure: (f) =>
        new OperationError(f.kind === "operation" ? f.message : `printing the objects failed: ${f.message}`),
    },
  );
}

/** The thread's side (print-worker.ts): says it started, then prints `task` through the ring. */
export function printOnThisThread(task: PrintTask, ring: Ring, post: (m: PrintMessage) => void): Printed {
  post({ started: { threadId, maxYoungGenerationSizeMb: limitsOfThisThread.maxYoungGenerationSizeMb } });
  const stdout = new RingWriter(ring, post);
  const noted = (objects: Iterable<FoundObject>) =>
    (function* () {
      for (const f of objects) {
        if (f.note) post({ note: { key: f.key, note: f.note } });
        yield f;
      }
    })();
  if (task.kind === "diff") {
    const d = diffObjects(noted(objectsOfRuns(task.before)), noted(objectsOfRuns(task.after)), {
      showSecrets: task.showSecrets,
    });
    printDiff(d, task.format, stdout.text);
    stdout.flush();
    return { differs: d.added.length + d.removed.length + d.changed.length > 0 };
  }
  // Every object is opened and decoded once before anything is printed (a value no key opens stops
  // the command with nothing written), then again as the List is printed, one at a time. Printing
  // into a sealed spool in one pass instead saved ~10-20% of the CPU but its deciphered blocks
  // added 30-60 MiB of external memory (docs/benchmarks.md).
  for (const _ of noted(objectsOfRuns(task.objects))) {
    // objectsOfRuns throws on a value it cannot open or decode
  }
  const dump = (v: unknown) => yaml.dump(v, { noRefs: true, lineWidth: -1 });
  writeList(
    (function* () {
      for (const f of objectsOfRuns(task.objects)) yield f.object;
    })(),
    task.format,
    dump,
    stdout.text,
  );
  stdout.flush();
  return { differs: false };
}

/** Output into the ring's slots, in order; waits while every slot is still being written to stdout. */
class RingWriter {
  private next = 0;
  private parts: string[] = [];
  private size = 0;
  private readonly encoder = new TextEncoder();

  constructor(
    private readonly ring: Ring,
    private readonly post: (m: PrintMessage) => void,
  ) {}

  readonly text: Out = (text) => {
    this.parts.push(text);
    this.size += text.length;
    // Characters, not bytes: a chunk of UTF-8 may take a few slots.
    if (this.size >= SLOT_BYTES) this.flush();
  };

  flush(): void {
    let rest = this.parts.join("");
    this.parts = [];
    this.size = 0;
    while (rest.length > 0) {
      let read = 0;
      this.send((slot) => {
        const r = this.encoder.encodeInto(rest, slot);
        read = r.read;
        return r.written;
      });
      rest = rest.slice(read);
    }
  }

  /** Fills the next free slot (`fill` returns the bytes it put there) and hands it to the main thread. */
  private send(fill: (slot: Uint8Array) => number): void {
    const inUse = this.ring.inUse;
    for (let n = Atomics.load(inUse, 0); n >= SLOTS; n = Atomics.load(inUse, 0)) Atomics.wait(inUse, 0, n);
    // Slots are given back in the order they were written (stdout writes in order): the next one is free.
    const slot = this.next;
    this.next = (slot + 1) % SLOTS;
    const length = fill(new Uint8Array(this.ring.bytes, slot * SLOT_BYTES, SLOT_BYTES));
    Atomics.add(inUse, 0, 1);
    this.post({ chunk: { slot, length } });
  }
}

function printDiff(d: ObjectDiff, output: "text" | "json", out: Out): void {
  const line = (text: string) => writeLine(text, out);
  if (output === "json") {
    line(toJson(d));
    return;
  }
  for (const o of d.added) line(`+ ${objectIdText(o)}`);
  for (const o of d.removed) line(`- ${objectIdText(o)}`);
  for (const o of d.changed) {
    line(`~ ${objectIdText(o)}`);
    for (const f of o.fields) line(`    ${fieldChangeText(f)}`);
  }
  line(`${d.added.length} added, ${d.removed.length} removed, ${d.changed.length} changed, ${d.unchanged} unchanged`);
}
