import { Writable } from "node:stream";
import { type Level, type Logger, pino } from "pino";

export type { Logger };
export type LogFormat = "text" | "json";
export const LOG_LEVELS = ["silent", "error", "warn", "info", "debug"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Field names whose values are never written, whatever logs them: the library logs facts
 * (endpoints, sizes, revisions, durations), but a careless field must not leak a secret.
 */
const REDACT = [
  "password",
  "*.password",
  "token",
  "*.token",
  "secretAccessKey",
  "*.secretAccessKey",
  "sessionToken",
  "*.sessionToken",
  "authorization",
  "*.authorization",
  "key",
  "*.key",
  "url",
  "*.url",
];

/** What the library logs into when the caller gives it nothing. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}

/**
 * The CLI's logger: one JSON object a line (for Jobs and log collectors) or a short text line,
 * on `stream` (stderr: stdout holds results only).
 */
export function createLogger(options: { format: LogFormat; level: LogLevel; stream?: NodeJS.WritableStream }): Logger {
  const settings = {
    level: options.level,
    base: { pid: process.pid },
    redact: { paths: REDACT, censor: "[redacted]" },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  // Synchronous writes to fd 2: the last lines before a signal's exit are not lost.
  if (options.format === "json") return pino(settings, options.stream ?? pino.destination({ dest: 2, sync: true }));
  return pino(settings, textStream(options.stream ?? process.stderr));
}

const LEVEL_NAMES: Record<number, Level> = {
  10: "trace",
  20: "debug",
  30: "info",
  40: "warn",
  50: "error",
  60: "fatal",
};

/** `12:01:02.345 info  snapshot verified member=member-0 bytes=41943072` */
function textStream(out: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString("utf8").split("\n")) {
        if (line === "") continue;
        let record: Record<string, unknown>;
        try {
          record = JSON.parse(line) as Record<string, unknown>;
        } catch {
          out.write(`${line}\n`);
          continue;
        }
        const { time, level, msg, pid: _pid, ...fields } = record;
        const clock = typeof time === "string" ? time.slice(11, 23) : "";
        const name = LEVEL_NAMES[level as number] ?? String(level);
        const rest = Object.entries(fields)
          .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
          .join(" ");
        out.write(`${clock} ${name.padEnd(5)} ${String(msg ?? "")}${rest ? ` ${rest}` : ""}\n`);
      }
      done();
    },
  });
}
