import { randomBytes } from "node:crypto";
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { BackupMetrics, METRIC_FAMILIES, type MetricFamily } from "./backup-metrics.js";

const FAMILY_BY_NAME = new Map(
  (Object.entries(METRIC_FAMILIES) as Array<[MetricFamily, { name: string }]>).map(([f, d]) => [d.name, f]),
);
// One sample line as prom-client writes ours: name{cluster="...",store="..."} value
const SAMPLE = /^([a-z_]+)\{(.*)\} (\S+)$/;
const LABEL = /([a-z_]+)="((?:[^"\\]|\\.)*)"/g;

const unescapeValue = (v: string) => v.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));

/**
 * Our series in a textfile an earlier run wrote (the file is ours: other lines are dropped). A run
 * that failed carries only its failure time; reading the previous file back keeps the last success
 * beside it, as a Pushgateway POST keeps a group's other families.
 */
export function parseTextfile(text: string): BackupMetrics {
  const metrics = new BackupMetrics();
  for (const line of text.split("\n")) {
    const m = SAMPLE.exec(line);
    if (!m) continue;
    const family = FAMILY_BY_NAME.get(m[1] as string);
    const value = Number(m[3]);
    if (!family || !Number.isFinite(value)) continue;
    const labels = new Map([...(m[2] as string).matchAll(LABEL)].map((l) => [l[1], unescapeValue(l[2] as string)]));
    const cluster = labels.get("cluster");
    const store = labels.get("store");
    if (cluster !== undefined && store !== undefined) metrics.restore({ cluster, store }, family, value);
  }
  return metrics;
}

/**
 * Writes the run's series into a node-exporter textfile, merged over the file's previous content:
 * a temp file beside it (the collector reads `*.prom` only), then a rename, so the collector never
 * reads half a file. Two runs that share one file race (the last rename wins): one file per Job.
 */
export async function writeTextfile(path: string, run: BackupMetrics): Promise<void> {
  let previous = "";
  try {
    previous = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const merged = parseTextfile(previous);
  merged.absorb(run);
  const text = await merged.registry().metrics();
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    // Metrics hold labels and numbers only (no secrets): readable by a node-exporter running as another user.
    await writeFile(temp, text, { mode: 0o644, flag: "wx" });
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}
