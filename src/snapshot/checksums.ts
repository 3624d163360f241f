import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { inSea, seaAddon } from "../sea.js";

/** CRC-32C (Castagnoli, reflected 0x82F63B78), the checksum of etcd's `snapshot status` hash. */
export interface Crc32c {
  update(data: Buffer): void;
  /** The CRC of everything fed since the last digest; starts over, so one instance serves many inputs. */
  digest(): number;
}

type NativeCrc = (input: Buffer, initial?: number) => number;

function loadNative(): NativeCrc | undefined {
  if (inSea()) {
    try {
      return seaAddon<{ crc32c: NativeCrc }>("crc32.node").crc32c;
    } catch (err) {
      // Still correct, only slower: say so once, go on.
      process.stderr.write(
        `hcp-etcd-backup: warning: cannot load the CRC-32C addon into TMPDIR ${tmpdir()} (${(err as Error).message}); using the slower portable CRC-32C\n`,
      );
      return undefined;
    }
  }
  try {
    // Prebuilt SIMD binary shipped inside the npm package; absent on unusual platforms.
    return (createRequire(import.meta.url)("@node-rs/crc32") as { crc32c: NativeCrc }).crc32c;
  } catch {
    return undefined;
  }
}

// Loaded on first use: the single executable writes the addon to TMPDIR, which `--version` need not touch.
let native: NativeCrc | undefined | null = null;
function nativeCrc(): NativeCrc | undefined {
  if (native === null) native = loadNative();
  return native;
}

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** Table-driven fallback; also the reference the native path is tested against. */
export function crc32cPortable(data: Buffer, initial = 0): number {
  let c = ~initial >>> 0;
  for (let i = 0; i < data.length; i++) c = (TABLE[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}

const BATCH = 64 * 1024;

/**
 * Streaming CRC-32C. The status walk feeds it millions of tiny keys; small pieces are gathered in
 * a batch buffer so the native call is made per 64 KiB, not per key.
 */
export function createCrc32c(options: { portable?: boolean } = {}): Crc32c {
  const fn: NativeCrc = options.portable ? crc32cPortable : (nativeCrc() ?? crc32cPortable);
  const batch = Buffer.allocUnsafe(BATCH);
  let fill = 0;
  let crc = 0;
  const flush = () => {
    if (fill > 0) crc = fn(batch.subarray(0, fill), crc);
    fill = 0;
  };
  return {
    update(data: Buffer) {
      if (data.length > 4096) {
        flush();
        crc = fn(data, crc);
        return;
      }
      if (fill + data.length > BATCH) flush();
      data.copy(batch, fill);
      fill += data.length;
    },
    digest() {
      flush();
      const out = crc >>> 0;
      crc = 0;
      return out;
    },
  };
}

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK64 = 0xffffffffffffffffn;

/** FNV-1a 64, which bbolt uses for the meta page checksum. */
export function fnv1a64(data: Buffer): bigint {
  let h = FNV_OFFSET;
  for (const byte of data) h = ((h ^ BigInt(byte)) * FNV_PRIME) & MASK64;
  return h;
}
