import { randomBytes } from "node:crypto";
import { UsageError } from "../errors.js";
import { joinKey } from "./store.js";

/**
 * `20261125T130102Z-r12001-3f9a1c`: UTC time, the etcd revision, then 24 random bits. The suffix
 * is what makes two backups of one label started in the same second (a scheduled one overlapping
 * a manual one) land in different folders without a check-then-write race; ids still sort by time.
 */
export function backupId(at: Date, revision: number, suffix: string = randomBytes(3).toString("hex")): string {
  const iso = at
    .toISOString()
    .replace(/\.\d{3}Z$/, "Z")
    .replace(/[-:]/g, "");
  return `${iso}-r${revision}-${suffix}`;
}

// The suffix is optional: ids written before it existed stay valid.
const ID = /^(\d{8}T\d{6}Z)-r(\d+)(?:-([0-9a-f]{6}))?$/;

export function parseBackupId(id: string): { at: Date; revision: number } | undefined {
  const m = ID.exec(id);
  if (!m) return undefined;
  const t = m[1] as string;
  const at = new Date(
    `${t.slice(0, 4)}-${t.slice(4, 6)}-${t.slice(6, 8)}T${t.slice(9, 11)}:${t.slice(11, 13)}:${t.slice(13, 15)}Z`,
  );
  return Number.isNaN(at.getTime()) ? undefined : { at, revision: Number(m[2]) };
}

/** A label names a series of backups: `--name` for plain etcd, `<namespace>/<cluster>` for a hosted cluster. */
export function validateLabel(label: string): string {
  const parts = label.split("/");
  if (label === "" || parts.some((p) => p === "" || p === "." || p === ".." || !/^[A-Za-z0-9._-]+$/.test(p))) {
    throw new UsageError(`invalid backup name "${label}": use letters, digits, '.', '_', '-' (and '/' between parts)`);
  }
  return label;
}

/** The sub-folder of a backup folder that holds a continuous backup's delta segments. */
export const DELTAS_DIR = "deltas";

export function backupFolder(label: string, id: string): string {
  return joinKey(label, id);
}

/** The store root of a backup's folder URL (`<root>/<label>/<id>`), as `backup --to` named it. */
export function storeRootOf(folderUrl: string, label: string, id: string): string {
  const suffix = `/${backupFolder(label, id)}`;
  return folderUrl.endsWith(suffix) ? folderUrl.slice(0, -suffix.length) : folderUrl;
}
