const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * A duration as people type it in flags — `90s`, `30m`, `1h30m`, `7d`, `500ms` — in milliseconds;
 * undefined when it is not one. A bare number is not one: `--max-age 25` meant as hours would raise
 * false alarms, `--active-deadline 90` meant as minutes would kill every Job. What range a flag
 * accepts, and how it says so, is the flag's own business.
 */
export function parseDurationMs(text: string): number | undefined {
  const t = text.trim();
  const parts = [...t.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== t) return undefined;
  return parts.reduce((sum, [, n, unit]) => sum + Number(n) * UNIT_MS[unit as keyof typeof UNIT_MS], 0);
}
