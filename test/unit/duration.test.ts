import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { durationFlag, PHASE_RANGE, parseDurationMs } from "../../src/duration.js";
import { UsageError } from "../../src/errors.js";

describe("durations in flags", () => {
  it("reads units and compounds", () => {
    assert.equal(parseDurationMs("500ms"), 500);
    assert.equal(parseDurationMs("90s"), 90_000);
    assert.equal(parseDurationMs("1.5h"), 5_400_000);
    assert.equal(parseDurationMs("1h30m"), 5_400_000);
    assert.equal(parseDurationMs(" 7d "), 604_800_000);
  });

  it("is undefined for anything else, never a partial reading", () => {
    for (const bad of ["", "soon", "90", "0", "10 m", "1h30", "h", "-5m", "5mm", "1w"])
      assert.equal(parseDurationMs(bad), undefined, bad);
  });

  it("a flag's value: its range, or one line naming the flag, the examples and what was given", () => {
    assert.equal(durationFlag("--pause-timeout", "30m", "90s, 30m or 1h", PHASE_RANGE), 1_800_000);
    assert.equal(durationFlag("--max-age", "25h", "90m, 25h or 7d"), 90_000_000);
    const refused = (f: () => number, message: string) =>
      assert.throws(f, (e: Error) => e instanceof UsageError && e.message === message);
    refused(
      () => durationFlag("--pause-timeout", "30", "90s, 30m or 1h", PHASE_RANGE),
      '--pause-timeout must be a duration like 90s, 30m or 1h, got "30"',
    );
    refused(
      () => durationFlag("--pause-timeout", "2d", "90s, 30m or 1h", PHASE_RANGE),
      '--pause-timeout must be between 1m and 24h, got "2d"',
    );
    refused(
      () => durationFlag("--max-age", "0s", "90m, 25h or 7d"),
      '--max-age must be a duration like 90m, 25h or 7d, got "0s"',
    );
  });
});
