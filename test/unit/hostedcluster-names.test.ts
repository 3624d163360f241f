import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { aescbcKeyName, keyFingerprint } from "../../src/hostedcluster/encryption-key.js";
import { etcdServerName, etcdServiceUrl, hcpNamespace } from "../../src/hostedcluster/names.js";
import { pauseDeadline, pauseState } from "../../src/hostedcluster/pause.js";

describe("hosted-cluster facts", () => {
  it("derives the HCP namespace as HyperShift does (dots in the name become dashes)", () => {
    assert.equal(hcpNamespace("clusters", "example"), "clusters-example");
    assert.equal(hcpNamespace("clusters", "my.cluster.v2"), "clusters-my-cluster-v2");
    assert.equal(etcdServiceUrl("clusters-example"), "https://etcd-client.clusters-example.svc:2379");
    assert.equal(etcdServerName("clusters-example"), "etcd-client.clusters-example.svc");
  });

  it("reads pausedUntil as HyperShift does", () => {
    const now = new Date("2026-11-30T12:00:00Z");
    assert.deepEqual(pauseState(undefined, now), { kind: "none", paused: false });
    assert.deepEqual(pauseState(null, now), { kind: "none", paused: false });
    for (const v of ["true", "True", "TRUE", "t", "1"]) assert.equal(pauseState(v, now).paused, true, v);
    for (const v of ["false", "False", "0"]) assert.equal(pauseState(v, now).paused, false, v);
    assert.equal(pauseState("2026-11-30T12:30:00Z", now).paused, true);
    assert.equal(pauseState("2026-11-30T13:30:00+02:00", now).paused, false, "11:30 UTC is past");
    assert.equal(pauseState("2026-11-30T11:59:59Z", now).paused, false);
    // Passes the CRD's CEL regex, fails RFC3339 parsing: HyperShift treats it as not paused.
    assert.deepEqual(pauseState("2026-12-01T00:00:00", now), {
      kind: "invalid",
      paused: false,
      value: "2026-12-01T00:00:00",
    });
    assert.equal(pauseState("yes", now).kind, "invalid");
  });

  it("pauses with an RFC3339 deadline in UTC, whole seconds, within the CRD's 35 characters", () => {
    const now = new Date("2026-11-30T12:00:00.250Z");
    const d = pauseDeadline(now, 30 * 60_000);
    assert.equal(d, "2026-11-30T12:30:01Z");
    assert.ok(d.length >= 4 && d.length <= 35);
    assert.equal(pauseState(d, now).paused, true);
    assert.equal(pauseState(d, new Date("2026-11-30T12:30:01Z")).paused, false, "resumes by itself at the deadline");
  });

  it("names an aescbc key as kube-apiserver's EncryptionConfiguration does (FNV-1 32, decimal)", () => {
    // FNV-1 32-bit reference values: "" is the offset basis; "a" = 0x050c5d7e (FNV-1a would give 0xe40c292c).
    assert.equal(aescbcKeyName(Buffer.alloc(0)), `key-${0x811c9dc5}`);
    assert.equal(aescbcKeyName(Buffer.from("a")), `key-${0x050c5d7e}`);
    assert.equal(aescbcKeyName(Buffer.from("foobar")), `key-${0x31f0b262}`);
    assert.equal(
      keyFingerprint(Buffer.from("abc")),
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
  });
});
