import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { AGENT_BIN, freePort, login, ROOT, startMaster, stopChild, tempDir } from './lib/processes.js';
import { percentile, round } from './stats.js';

const SERVER = path.join(ROOT, 'test', 'fixtures', 'web-service', 'server.mjs');
const BYTES = 100_000_000;

/** Downloads `url` to the end, counting bytes; milliseconds it took. */
async function download(url: string, headers: Record<string, string> = {}): Promise<number> {
  const started = performance.now();
  const response = await fetch(url, { headers });
  if (!response.ok || !response.body) throw new Error(`${url}: HTTP ${response.status}`);
  let received = 0;
  for await (const chunk of response.body) received += (chunk as Uint8Array).byteLength;
  if (received !== BYTES) throw new Error(`${url}: ${received} bytes, not ${BYTES}`);
  return performance.now() - started;
}

/** Starts a byte relay to 127.0.0.1:`target` (bench/lib/byte-relay.ts); its port. */
async function relay(target: number, children: ChildProcess[]): Promise<number> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', 'lib', 'byte-relay.ts'), String(target)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  return (JSON.parse(line.toString()) as { port: number }).port;
}

/**
 * P9: a 100 MB download from a task's service through the master's proxy (the agent's dial-back
 * stream: client -> master -> agent -> service) against fetching it from the service directly on
 * the agent's side. Process executor: the service listens on this machine's loopback. Beside it,
 * the ceiling: the same download through two plain byte relays (hops that parse and check
 * nothing), which on a machine with fewer cores than processes is what extra hops cost anyway.
 */
export async function p9(options: { runs: number }) {
  const dir = tempDir();
  const port = await freePort();
  const master = await startMaster(dir, { policy: { system: { ports: { allow: [port] } } } });
  const relays: ChildProcess[] = [];
  const agent = spawn(process.execPath, [AGENT_BIN, '--master', master.url, '--token-file', master.tokenFile, '--name', 'bench-p9', '--executor', 'process', '--work-dir', dir], {
    stdio: 'ignore',
  });
  try {
    const token = await login(master.url);
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const created = await fetch(`${master.url}/api/v1/tasks`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ kind: 'notebook', config: { entrypoint: [process.execPath, SERVER], port } }),
    });
    const { id } = (await created.json()) as { id: number };
    // The service's own origin (listen.services_port): the master's /proxy/ path only redirects there.
    let origin: string;
    for (;;) {
      const status = (await (await fetch(`${master.url}/api/v1/tasks/${id}/service?probe=true`, { headers })).json()) as { ready: boolean; origin: string | null };
      if (status.ready) {
        origin = status.origin ?? master.url;
        break;
      }
      await new Promise((r) => setTimeout(r, 300));
    }
    const relayed = await relay(await relay(port, relays), relays);
    const viaProxy: number[] = [];
    const direct: number[] = [];
    const viaRelays: number[] = [];
    for (let i = 0; i < options.runs + 1; i++) {
      const proxied = await download(`${origin}/proxy/${id}/bytes?n=${BYTES}`, { authorization: headers.authorization });
      const straight = await download(`http://127.0.0.1:${port}/proxy/${id}/bytes?n=${BYTES}`);
      const bare = await download(`http://127.0.0.1:${relayed}/proxy/${id}/bytes?n=${BYTES}`);
      // The first of each warms up (the stream's dial-back, the JIT).
      if (i > 0) {
        viaProxy.push(proxied);
        direct.push(straight);
        viaRelays.push(bare);
      }
    }
    await fetch(`${master.url}/api/v1/tasks/${id}/kill`, { method: 'POST', headers });
    const mbps = (ms: number) => round(BYTES / 1e6 / (ms / 1000));
    const proxyMBps = mbps(percentile(viaProxy, 50));
    const directMBps = mbps(percentile(direct, 50));
    const relaysMBps = mbps(percentile(viaRelays, 50));
    return { bytes: BYTES, proxyMBps, directMBps, ratio: round(proxyMBps / directMBps), relaysMBps, relaysRatio: round(relaysMBps / directMBps), runs: options.runs };
  } finally {
    for (const child of relays) await stopChild(child);
    agent.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    await stopChild(agent);
    await master.stop();
  }
}
