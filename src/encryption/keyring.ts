import { aescbcKeyName } from "../hostedcluster/encryption-key.js";

/** One aescbc key under the name kube-apiserver writes into the values it encrypts. */
export interface AescbcKey {
  readonly name: string;
  readonly key: Buffer;
  /** Where it came from, for messages (never the key). */
  readonly source: string;
}

/** The keys that may open a snapshot's values, by name. */
export class Keyring {
  private readonly byName = new Map<string, AescbcKey>();

  constructor(keys: Iterable<AescbcKey> = []) {
    for (const k of keys) this.add(k);
  }

  add(k: AescbcKey): void {
    if (!this.byName.has(k.name)) this.byName.set(k.name, k);
  }

  get(name: string): AescbcKey | undefined {
    return this.byName.get(name);
  }

  get names(): string[] {
    return [...this.byName.keys()];
  }

  /** Every key, to hand the ring to a worker thread. */
  get keys(): AescbcKey[] {
    return [...this.byName.values()];
  }

  get size(): number {
    return this.byName.size;
  }
}

/** The keys of a ring as a worker thread receives them (structured cloning makes Buffers Uint8Arrays). */
export function keyringOfClones(keys: readonly AescbcKey[]): Keyring {
  return new Keyring(keys.map((k) => ({ ...k, key: Buffer.from(k.key.buffer, k.key.byteOffset, k.key.byteLength) })));
}

/** A key saved by the backup or read from a HostedCluster's Secret: named as HyperShift names it. */
export function hypershiftKey(key: Buffer, source: string): AescbcKey {
  return { name: aescbcKeyName(key), key, source };
}
