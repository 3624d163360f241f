import { stat } from "node:fs/promises";
import { dirname } from "node:path";
import type { Command } from "commander";
import { UsageError } from "../errors.js";
import type { MetricsReporter } from "../metrics/publish.js";
import { shownEndpoint } from "../redact.js";
import type { CliContext } from "./context.js";

export interface MetricsFlags {
  pushgateway?: string;
  metricsFile?: string;
}

/** What a command reports its results through; a no-op when neither flag was given. */
export type MetricsReport = Pick<
  MetricsReporter,
  "succeeded" | "failed" | "verified" | "segmentCommitted" | "baseCovered" | "publish" | "publishSoon"
>;

export function addMetricsOptions(cmd: Command): Command {
  return cmd
    .option("--pushgateway <url>", "push this run's metrics to a Prometheus Pushgateway (a failed push only warns)")
    .option("--metrics-file <path.prom>", "write this run's metrics into a node-exporter textfile (atomic rename)");
}

const NONE: MetricsReport = {
  succeeded: () => (r) => r,
  failed: () => (err) => {
    throw err;
  },
  verified: () => {},
  segmentCommitted: () => {},
  baseCovered: () => {},
  publish: async () => {},
  publishSoon: async () => {},
};

/**
 * Checks the flags before any work starts (a typo must not wait for the end of a backup); loads
 * prom-client only when used. Publishing problems are logged as one warning (a JSON event with
 * --log-format json).
 */
export async function metricsReport(flags: MetricsFlags, ctx: CliContext): Promise<MetricsReport> {
  const { pushgateway, metricsFile } = flags;
  if (pushgateway === undefined && metricsFile === undefined) return NONE;
  if (pushgateway !== undefined) checkPushgatewayUrl(pushgateway);
  if (metricsFile !== undefined) {
    if (!metricsFile.endsWith(".prom"))
      throw new UsageError(`--metrics-file must end in .prom (node-exporter reads only those), got "${metricsFile}"`);
    const dir = await stat(dirname(metricsFile)).catch(() => undefined);
    if (!dir?.isDirectory())
      throw new UsageError(`--metrics-file ${metricsFile}: the directory ${dirname(metricsFile)} does not exist`);
  }
  const { MetricsReporter } = await import("../metrics/publish.js");
  return new MetricsReporter({ pushgateway, file: metricsFile }, (line) => ctx.logger.warn(line));
}

/**
 * An http(s) URL; with `inline` (it will be written into a CronJob for anyone who can read it) also
 * one without credentials or a query, which would sit there in clear.
 */
export function checkPushgatewayUrl(url: string, options: { inline?: boolean } = {}): void {
  const shown = shownEndpoint(url);
  if (!/^https?:\/\/[^/]+/.test(url))
    throw new UsageError(`--pushgateway must be an http(s) URL like http://pushgateway:9091, got "${shown}"`);
  if (options.inline && (/^[a-z]+:\/\/[^/]*@/i.test(url) || url.includes("?")))
    throw new UsageError(
      `--pushgateway ${shown}: credentials in the URL would be stored in clear in the CronJob; give the Pushgateway its own network policy or an authenticating proxy`,
    );
}
