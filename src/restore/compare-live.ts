import { createHash } from "node:crypto";
import { EtcdError } from "../errors.js";
import type { EtcdClient, KeyValue, RangePage } from "../etcd/client.js";
import type { KeyState } from "./sorted-live-keys.js";

export interface KeyDifference {
  /** The key, printable (non-printable bytes escaped); values are never shown. */
  readonly key: string;
  readonly problem: "missing" | "extra" | "changed";
  /** For "changed": the fields that differ, e.g. "value", "mod_revision". */
  readonly fields?: readonly string[];
}

export interface Comparison {
  /** Live keys in the snapshot. */
  readonly snapshotKeys: number;
  /** Keys etcd served. */
  readonly liveKeys: number;
  readonly missing: number;
  readonly extra: number;
  readonly changed: number;
  /** The first few differences. */
  readonly examples: readonly KeyDifference[];
  readonly equal: boolean;
}

const MAX_EXAMPLES = 10;

/**
 * Compares two key-ordered streams of live keys (the snapshot's and a restored etcd's) in one pass:
 * memory holds one key from each side, whatever the size.
 */
export async function compareKeyStreams(
  snapshot: AsyncIterable<KeyState>,
  live: AsyncIterable<KeyState>,
): Promise<Comparison> {
  const a = snapshot[Symbol.asyncIterator]();
  const b = live[Symbol.asyncIterator]();
  let x = await a.next();
  let y = await b.next();
  let snapshotKeys = 0;
  let liveKeys = 0;
  let missing = 0;
  let extra = 0;
  let changed = 0;
  const examples: KeyDifference[] = [];
  const note = (d: KeyDifference) => {
    if (examples.length < MAX_EXAMPLES) examples.push(d);
  };
  try {
    while (!x.done || !y.done) {
      const order = x.done ? 1 : y.done ? -1 : Buffer.compare(x.value.key, y.value.key);
      if (order < 0 && !x.done) {
        missing++;
        snapshotKeys++;
        note({ key: printable(x.value.key), problem: "missing" });
        x = await a.next();
      } else if (order > 0 && !y.done) {
        extra++;
        liveKeys++;
        note({ key: printable(y.value.key), problem: "extra" });
        y = await b.next();
      } else if (!x.done && !y.done) {
        snapshotKeys++;
        liveKeys++;
        const fields = differingFields(x.value, y.value);
        if (fields.length > 0) {
          changed++;
          note({ key: printable(x.value.key), problem: "changed", fields });
        }
        x = await a.next();
        y = await b.next();
      }
    }
  } finally {
    await a.return?.();
    await b.return?.();
  }
  return {
    snapshotKeys,
    liveKeys,
    missing,
    extra,
    changed,
    examples,
    equal: missing === 0 && extra === 0 && changed === 0,
  };
}

function differingFields(s: KeyState, l: KeyState): string[] {
  const out: string[] = [];
  if (s.valueSize !== l.valueSize || !s.valueHash.equals(l.valueHash)) out.push("value");
  if (s.modRevision !== l.modRevision) out.push("mod_revision");
  if (s.createRevision !== l.createRevision) out.push("create_revision");
  if (s.version !== l.version) out.push("version");
  if (s.lease !== l.lease) out.push("lease");
  return out;
}

/** Keys as etcdctl would show them, with bytes outside printable ASCII escaped (\xNN). */
export function printable(key: Buffer): string {
  let out = "";
  for (const b of key)
    out += b >= 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, "0")}`;
  return out;
}

export interface LiveReadOptions {
  /** Read at this revision (the snapshot's): later writes, such as expired leases deleting keys, are not seen. */
  readonly revision: number;
  /** Aim for pages of about this many bytes of keys and values (default 8 MiB). */
  readonly pageBytes?: number;
}

const FIRST_PAGE = 100;
const MAX_PAGE = 10_000;
const ALL_KEYS_END = Buffer.from([0]);

/**
 * Every key of a running etcd in key order, read in pages at one revision. The page size follows the
 * values seen so far (bounded bytes per page); a page refused as too large is asked again at half size.
 */
export async function* liveKeyStates(client: EtcdClient, options: LiveReadOptions): AsyncGenerator<KeyState> {
  const target = options.pageBytes ?? 2 * 1024 * 1024;
  let limit = FIRST_PAGE;
  const fetch = async (from: Buffer): Promise<RangePage> => {
    for (;;) {
      try {
        return await client.range({ key: from, rangeEnd: ALL_KEYS_END, revision: options.revision, limit });
      } catch (err) {
        if (limit > 1 && err instanceof EtcdError && tooLarge(err)) {
          limit = Math.max(1, Math.floor(limit / 2));
          continue;
        }
        throw err;
      }
    }
  };
  /**
   * A page summarised as soon as it arrives, and let go: its buffers die young instead of being
   * promoted while its keys are compared (then only a full collection would free them, and the
   * memory outside V8's heap would grow by pages before one ran).
   */
  const summarise = async (from: Buffer): Promise<{ states: KeyState[]; next?: Buffer }> => {
    const page = await fetch(from);
    const states = page.kvs.map(stateOf);
    const last = states.at(-1);
    if (!page.more || !last) return { states };
    const bytes = page.kvs.reduce((n, kv) => n + kv.key.length + kv.value.length, 0);
    const perKey = Math.max(1, bytes / page.kvs.length);
    limit = Math.min(MAX_PAGE, Math.max(1, Math.floor(target / perKey)));
    return { states, next: Buffer.concat([last.key, Buffer.from([0])]) };
  };
  let pending: Promise<{ states: KeyState[]; next?: Buffer }> | undefined = summarise(Buffer.from([0]));
  try {
    while (pending) {
      const { states, next } = await pending;
      pending = undefined;
      if (next) {
        // The next page is on its way while this one is compared: two pages in memory at most.
        pending = summarise(next);
        pending.catch(() => {}); // awaited on the next turn; the consumer may stop before
      }
      yield* states;
    }
  } finally {
    await pending?.catch(() => {});
  }
}

function stateOf(kv: KeyValue): KeyState {
  return {
    // A copy: the received key is a view of the whole page's message.
    key: Buffer.from(kv.key),
    createRevision: BigInt(kv.createRevision),
    modRevision: BigInt(kv.modRevision),
    version: BigInt(kv.version),
    lease: BigInt(kv.lease),
    valueSize: kv.value.length,
    valueHash: createHash("sha256").update(kv.value).digest(),
  };
}

/** A page refused for its size: grpc's RESOURCE_EXHAUSTED (code 8), or the words for it. */
function tooLarge(err: Error): boolean {
  const cause = (err as { cause?: { code?: number } }).cause;
  return cause?.code === 8 || /larger than max|message too large|RESOURCE_EXHAUSTED/i.test(err.message);
}
