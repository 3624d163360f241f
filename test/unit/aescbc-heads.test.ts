// The decryption proof deciphers only the first and last block of each aescbc value (AescbcHeads):
// its verdict must be the one of deciphering the whole value, for every kind of value and damage.
import assert from "node:assert/strict";
import { createCipheriv, randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { AescbcHeads, aescbcEncrypt } from "../../src/encryption/aescbc.js";
import { hypershiftKey, Keyring } from "../../src/encryption/keyring.js";
import { openValue } from "../../src/encryption/open-value.js";
import { protobufValue } from "../support/kube-values.js";

const key = randomBytes(32);
const ring = new Keyring([hypershiftKey(key, "test")]);
const name = ring.names[0] as string;

/** A value as the aescbc transformer writes it, of any plaintext, under `k` but named as `key`. */
function sealed(plain: Buffer, k: Buffer = key): Buffer {
  return aescbcEncrypt(k, name, plain);
}

/** AES-CBC of `plain` (a whole number of blocks) with no padding added: the last block's byte decides. */
function sealedRaw(plain: Buffer): Buffer {
  const iv = randomBytes(16);
  const c = createCipheriv("aes-256-cbc", key, iv).setAutoPadding(false);
  return Buffer.concat([Buffer.from(`k8s:enc:aescbc:v1:${name}:`), iv, c.update(plain), c.final()]);
}

const verdict = (value: Buffer, heads?: AescbcHeads) => {
  const r = heads ? openValue(value, ring, (k, p) => heads.head(k, p)) : openValue(value, ring);
  return r.ok ? "opened" : r.why;
};

describe("AescbcHeads: two blocks decide what deciphering the whole value decides", () => {
  it("agrees with the full decryption on values, wrong keys, damage and edge lengths", () => {
    const heads = new AescbcHeads();
    const cases: [string, Buffer][] = [];
    for (const size of [0, 1, 15, 16, 17, 31, 32, 33, 47, 48, 100, 4096]) {
      const filler = randomBytes(size);
      cases.push([`protobuf ${size}`, sealed(Buffer.concat([Buffer.from("k8s\0"), filler]))]);
      cases.push([`json ${size}`, sealed(Buffer.from(`{"kind":"X","pad":"${filler.toString("hex")}"}`))]);
      cases.push([`not kubernetes ${size}`, sealed(Buffer.concat([Buffer.from("garbage!"), filler]))]);
      cases.push([`wrong key ${size}`, sealed(Buffer.concat([Buffer.from("k8s\0"), filler]), randomBytes(32))]);
    }
    // JSON after more whitespace than a block holds: its `{` is not in the first block.
    cases.push(["json after 40 spaces", sealed(Buffer.from(`${" ".repeat(40)}{"kind":"X"}`))]);
    cases.push(["only whitespace", sealed(Buffer.from(" ".repeat(70)))]);
    // Padding that is wrong in each way: a zero, too large, inconsistent bytes, and right.
    const body = Buffer.concat([Buffer.from("k8s\0"), randomBytes(44)]);
    for (const last of [
      Buffer.alloc(16, 0),
      Buffer.alloc(16, 17),
      Buffer.concat([randomBytes(12), Buffer.from([4, 4, 3, 4])]),
      Buffer.concat([randomBytes(12), Buffer.from([4, 4, 4, 4])]),
    ])
      cases.push([`padding ${last.subarray(12).toString("hex")}`, sealedRaw(Buffer.concat([body, last]))]);
    // Damage: the last block, the first block, the IV, a middle block, a cut.
    const good = sealed(Buffer.concat([Buffer.from("k8s\0"), randomBytes(200)]));
    const flip = (at: number) => {
      const v = Buffer.from(good);
      v[at] = (v[at] as number) ^ 0x5a;
      return v;
    };
    cases.push(["last block flipped", flip(good.length - 1)]);
    const prefix = `k8s:enc:aescbc:v1:${name}:`.length;
    cases.push(["IV's first byte flipped", flip(prefix)]);
    cases.push(["first block flipped", flip(prefix + 16)]);
    cases.push(["middle block flipped", flip(prefix + 16 * 6)]);
    cases.push(["cut by a block", good.subarray(0, good.length - 16)]);
    cases.push(["cut by a byte", good.subarray(0, good.length - 1)]);
    cases.push(["a real Secret", sealed(protobufValue("v1", "Secret", { metadata: { name: "s" }, data: {} }))]);
    const seen = new Set<string>();
    for (const [what, value] of cases) {
      const expected = verdict(value);
      seen.add(expected);
      assert.equal(verdict(value, heads), expected, what);
    }
    // The cases cover both outcomes.
    assert.deepEqual([...seen].sort(), ["damaged", "opened"]);
  });
});
