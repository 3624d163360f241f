/**
 * CRC-32C combination (zlib's crc32_combine, for the Castagnoli polynomial): the CRC of A‖B from
 * crc(A), crc(B) and len(B), without the bytes. Lets the streaming status hash leaf pages in the
 * order they arrive and put them in key order at the end.
 */
const POLY = 0x82f63b78;

/** a(x) * b(x) modulo the CRC polynomial, in the reflected bit order CRCs use. */
function multModP(a: number, b: number): number {
  let m = 0x80000000;
  let p = 0;
  let bb = b >>> 0;
  for (;;) {
    if ((a & m) !== 0) {
      p = (p ^ bb) >>> 0;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    bb = bb & 1 ? ((bb >>> 1) ^ POLY) >>> 0 : bb >>> 1;
  }
  return p >>> 0;
}

// X2N[k] = x^(2^k) mod P
const X2N = (() => {
  const t = new Uint32Array(32);
  let p = 0x40000000; // x^1
  t[0] = p;
  for (let k = 1; k < 32; k++) {
    p = multModP(p, p);
    t[k] = p;
  }
  return t;
})();

/** x^(n * 2^k) mod P. */
function x2nModP(n: number, k: number): number {
  let p = 0x80000000; // x^0
  let kk = k;
  let nn = n;
  while (nn > 0) {
    if (nn % 2 === 1) p = multModP(X2N[kk & 31] as number, p);
    nn = Math.floor(nn / 2);
    kk++;
  }
  return p;
}

/** crc(A‖B) from crc(A), crc(B) and the byte length of B (any length below 2^53). */
export function crc32cCombine(crcA: number, crcB: number, lengthB: number): number {
  if (lengthB === 0) return crcA >>> 0;
  return (multModP(x2nModP(lengthB, 3), crcA >>> 0) ^ (crcB >>> 0)) >>> 0;
}
