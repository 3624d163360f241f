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
  // A valid expression can still name a day that never comes (30 February): the CronJob would be
  // accepted and never run, and only the stale-backup alert would say so, a day later.
  if (longestGapDays(s) === undefined)
    throw new UsageError(
      `--cron "${expr}" never fires: none of its months has that day of month (such as 30 February); use days every month has (1-28), e.g. "0 0 1 * *"`,
    );
  return s;
}

/** Longer gaps than this between runs are called rare: the stale-backup alert expects a backup a day. */
const RARE_AFTER_DAYS = 31;

/**
 * A warning for a schedule (as validateCron returned it) that fires rarely: more than a month can pass
 * between two runs (yearly, on 29 February, a weekday of one month...). Undefined when it fires often enough.
 */
export function cronRarityWarning(cron: string): string | undefined {
  const gap = longestGapDays(cron);
  if (gap === undefined || gap <= RARE_AFTER_DAYS) return undefined;
  const span = gap >= 730 ? `${Math.round(gap / 365)} years` : `${gap} days`;
  return `--cron "${cron}" fires rarely: up to ${span} pass between two backups (the stale-backup alert fires after 25 h)`;
}

const DESCRIPTOR_GAP_DAYS: Readonly<Record<string, number>> = {
  "@yearly": 366,
  "@annually": 366,
  "@monthly": 31,
  "@weekly": 7,
  "@daily": 1,
  "@midnight": 1,
  "@hourly": 1,
};

/** Days in the Gregorian calendar's full cycle: every weekday, month and leap-day combination occurs. */
const CYCLE_DAYS = 146097;

/**
 * The longest run of days without a firing day, over a whole 400-year cycle and counting the wrap to
 * the next cycle; undefined when no day fires. Hours and minutes only ever add firings within a day
 * (each field has a value once valid), so days decide.
 */
function longestGapDays(cron: string): number | undefined {
  const descriptor = DESCRIPTOR_GAP_DAYS[cron];
  if (descriptor !== undefined) return descriptor;
  const [, , domPart, monthPart, dowPart] = cron.split(" ") as [string, string, string, string, string];
  const dom = fieldSet(domPart, FIELDS[2] as Field);
  const month = fieldSet(monthPart, FIELDS[3] as Field);
  const dow = fieldSet(dowPart, FIELDS[4] as Field);
  const start = Date.UTC(2000, 0, 1);
  let first: number | undefined;
  let last: number | undefined;
  let longest = 0;
  for (let day = 0; day < CYCLE_DAYS; day++) {
    const d = new Date(start + day * 86_400_000);
    if (!month.values.has(d.getUTCMonth() + 1)) continue;
    const domHit = dom.values.has(d.getUTCDate());
    const dowHit = dow.values.has(d.getUTCDay());
    // robfig/cron (the CronJob controller): with both day fields restricted either may match;
    // a field written as * (or ?) without a step leaves the other to decide.
    const fires = dom.star || dow.star ? domHit && dowHit : domHit || dowHit;
    if (!fires) continue;
    if (last !== undefined) longest = Math.max(longest, day - last);
    first ??= day;
    last = day;
  }
  if (first === undefined || last === undefined) return undefined;
  return Math.max(longest, first + CYCLE_DAYS - last);
}

function fieldSet(part: string, f: Field): { values: Set<number>; star: boolean } {
  const values = new Set<number>();
  let star = false;
  for (const item of part.split(",")) {
    const [range = "", stepText] = item.split("/");
    const step = stepText === undefined ? 1 : Number(stepText);
    let lo = f.min;
    let hi = f.max;
    if (range === "*" || range === "?") {
      if (step === 1) star = true;
    } else {
      const [a = "", b] = range.split("-");
      lo = fieldValue(a, f) as number;
      hi = b === undefined ? (stepText === undefined ? lo : f.max) : (fieldValue(b, f) as number);
    }
    for (let v = lo; v <= hi; v += step) values.add(v);
  }
  return { values, star };
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
