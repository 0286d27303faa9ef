import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import path from 'node:path';
import { login, ROOT, startMaster, tempDir } from './lib/processes.js';
import { percentile, round } from './stats.js';

const now = () => performance.timeOrigin + performance.now();

/**
 * P2: `agents` simulated agents long-poll (in `workers` processes); tasks are submitted at a steady
 * `rate` per second for `seconds`; figures: submit → assignment-received latency and master RSS.
 */
export async function p2(options: { agents: number; workers: number; rate: number; seconds: number }) {
  const master = await startMaster(tempDir());
  const token = readFileSync(master.tokenFile, 'utf8').trim();
  const userToken = await login(master.url);
  const assignedAt = new Map<number, number>();
  const perWorker = Math.ceil(options.agents / options.workers);
  const workers = Array.from({ length: options.workers }, (_, w) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'bench', 'lib', 'agent-sim-worker.ts'), JSON.stringify({ url: master.url, token, count: perWorker, prefix: `sim${w}` })],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit', 'ipc'] },
    );
    child.on('message', (m: { taskId?: number; at?: number }) => {
      if (m.taskId !== undefined) assignedAt.set(m.taskId, m.at!);
    });
    return child;
  });
  try {
    // Let every agent register and settle into its long poll.
    const registered = async () => {
      const response = await fetch(`${master.url}/api/v1/agents`, { headers: { authorization: `Bearer ${userToken}` } });
      return ((await response.json()) as { items: unknown[] }).items.length;
    };
    const deadline = Date.now() + 60_000;
    while ((await registered()) < perWorker * options.workers && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    await new Promise((r) => setTimeout(r, 2000));

    const submittedAt = new Map<number, number>();
    const total = options.rate * options.seconds;
    const started = now();
    for (let i = 0; i < total; i++) {
      const due = started + (i * 1000) / options.rate;
      const wait = due - now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const at = now();
      const response = await fetch(`${master.url}/api/v1/tasks`, {
        method: 'POST',
        headers: { authorization: `Bearer ${userToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ kind: 'command', config: { image: 'busybox:latest', entrypoint: ['true'] } }),
      });
      submittedAt.set(((await response.json()) as { id: number }).id, at);
    }
    const rssMb = master.rssMb();
    const waitAll = Date.now() + 15_000;
    while (assignedAt.size < total && Date.now() < waitAll) await new Promise((r) => setTimeout(r, 100));
    const latencies = [...submittedAt].filter(([id]) => assignedAt.has(id)).map(([id, at]) => assignedAt.get(id)! - at);
    // The same interval as the master saw it (created -> assigned, both its own clock), to tell
    // the master's share of the tail from the simulated agents' and the submitter's.
    const db = new Database(path.join(master.dir, 'bench.db'), { readonly: true });
    const masterSide = (db.prepare('select assigned_at - created_at as ms from tasks where assigned_at is not null').all() as Array<{ ms: number }>).map((r) => r.ms);
    db.close();
    return {
      masterSideP50Ms: percentile(masterSide, 50),
      masterSideP99Ms: percentile(masterSide, 99),
      agents: perWorker * options.workers,
      tasks: total,
      assigned: latencies.length,
      p50Ms: round(percentile(latencies, 50)),
      p99Ms: round(percentile(latencies, 99)),
      rssMb,
    };
  } finally {
    for (const w of workers) w.send('stop');
    await new Promise((r) => setTimeout(r, 200));
    for (const w of workers) w.kill('SIGKILL');
    await master.stop();
  }
}
