import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:net";

/**
 * `n` distinct TCP ports on 127.0.0.1, free now (held open together, then released).
 *
 * They come from below the kernel's ephemeral range when it leaves room there: the kernel takes
 * every outgoing connection's source port from that range, so on a machine with many connections a
 * port `listen(0)` handed out is soon someone's source port again, and a server that binds it
 * seconds later (etcd on restored data) finds it taken. Below the range only another explicit bind
 * can take it. Elsewhere (no /proc, a range that starts low) the kernel chooses.
 */
export async function freePorts(n: number): Promise<number[]> {
  const range = quietRange();
  const servers = range ? await probeRange(n, range) : await Promise.all(Array.from({ length: n }, () => listenOn(0)));
  const ports = servers.map(portOf);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** Where we pick ports: [QUIET_LOW, first ephemeral port), if that is wide enough. */
const QUIET_LOW = 20_000;
const QUIET_MIN_WIDTH = 2_000;

function quietRange(): { low: number; high: number } | undefined {
  let text: string;
  try {
    text = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8");
  } catch {
    return undefined;
  }
  const first = Number(text.trim().split(/\s+/)[0]);
  if (!Number.isInteger(first) || first - QUIET_LOW < QUIET_MIN_WIDTH) return undefined;
  return { low: QUIET_LOW, high: first - 1 };
}

async function probeRange(n: number, range: { low: number; high: number }): Promise<Server[]> {
  const held: Server[] = [];
  const tried = new Set<number>();
  try {
    // Random picks: concurrent callers (other tests, other users' demos) rarely choose alike.
    for (let tries = 0; held.length < n && tries < 100 * n; tries++) {
      const port = range.low + Math.floor(Math.random() * (range.high - range.low + 1));
      if (tried.has(port)) continue;
      tried.add(port);
      const srv = await listenOn(port).catch(() => undefined);
      if (srv) held.push(srv);
    }
    // A crowded range: let the kernel choose the rest.
    while (held.length < n) held.push(await listenOn(0));
    return held;
  } catch (err) {
    await Promise.all(held.map((s) => new Promise((r) => s.close(r))));
    throw err;
  }
}

function listenOn(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen({ port, host: "127.0.0.1", exclusive: true }, () => resolve(srv));
  });
}

function portOf(s: Server): number {
  const addr = s.address();
  if (addr === null || typeof addr === "string") throw new Error("unexpected listen address");
  return addr.port;
}
