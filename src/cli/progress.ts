import type { SingleBar } from "cli-progress";

/**
 * A transfer progress bar on stderr when it is a terminal; nothing otherwise (Jobs, pipes, tests).
 * The bar's library loads only then, and draws from the first update after it has loaded: short
 * commands and every non-terminal run start without it.
 */
export function transferProgress(label: string): { update: (bytes: number, total: number) => void; stop: () => void } {
  if (!process.stderr.isTTY) return { update: () => {}, stop: () => {} };
  let bar: SingleBar | undefined;
  let stopped = false;
  void import("cli-progress").then(
    ({ default: cliProgress }) => {
      if (stopped) return;
      bar = new cliProgress.SingleBar(
        {
          stream: process.stderr,
          format: `${label} [{bar}] {percentage}% | {done}/{all} MiB | {speed} MiB/s`,
          hideCursor: true,
          clearOnComplete: true,
        },
        cliProgress.Presets.shades_classic,
      );
    },
    () => {}, // no bar, no harm
  );
  const t0 = Date.now();
  let started = false;
  return {
    update(bytes, total) {
      if (!bar) return;
      const mib = (n: number) => (n / 1048576).toFixed(0);
      const payload = {
        done: mib(bytes),
        all: mib(total),
        speed: (bytes / 1048576 / Math.max(0.001, (Date.now() - t0) / 1000)).toFixed(0),
      };
      if (!started) {
        bar.start(Math.max(total, 1), bytes, payload);
        started = true;
      } else bar.update(bytes, payload);
    },
    stop() {
      stopped = true;
      if (started) bar?.stop();
    },
  };
}
