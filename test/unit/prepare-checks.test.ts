import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { UsageError } from "../../src/errors.js";
import { withoutUrlSecrets } from "../../src/redact.js";
import { DEFAULT_EXPIRY_SECONDS, parseExpiry } from "../../src/restore/prepare/expiry.js";
import { MAX_URL_LENGTH, operatorTrapChecks, urlChecks } from "../../src/restore/prepare/offline-checks.js";
import { neededPvGi, planPvSize, quantityBytes } from "../../src/restore/prepare/pv-size.js";
import type { RenderedHostedCluster } from "../../src/restore/prepare/rendered.js";
import { releaseMinor, trapsFor } from "../../src/restore/prepare/traps.js";
import { openStore } from "../../src/store/open-store.js";
import type { S3Store } from "../../src/store/s3-store.js";

const GI = 1024 ** 3;

describe("restore prepare: expiry, PV size, URL and operator-version checks", () => {
  it("--expires: durations up to 7 days; over 7 days, too short or not a duration is one line", () => {
    assert.equal(parseExpiry(undefined), DEFAULT_EXPIRY_SECONDS);
    assert.equal(DEFAULT_EXPIRY_SECONDS, 86400);
    assert.equal(parseExpiry("24h"), 86400);
    assert.equal(parseExpiry("90m"), 5400);
    assert.equal(parseExpiry("1d12h"), 129600);
    assert.equal(parseExpiry("7d"), 604800);
    assert.equal(parseExpiry("3600s"), 3600);
    const refused = (text: string, pattern: RegExp) =>
      assert.throws(
        () => parseExpiry(text),
        (e: Error) => e instanceof UsageError && pattern.test(e.message) && !e.message.includes("\n"),
      );
    refused("8d", /over 7 days/);
    refused("604801s", /over 7 days/);
    refused("24", /not a duration/);
    refused("10s", /too short/);
    refused("tomorrow", /not a duration/);
    refused("24h30", /not a duration/);
  });

  it("PV size: the database plus headroom, in whole Gi; never smaller than rendered", () => {
    assert.equal(quantityBytes("8Gi"), 8 * GI);
    assert.equal(quantityBytes("500Mi"), 500 * 1024 ** 2);
    assert.equal(quantityBytes("10G"), 10e9);
    assert.equal(quantityBytes("1.5Gi"), 1.5 * GI);
    assert.throws(() => quantityBytes("eight"), /not a Kubernetes quantity/);
    assert.equal(neededPvGi(100 * 1024 ** 2), 2, "a small database still gets 1 GiB of room");
    assert.equal(neededPvGi(6 * GI), 9, "6 GiB + half of it");
    assert.deepEqual(planPvSize("8Gi", 100 * 1024 ** 2), { rendered: "8Gi", size: "8Gi", neededGi: 2, raised: false });
    assert.deepEqual(planPvSize("4Gi", 6 * GI), { rendered: "4Gi", size: "9Gi", neededGi: 9, raised: true });
    assert.deepEqual(planPvSize("20Gi", 6 * GI).size, "20Gi", "a larger PV is never shrunk");
    assert.deepEqual(planPvSize(undefined, 7 * GI), { rendered: "8Gi", size: "11Gi", neededGi: 11, raised: true });
  });

  it("URL checks: over 1024 characters blocks, http blocks, session credentials that end first warn", () => {
    const base = {
      scheme: "https:",
      expiresInSeconds: 86400,
      expiresAt: new Date("2026-12-02T00:00:00Z"),
      credentials: { temporary: false },
    };
    const byId = (checks: ReturnType<typeof urlChecks>) => Object.fromEntries(checks.map((c) => [c.id, c]));
    assert.equal(byId(urlChecks({ ...base, length: MAX_URL_LENGTH }))["url-length"]?.status, "pass");
    const long = byId(urlChecks({ ...base, length: 1400 }))["url-length"];
    assert.equal(long?.status, "block");
    assert.match(long?.reason ?? "", /1400 characters, over the 1024/);
    assert.equal(byId(urlChecks({ ...base, length: 500, scheme: "http:" }))["url-scheme"]?.status, "block");
    const ending = byId(
      urlChecks({
        ...base,
        length: 500,
        credentials: { temporary: true, expiration: new Date("2026-12-01T01:00:00Z") },
      }),
    )["session-credentials"];
    assert.equal(ending?.status, "warn");
    assert.match(ending?.reason ?? "", /expire at 2026-12-01T01:00:00.000Z/);
    assert.equal(
      byId(urlChecks({ ...base, length: 500, credentials: { temporary: true } }))["session-credentials"]?.status,
      "warn",
    );
    assert.equal(
      byId(
        urlChecks({
          ...base,
          length: 500,
          credentials: { temporary: true, expiration: new Date("2027-01-01T00:00:00Z") },
        }),
      )["session-credentials"]?.status,
      "pass",
    );
  });

  it("operator-version traps are data: by release and availability policy", () => {
    assert.equal(releaseMinor("quay.io/openshift-release-dev/ocp-release:4.18.12-multi"), "4.18");
    assert.equal(releaseMinor("quay.io/openshift-release-dev/ocp-release:4.21.0-x86_64"), "4.21");
    assert.equal(releaseMinor("registry.example.com:5000/ocp/release@sha256:0123"), undefined);
    assert.equal(releaseMinor(undefined), undefined);
    const ids = (release: string | undefined, policy: "HighlyAvailable" | "SingleReplica") =>
      trapsFor(release, policy).applies.map((t) => t.id);
    assert.deepEqual(ids("4.18", "SingleReplica"), ["restore-in-place"]);
    assert.deepEqual(ids("4.21", "HighlyAvailable"), ["etcdctl-restore-removed", "restore-in-place", "ha-split-brain"]);
    assert.deepEqual(ids("4.22", "SingleReplica"), []);
    assert.deepEqual(ids("4.12", "SingleReplica"), ["url-per-replica", "restore-in-place"]);
    const hc = (releaseImage: string | undefined, availabilityPolicy: RenderedHostedCluster["availabilityPolicy"]) =>
      ({ releaseImage, availabilityPolicy }) as RenderedHostedCluster;
    const old = operatorTrapChecks(hc("quay.io/openshift-release-dev/ocp-release:4.12.9-x86_64", "SingleReplica"));
    assert.equal(old.find((c) => c.id === "trap-url-per-replica")?.status, "block");
    const unknown = operatorTrapChecks(hc(undefined, "HighlyAvailable"));
    assert.equal(unknown.find((c) => c.id === "trap-ha-split-brain")?.status, "warn");
    assert.match(unknown.find((c) => c.id === "operator-version")?.reason ?? "", /cannot rule out url-per-replica/);
  });

  it("an STS session token rides in the URL: it pushes it past 1024 characters and the credentials' end cuts its life", async () => {
    // A session token as long as STS issues for an assumed role (they run to several hundred characters).
    const sessionToken = `IQoJb3JpZ2luX2VjE${"Abc0".repeat(220)}`;
    const signed = (credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }) =>
      openStore("s3://backups/clusters/example/20261130T120000Z-r42-abcdef", {
        region: "us-east-1",
        credentials,
      }) as S3Store;
    const longTerm = signed({ accessKeyId: "AKIAEXAMPLE", secretAccessKey: "secret" });
    const session = signed({ accessKeyId: "ASIAEXAMPLE", secretAccessKey: "secret", sessionToken });
    const plainUrl = await longTerm.presignGet("snapshot.db", 86400);
    const sessionUrl = await session.presignGet("snapshot.db", 86400);
    assert.ok(plainUrl.length <= MAX_URL_LENGTH, `${plainUrl.length}`);
    assert.ok(sessionUrl.includes("X-Amz-Security-Token="));
    assert.deepEqual(await longTerm.signingCredentials(), { temporary: false, expiration: undefined });
    const creds = await session.signingCredentials();
    assert.equal(creds.temporary, true);
    const checks = urlChecks({
      length: sessionUrl.length,
      scheme: new URL(sessionUrl).protocol,
      expiresInSeconds: 86400,
      expiresAt: new Date(Date.now() + 86400_000),
      credentials: creds,
    });
    assert.deepEqual(
      checks.map((c) => [c.id, c.status]),
      [
        ["url-length", "block"],
        ["url-scheme", "pass"],
        ["url-expiry", "pass"],
        ["session-credentials", "warn"],
      ],
    );
  });

  it("a message that quotes a presigned URL loses its signature and session token (the credential scope stays: it names the key that signed)", () => {
    const url =
      "https://s3.example.com/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20261130%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Security-Token=IQo%2Babc&X-Amz-Signature=deadbeef";
    const masked = withoutUrlSecrets(`spec.etcd.managed.storage.restoreSnapshotURL[0]: Invalid value: "${url}": bad`);
    assert.ok(!/deadbeef|IQo/.test(masked), masked);
    assert.match(masked, /X-Amz-Signature=\*\*\*"/);
    assert.match(masked, /X-Amz-Algorithm=AWS4-HMAC-SHA256/);
  });
});
