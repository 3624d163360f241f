import type { SnapshotStatus, StatusCompat } from "./status.js";

export type StatusFormat = "simple" | "table" | "json" | "fields";

/** Go's `%.0f`: rounds exact halves to even (126.5 -> 126), unlike `toFixed`. */
function goRound0(v: number): string {
  const floor = Math.floor(v);
  const diff = v - floor;
  if (diff === 0.5) return String(floor % 2 === 0 ? floor : floor + 1);
  return v.toFixed(0);
}

/** dustin/go-humanize `Bytes`: SI units, as etcdctl prints sizes. */
export function humanizeBytes(size: number): string {
  const units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
  if (size < 10) return `${size} B`;
  const e = Math.floor(Math.log(size) / Math.log(1000));
  const unit = units[e] as string;
  const val = Math.floor((size / 1000 ** e) * 10 + 0.5) / 10;
  return val < 10 ? `${val.toFixed(1)} ${unit}` : `${goRound0(val)} ${unit}`;
}

function cells(s: SnapshotStatus, compat: StatusCompat): { header: string[]; row: string[] } {
  const header = ["hash", "revision", "total keys", "total size"];
  const row = [s.hash.toString(16), s.revision.toString(), String(s.totalKey), humanizeBytes(s.totalSize)];
  if (compat === "3.6") {
    header.push("version");
    row.push(s.version ?? "");
  }
  return { header, row };
}

/** olekukonko/tablewriter as etcd configures it: centred upper-case header, right-aligned cells. */
function renderTable(header: string[], row: string[]): string {
  const widths = header.map((h, i) => Math.max(h.length, (row[i] ?? "").length));
  const border = `+${widths.map((w) => "-".repeat(w + 2)).join("+")}+\n`;
  const head = header
    .map((h, i) => {
      const w = widths[i] as number;
      const gap = w - h.length;
      const left = Math.floor(gap / 2);
      return ` ${" ".repeat(left)}${h.toUpperCase()}${" ".repeat(gap - left)} `;
    })
    .join("|");
  const body = row.map((c, i) => ` ${c.padStart(widths[i] as number)} `).join("|");
  return `${border}|${head}|\n${border}|${body}|\n${border}`;
}

/** Byte-for-byte what etcdctl (3.4/3.5) or etcdutl (3.6) prints for `snapshot status -w <format>`. */
export function formatStatus(s: SnapshotStatus, format: StatusFormat, compat: StatusCompat): string {
  switch (format) {
    case "json": {
      const version = compat === "3.6" ? `,"version":${JSON.stringify(s.version ?? "")}` : "";
      return `{"hash":${s.hash},"revision":${s.revision},"totalKey":${s.totalKey},"totalSize":${s.totalSize}${version}}\n`;
    }
    case "fields": {
      const lines = [
        `"Hash" : ${s.hash}`,
        `"Revision" : ${s.revision}`,
        `"Keys" : ${s.totalKey}`,
        `"Size" : ${s.totalSize}`,
      ];
      if (compat === "3.6") lines.push(`"Version" : ${s.version ?? ""}`);
      return `${lines.join("\n")}\n`;
    }
    case "simple":
      return `${cells(s, compat).row.join(", ")}\n`;
    case "table": {
      const { header, row } = cells(s, compat);
      return renderTable(header, row);
    }
  }
}
