import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { UsageError } from "../../src/errors.js";
import { cronRarityWarning, validateCron } from "../../src/schedule/cron.js";

describe("validateCron: the CronJob controller's five fields, checked at the edge", () => {
  it("accepts what the controller accepts, normalising whitespace", () => {
    for (const ok of [
      "0 */6 * * *",
      "*/15 * * * *",
      "30 2 * * 1-5",
      "0 0 1,15 * *",
      "5 4 * jan-mar sun",
      "0 22 ? * MON",
      "0 0-23/2 * * *",
      "@daily",
      "@hourly",
    ])
      assert.equal(validateCron(ok), ok);
    assert.equal(validateCron("  0   3 * * *  "), "0 3 * * *");
  });

  it("refuses anything else with one line that names the field", () => {
    const cases: Array<[string, RegExp]> = [
      ["* * * *", /has 4 field\(s\); a schedule has 5/],
      ["0 0 * * * *", /has 6 field\(s\)/],
      ["", /has 0 field\(s\)/],
      ["60 * * * *", /the minute field "60" must be 0-59/],
      ["0 24 * * *", /the hour field "24" must be 0-23/],
      ["0 0 0 * *", /the day of month field "0" must be 1-31/],
      ["0 0 * 13 *", /the month field "13" must be 1-12 or a name/],
      ["0 0 * * 7", /the day of week field "7" must be 0-6 or a name/],
      ["*/0 * * * *", /has a step of 0/],
      ["0 5-2 * * *", /runs backwards/],
      ["0 0 * * funday", /day of week field "funday"/],
      ["CRON_TZ=UTC 0 0 * * *", /--time-zone/],
      ["@every 5m", /has 2 field\(s\)/],
    ];
    for (const [expr, message] of cases) {
      assert.throws(
        () => validateCron(expr),
        (err: unknown) => err instanceof UsageError && message.test(err.message) && !err.message.includes("\n"),
        expr,
      );
    }
  });
});

describe("a schedule that never or rarely fires", () => {
  it("refuses a day that no month it names has, as a usage error", () => {
    for (const expr of ["0 0 31 2 *", "0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 30-31 feb *"])
      assert.throws(
        () => validateCron(expr),
        (err: unknown) => err instanceof UsageError && /never fires/.test(err.message) && !err.message.includes("\n"),
        expr,
      );
  });

  it("accepts a day that exists in some month or leap year, or a weekday that rescues it", () => {
    // 29 February comes every 4 years; with both day fields restricted, the controller fires on either.
    for (const expr of ["0 0 29 2 *", "0 0 31 * *", "0 0 31 2 1", "0 0 30 1-3 *"])
      assert.equal(validateCron(expr), expr);
  });

  it("warns when more than a month can pass between runs, and only then", () => {
    const rare: Array<[string, RegExp]> = [
      ["0 0 29 2 *", /up to \d+ years pass/],
      ["@yearly", /up to 366 days/],
      ["0 0 1 1 *", /up to 36[56] days/],
      ["0 3 * 1,7 mon", /fires rarely/],
      ["0 0 1 */3 *", /up to 9[12] days/],
      // The 31st skips February and every 30-day month: 61 days from 31 March to 31 May.
      ["0 0 31 * *", /up to 61 days/],
    ];
    for (const [expr, message] of rare) {
      const warning = cronRarityWarning(validateCron(expr));
      assert.ok(warning !== undefined && message.test(warning), `${expr}: ${warning}`);
    }
    for (const often of ["0 */6 * * *", "0 0 1 * *", "0 0 28 * *", "30 1 * * sun", "@monthly", "@daily", "0 0 15 * 5"])
      assert.equal(cronRarityWarning(validateCron(often)), undefined, often);
  });
});
