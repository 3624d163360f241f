import { UsageError } from "../errors.js";
import { joinKey } from "./store.js";

/** `20261125T130102Z-r12001`: UTC time, then the etcd revision; sorts by time. */
export function backupId(at: Date, revision: number): string {
  const iso = at
    .toISOString()
    .replace(/\.\d{3}Z$/, "Z")
    .replace(/[-:]/g, "");
  return `${iso}-r${revision}`;
}

const ID = /^(\d{8}T\d{6}Z)-r(\d+)$/;

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

export function backupFolder(label: string, id: string): string {
  return joinKey(label, id);
}
