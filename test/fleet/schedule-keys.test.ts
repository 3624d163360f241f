// `schedule <cluster> --kubeconfig` grants what the backup reads: every key Secret the HostedCluster's
// spec.secretEncryption names (active and backup key), read from the simulator, not assumed.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { generateIdentity, identityToRecipient } from "age-encryption";
import yaml from "js-yaml";
import { resourceByKind } from "../../src/kubesim/resources.js";
import { KubeSim } from "../../src/kubesim/simulator.js";
import { runCli } from "../support/cli.js";
import { EtcdCluster } from "../support/etcd-cluster.js";

describe("schedule reads the HostedCluster's key Secrets whenever a kubeconfig is given", () => {
  let etcd: EtcdCluster;
  let sim: KubeSim;
  let kubeconfig: string;
  before(async () => {
    etcd = await EtcdCluster.start({ members: 1 });
    sim = await KubeSim.start(etcd);
    kubeconfig = await sim.kubeconfig();
  });
  after(async () => {
    await sim?.stop();
    await etcd?.stop();
  });

  it("the rendered Role grants the active and the backup key Secret (no --apply)", async () => {
    const rt = resourceByKind("HostedCluster");
    const hc = structuredClone(sim.store.mustGet(rt, "clusters", "example"));
    const aescbc = (hc.spec as { secretEncryption: { aescbc: Record<string, unknown> } }).secretEncryption.aescbc;
    aescbc.backupKey = { name: "example-etcd-encryption-key-backup" };
    sim.store.update(rt, hc);
    const recipient = await identityToRecipient(await generateIdentity());
    const r = await runCli([
      "schedule",
      "example",
      "-n",
      "clusters",
      "--to",
      "s3://bucket/backups",
      "--cron",
      "@daily",
      "--key-recipient",
      recipient,
      "--kubeconfig",
      kubeconfig,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /read no cluster/);
    const docs = yaml.loadAll(r.stdout) as Array<{
      kind: string;
      metadata: { namespace?: string };
      rules?: Array<{ resources: string[]; resourceNames?: string[] }>;
    }>;
    const granted = docs
      .filter((d) => d.kind === "Role")
      .flatMap((d) => d.rules ?? [])
      .filter((rule) => rule.resources.includes("secrets"))
      .flatMap((rule) => rule.resourceNames ?? []);
    assert.ok(granted.includes("example-etcd-encryption-key"), granted.join(", "));
    assert.ok(granted.includes("example-etcd-encryption-key-backup"), granted.join(", "));
    // In the control-plane namespace: the EncryptionConfiguration, for keys a rotation in progress reads.
    const cpGranted = docs
      .filter((d) => d.kind === "Role" && d.metadata.namespace === "clusters-example")
      .flatMap((d) => d.rules ?? [])
      .filter((rule) => rule.resources.includes("secrets"))
      .flatMap((rule) => rule.resourceNames ?? []);
    assert.deepEqual(cpGranted.sort(), ["etcd-client-tls", "kas-secret-encryption-config"]);
  });
});
