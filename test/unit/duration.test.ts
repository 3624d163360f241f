import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseDurationMs } from "../../src/duration.js";

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
});
