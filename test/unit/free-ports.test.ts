import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { it } from "node:test";
import { freePorts } from "../../src/localetcd/ports.js";

// Outgoing connections take their source ports from this range: a port found free there is soon taken.
const ephemeralLow = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);

it("freePorts picks distinct ports below the ephemeral range, each one bindable", async () => {
  const ports = await freePorts(12);
  assert.equal(new Set(ports).size, 12, `distinct: ${ports}`);
  for (const p of ports) assert.ok(p >= 1024 && p < ephemeralLow, `${p} is below ${ephemeralLow}`);
  const held: Server[] = [];
  try {
    for (const p of ports) held.push(await listen(p));
  } finally {
    await Promise.all(held.map((s) => new Promise((r) => s.close(r))));
  }
});

it("freePorts never hands out a port that is listened on", async () => {
  const taken = await Promise.all((await freePorts(20)).map(listen));
  try {
    const busy = new Set(taken.map((s) => (s.address() as { port: number }).port));
    for (let i = 0; i < 5; i++) for (const p of await freePorts(20)) assert.ok(!busy.has(p), `${p} is listened on`);
  } finally {
    await Promise.all(taken.map((s) => new Promise((r) => s.close(r))));
  }
});

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen({ port, host: "127.0.0.1", exclusive: true }, () => resolve(srv));
  });
}
