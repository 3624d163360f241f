import { Decrypter, Encrypter } from "age-encryption";
import { describe, UsageError, VerificationError } from "../errors.js";

/**
 * The saved encryption key travels only encrypted: to one or more age recipients (X25519,
 * `age1...`), as a binary age file the reference `age -d -i <identity>` opens. Whoever holds the
 * backup bucket alone cannot read the cluster's secrets out of the snapshot.
 */
export function checkRecipients(recipients: readonly string[]): string[] {
  const out: string[] = [];
  for (const raw of recipients) {
    const r = raw.trim();
    if (r.toUpperCase().startsWith("AGE-SECRET-KEY-")) {
      // Never echo it: that is the private key, and this message may land in a CI log.
      throw new UsageError(
        "--key-recipient was given an age identity (AGE-SECRET-KEY-...), which is a private key: pass its recipient instead (age-keygen -y <identity-file> prints it), and treat that identity as leaked if this ran in CI",
      );
    }
    if (!/^age1[02-9ac-hj-np-z]{58}$/.test(r)) {
      // Only the shape is described: whatever was pasted here may be secret.
      throw new UsageError(
        `invalid age recipient (${r.length} characters, starting "${r.slice(0, 4)}"): expected an X25519 recipient like age1... (age-keygen -y <identity-file> prints it)`,
      );
    }
    out.push(r);
  }
  if (out.length === 0) throw new UsageError("no age recipient given");
  return out;
}

export async function sealKey(key: Uint8Array, recipients: readonly string[]): Promise<Uint8Array> {
  const e = new Encrypter();
  for (const r of checkRecipients(recipients)) e.addRecipient(r);
  return e.encrypt(key);
}

/** Opens a sealed key with an age identity (`AGE-SECRET-KEY-1...`, as in an age-keygen file). */
export async function openKey(sealed: Uint8Array, identityFile: string): Promise<Uint8Array> {
  const identities = identityFile
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.startsWith("AGE-SECRET-KEY-"));
  if (identities.length === 0) throw new UsageError("the identity file holds no AGE-SECRET-KEY-1... line");
  const d = new Decrypter();
  for (const id of identities) d.addIdentity(id);
  try {
    return await d.decrypt(sealed);
  } catch (err) {
    throw new VerificationError(`cannot decrypt the saved encryption key with this identity: ${describe(err)}`, {
      cause: err,
    });
  }
}
