/** JSON for scripts: bigints become numbers when exact, strings otherwise (lease and member IDs). */
export function toJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_k, v: unknown) => {
      if (typeof v === "bigint")
        return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
      if (Buffer.isBuffer(v)) return v.toString("latin1");
      if (v && typeof v === "object" && (v as { type?: string }).type === "Buffer") return undefined;
      return v;
    },
    2,
  );
}

export function write(text: string): void {
  process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
}
