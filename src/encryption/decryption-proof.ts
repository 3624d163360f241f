import { AescbcHeads } from "./aescbc.js";
import type { Keyring } from "./keyring.js";
import { openValue } from "./open-value.js";

/** How many stored values each key name (or KMS provider) covers, with a few of their etcd keys. */
export interface KeyTally {
  count: number;
  examples: string[];
}

export interface DecryptionProof {
  /** Stored values by form: protobuf, json, aescbc, kms-v1, kms-v2, secretbox, unknown. */
  readonly forms: Record<string, number>;
  /** aescbc values each key opened. */
  readonly opened: Record<string, number>;
  /** aescbc values under a key name the keyring does not hold. */
  readonly missingKeys: Record<string, KeyTally>;
  /** aescbc values their named key does not open (bad padding, or not a Kubernetes value). */
  readonly damaged: Record<string, KeyTally>;
  /** KMS values by provider: not checkable offline, not a failure. */
  readonly kms: Record<string, number>;
  readonly ok: boolean;
}

const EXAMPLES = 3;
/**
 * The proof's counts, one stored revision at a time, for a walk that reads bucket `key` anyway
 * (verify's structural walk: the snapshot is then read once for both).
 */
export class DecryptionTally {
  private readonly forms: Record<string, number> = {};
  private readonly opened: Record<string, number> = {};
  private readonly missingKeys: Record<string, KeyTally> = {};
  private readonly damaged: Record<string, KeyTally> = {};
  private readonly kms: Record<string, number> = {};
  // Whether a key opens a value is decided by two of its blocks: the rest is not deciphered.
  private readonly heads = new AescbcHeads();
  private readonly decrypt = (key: Uint8Array, payload: Buffer) => this.heads.head(key, payload);

  constructor(private readonly keyring: Keyring) {}

  add(kv: { readonly key: Buffer; readonly value: Buffer; readonly tombstone: boolean }): void {
    if (kv.tombstone || kv.value.length === 0) return;
    const r = openValue(kv.value, this.keyring, this.decrypt);
    this.forms[r.form] = (this.forms[r.form] ?? 0) + 1;
    if (r.form !== "aescbc" && r.form !== "kms-v1" && r.form !== "kms-v2") return;
    if (r.ok) {
      this.opened[r.keyName ?? ""] = (this.opened[r.keyName ?? ""] ?? 0) + 1;
    } else if (r.why === "kms") {
      const provider = `${r.provider ?? "?"} (${r.form})`;
      this.kms[provider] = (this.kms[provider] ?? 0) + 1;
    } else if (r.why === "no-key") tally(this.missingKeys, r.keyName ?? "?", kv.key);
    else tally(this.damaged, r.keyName ?? "?", kv.key);
  }

  result(): DecryptionProof {
    const { forms, opened, missingKeys, damaged, kms } = this;
    const ok = Object.keys(missingKeys).length === 0 && Object.keys(damaged).length === 0;
    return { forms, opened, missingKeys, damaged, kms, ok };
  }
}

function tally(into: Record<string, KeyTally>, name: string, key: Buffer): void {
  const t = into[name] ?? { count: 0, examples: [] };
  into[name] = t;
  t.count++;
  if (t.examples.length < EXAMPLES) t.examples.push(key.toString("latin1"));
}

/** One line per failure: the key name, how many values, a few etcd keys. */
export function proofProblems(p: DecryptionProof): string[] {
  const lines: string[] = [];
  for (const [name, t] of Object.entries(p.missingKeys))
    lines.push(
      `${t.count} value(s) encrypted with aescbc key ${name}, which the saved keys do not hold (e.g. ${t.examples.join(", ")})`,
    );
  for (const [name, t] of Object.entries(p.damaged))
    lines.push(`${t.count} value(s) that aescbc key ${name} does not open: damaged (e.g. ${t.examples.join(", ")})`);
  return lines;
}

/** The summary line: counts by form, keys that opened values, KMS providers not checked. */
export function proofSummary(p: DecryptionProof): string {
  const forms = Object.entries(p.forms)
    .map(([f, n]) => `${n} ${f}`)
    .join(", ");
  const keys = Object.entries(p.opened)
    .map(([k, n]) => `${k} opened ${n}`)
    .join(", ");
  const kms = Object.entries(p.kms)
    .map(([k, n]) => `${n} under KMS provider ${k}, not checkable offline`)
    .join(", ");
  return [`values: ${forms || "none"}`, keys, kms].filter(Boolean).join("; ");
}
