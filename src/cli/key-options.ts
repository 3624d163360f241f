import type { Command } from "commander";
import type { Keyring } from "../encryption/keyring.js";
import { UsageError } from "../errors.js";
import type { Store } from "../store/store.js";

export interface KeyFlags {
  keyIdentity?: string;
  /** Each --key-file given (repeatable: a --key-to backup saves one raw file per key). */
  keyFile?: string[];
  encryptionConfig?: string;
}

/** The three ways to name the keys that open a snapshot's encrypted values. */
export function addKeyOptions(cmd: Command): Command {
  return cmd
    .option("--key-identity <file>", "age identity that opens the aescbc keys the backup saved (--key-recipient)")
    .option(
      "--key-file <file>",
      "a raw aescbc key (as --key-to saved it, or the key Secret's data.key); repeat it for each key a backup saved",
      (file: string, before?: string[]) => [...(before ?? []), file],
    )
    .option("--encryption-config <file>", "kube-apiserver's EncryptionConfiguration: its aescbc keys");
}

/** The keyring the flags name; undefined when none was given. `store` is the backup, when the source is one. */
export async function keyringOf(
  flags: KeyFlags,
  store: Store | undefined,
  signal?: AbortSignal,
): Promise<Keyring | undefined> {
  const given = [flags.keyIdentity, flags.keyFile, flags.encryptionConfig].filter((f) => f !== undefined).length;
  if (given > 1) throw new UsageError("give one of --key-identity, --key-file and --encryption-config");
  if (flags.keyFile !== undefined)
    return (await import("../encryption/key-files.js")).keyringFromKeyFiles(flags.keyFile);
  if (flags.encryptionConfig !== undefined)
    return (await import("../encryption/key-files.js")).keyringFromEncryptionConfig(flags.encryptionConfig);
  if (flags.keyIdentity !== undefined) {
    if (!store)
      throw new UsageError(
        "--key-identity opens the keys saved beside a backup: with a snapshot file use --key-file or --encryption-config",
      );
    return (await import("../encryption/backup-keys.js")).keyringFromBackup(store, flags.keyIdentity, signal);
  }
  return undefined;
}
