/**
 * How a backup names the file of a key only the control plane's EncryptionConfiguration lists (a
 * rotation in progress): `encryption-key-listed-<name>[.age]`, the name URI-encoded. The name is the
 * one its values carry (`k8s:enc:aescbc:v1:<name>:`), so whoever reads the file must keep it.
 */
export const LISTED_KEY_PREFIX = "encryption-key-listed-";

/** The key name a listed key's object (or file) carries; undefined for the active and backup keys'. */
export function listedKeyName(object: string): string | undefined {
  const file = object.slice(object.lastIndexOf("/") + 1);
  if (!file.startsWith(LISTED_KEY_PREFIX)) return undefined;
  const encoded = file.slice(LISTED_KEY_PREFIX.length).replace(/\.age$/, "");
  try {
    return decodeURIComponent(encoded);
  } catch {
    return encoded; // not written by a backup (a stray %): taken as it is
  }
}
