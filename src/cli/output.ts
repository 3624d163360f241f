/** Indentation of toJson: 2 for people; 0 once --log-format json asked for one JSON object a line. */
let jsonIndent = 2;

/**
 * With `--log-format json` every line the command writes is a JSON object (a Job's log is parsed line
 * by line), so `-o json` results are printed on one line too.
 */
export function jsonLines(on: boolean): void {
  jsonIndent = on ? 0 : 2;
}

/** Whether jsonLines is on: a worker thread that prints starts with its parent's setting. */
export function jsonLinesOn(): boolean {
  return jsonIndent === 0;
}

/** JSON for scripts: bigints become numbers when exact, strings otherwise (lease and member IDs). */
export function toJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_k, v: unknown) => {
      if (typeof v === "bigint")
        return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
      if (Buffer.isBuffer(v)) return v.toString("latin1");
      if (v && typeof v === "object" && (v as { type?: string }).type === "Buffer") return undefined;
      return v;
    },
    jsonIndent,
  );
}

/** Where printed text goes: stdout, or a worker thread's chunks to it (src/kubeobjects/print-objects.ts). */
export type Out = (text: string) => void;

const toStdout: Out = (text) => void process.stdout.write(text);

export function write(text: string, out: Out = toStdout): void {
  out(text.endsWith("\n") ? text : `${text}\n`);
}

/**
 * `hcp-etcd-backup snapshot keys f | head -1`: once the reader has gone, nothing we print can be
 * read, so the command ends, quietly, as a Unix tool killed by SIGPIPE does (Node ignores SIGPIPE
 * and reports EPIPE as an error event instead, which would crash with a stack trace). `end` stops
 * the work and runs its cleanups (files it sorted or staged, daemons the demo started) with the exit
 * status already decided, else 0: the reader took what it wanted.
 */
export function endQuietlyOnClosedStdout(end: (code: number) => void): void {
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code !== "EPIPE") throw err;
    end(typeof process.exitCode === "number" ? process.exitCode : 0);
  });
}

/**
 * etcdctl's TOTAL KEYS counts every entry of the snapshot's buckets (each stored revision of each
 * key, tombstones, members, leases, ...), so it is always more than the live keys: say which it is.
 */
export function totalKeysText(totalKeys: number): string {
  return `${totalKeys} stored entries (etcdctl's TOTAL KEYS, not live keys)`;
}

/** A size for a table: MiB with one decimal, KiB below one MiB (a small backup is not "0.0 MiB"). */
export function sizeText(bytes: number): string {
  return bytes < 1048576 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1048576).toFixed(1)} MiB`;
}

const ITEMS_MARK = "hcpeb-items-mark-5b1f";

/**
 * A Kubernetes List, `{apiVersion: v1, kind: List, items, metadata: {}}`, printed item by item as
 * `-o yaml` (`dump`) or `-o json` (toJson) would print the whole of it, byte for byte: memory holds
 * one item, whatever the number. The frame is rendered once around a marker item; each item is
 * rendered alone and indented as the marker was.
 */
export function writeList(
  items: Iterable<unknown>,
  format: "yaml" | "json",
  dump: (value: unknown) => string,
  out: Out = toStdout,
): void {
  const frameOf = (list: unknown[]) => {
    const value = { apiVersion: "v1", kind: "List", items: list, metadata: {} };
    return format === "json" ? toJson(value) : dump(value);
  };
  const it = items[Symbol.iterator]();
  let next = it.next();
  if (next.done) {
    write(frameOf([]), out);
    return;
  }
  const frame = frameOf([ITEMS_MARK]);
  const mark = format === "json" ? JSON.stringify(ITEMS_MARK) : `- ${ITEMS_MARK}\n`;
  const at = frame.indexOf(mark);
  const head = frame.slice(0, at);
  const tail = frame.slice(at + mark.length);
  // The marker's indentation: what each line of an item gets (none in one-line JSON).
  const pad = /\n( *)$/.exec(head)?.[1] ?? "";
  const indent = (text: string) => text.replace(/^(?=.)/gm, pad);
  if (format === "json") {
    // The head ends with the first item's indentation; items after it start on a line of their own.
    const sep = pad === "" && !head.endsWith("\n") ? "," : `,\n${pad}`;
    out(head);
    for (let first = true; !next.done; first = false, next = it.next())
      out(`${first ? "" : sep}${indent(toJson(next.value)).slice(pad.length)}`);
  } else {
    out(head.slice(0, head.length - pad.length));
    for (; !next.done; next = it.next()) out(indent(dump([next.value])));
  }
  write(tail, out);
}
