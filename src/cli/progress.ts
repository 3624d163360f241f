import cliProgress from "cli-progress";

/** A transfer progress bar on stderr when it is a terminal; nothing otherwise (Jobs, pipes, tests). */
export function transferProgress(label: string): { update: (bytes: number, total: number) => void; stop: () => void } {
  if (!process.stderr.isTTY) return { update: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label} [{bar}] {percentage}% | {done}/{all} MiB | {speed} MiB/s`,
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  const t0 = Date.now();
  let started = false;
  return {
    update(bytes, total) {
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
      if (started) bar.stop();
    },
  };
}
