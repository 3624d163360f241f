import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const preload = fileURLToPath(new URL("../support/strict-process.ts", import.meta.url));

describe("the test preload scrubs the caller's environment", () => {
  it("AWS_*, KUBECONFIG, in-cluster and proxy variables are gone and TZ is UTC, whatever the caller set", () => {
    const hostile = {
      ...process.env,
      AWS_ENDPOINT_URL: "http://s3.example.invalid",
      AWS_REGION: "eu-north-1",
      AWS_PROFILE: "prod",
      KUBECONFIG: "/nonexistent/kubeconfig",
      KUBERNETES_SERVICE_HOST: "10.0.0.1",
      HTTPS_PROXY: "http://proxy.invalid:3128",
      http_proxy: "http://proxy.invalid:3128",
      NO_PROXY: "*",
      TZ: "Pacific/Kiritimati",
    };
    // What a test file would see: the same preload the Makefile and `node --test` use.
    const out = execFileSync(
      process.execPath,
      [
        "--import",
        "tsx",
        "--import",
        preload,
        "--input-type=module",
        "-e",
        "console.log(JSON.stringify({ env: process.env, hour: new Date(0).getHours() }))",
      ],
      { env: hostile, encoding: "utf8" },
    );
    const seen = JSON.parse(out) as { env: Record<string, string>; hour: number };
    const leaked = Object.keys(seen.env).filter((k) => /^(AWS_|KUBE|https?_proxy$|no_proxy$)/i.test(k));
    assert.deepEqual(leaked, []);
    assert.equal(seen.env.TZ, "UTC");
    assert.equal(seen.hour, 0, "dates are read in UTC (Kiritimati is UTC+14)");
  });
});
