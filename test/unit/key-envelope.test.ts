import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { generateIdentity, identityToRecipient } from "age-encryption";
import { UsageError, VerificationError } from "../../src/errors.js";
import { checkRecipients, openKey, sealKey } from "../../src/hostedcluster/key-envelope.js";

describe("the saved key's envelope (age)", () => {
  it("seals a key to several recipients; each identity opens it; the sealed bytes do not contain the key", async () => {
    const key = randomBytes(32);
    const ids = [await generateIdentity(), await generateIdentity()];
    const recipients = await Promise.all(ids.map((id) => identityToRecipient(id)));
    const sealed = await sealKey(key, recipients);
    assert.equal(Buffer.from(sealed).includes(key), false);
    assert.equal(Buffer.from(sealed).includes(Buffer.from(key.toString("base64"))), false);
    for (const id of ids) assert.deepEqual(Buffer.from(await openKey(sealed, `# created: now\n${id}\n`)), key);
  });

  it("a wrong identity fails verification with one line; bad recipients are usage errors", async () => {
    const sealed = await sealKey(randomBytes(32), [await identityToRecipient(await generateIdentity())]);
    await assert.rejects(openKey(sealed, await generateIdentity()), VerificationError);
    await assert.rejects(openKey(sealed, "no identity here"), UsageError);
    assert.throws(() => checkRecipients(["ssh-ed25519 AAAA"]), /invalid age recipient/);
    assert.throws(() => checkRecipients([]), /no age recipient/);
    // An identity passed by mistake is never echoed: it is the private key.
    const identity = await generateIdentity();
    assert.throws(
      () => checkRecipients([identity]),
      (err: Error) => /is a private key/.test(err.message) && !err.message.includes(identity.slice(15, 40)),
    );
    assert.throws(
      () => checkRecipients(["age1-not-really-a-recipient-but-maybe-secret-material"]),
      (err: Error) => !err.message.includes("secret-material") && /53 characters, starting "age1"/.test(err.message),
    );
  });
});
