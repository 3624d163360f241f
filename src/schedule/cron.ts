import { UsageError } from "../errors.js";

/** The CronJob controller's descriptors (robfig/cron): accepted as they are. */
const MACROS = new Set(["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"]);

interface Field {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
}

const FIELDS: readonly Field[] = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  {
    name: "month",
    min: 1,
    max: 12,
    names: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
  },
  { name: "day of week", min: 0, max: 6, names: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] },
];

/**
 * Checks a CronJob schedule the way the CronJob controller parses it (five fields: numbers, `*`,
 * ranges, steps, lists, month and weekday names; or a descriptor such as `@daily`), so a typo is a
 * one-line error here rather than a CronJob that never runs. Returns the expression, trimmed.
 */
export function validateCron(expr: string): string {
  const s = expr.trim().replace(/\s+/g, " ");
  if (MACROS.has(s)) return s;
  if (/^(CRON_)?TZ=/.test(s))
    throw new UsageError(`--cron "${expr}": a time zone goes in --time-zone, not in the expression`);
  const parts = s === "" ? [] : s.split(" ");
  if (parts.length !== 5) {
    throw new UsageError(
      `--cron "${expr}" has ${parts.length} field(s); a schedule has 5: minute hour day-of-month month day-of-week, e.g. "0 */6 * * *"`,
    );
  }
  for (const [i, part] of parts.entries()) {
    const field = FIELDS[i] as Field;
    const why = fieldProblem(part, field);
    if (why) throw new UsageError(`--cron "${expr}": the ${field.name} field "${part}" ${why}`);
  }
  return s;
}

function fieldProblem(part: string, f: Field): string | undefined {
  for (const item of part.split(",")) {
    const m = /^([^/]+)(?:\/(\d+))?$/.exec(item);
    if (!m) return "is not a value, range or step";
    const [, range, step] = m;
    if (step !== undefined && Number(step) < 1) return "has a step of 0";
    if (range === "*" || range === "?") continue;
    const bounds = (range as string).split("-");
    if (bounds.length > 2) return "is not a value, range or step";
    const values = bounds.map((b) => fieldValue(b, f));
    if (values.some((v) => v === undefined)) return `must be ${f.min}-${f.max}${f.names ? " or a name" : ""}`;
    const [lo, hi = lo] = values as number[];
    if ((lo as number) > (hi as number)) return "is a range that runs backwards";
  }
  return undefined;
}

function fieldValue(token: string, f: Field): number | undefined {
  const named = f.names?.indexOf(token.toLowerCase()) ?? -1;
  if (named >= 0) return f.name === "month" ? named + 1 : named;
  if (!/^\d+$/.test(token)) return undefined;
  const n = Number(token);
  return n >= f.min && n <= f.max ? n : undefined;
}
