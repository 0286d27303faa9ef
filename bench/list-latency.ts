import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { parseConfig, startMaster } from '@trainyard/master';
import { API_PREFIX } from '@trainyard/shared';
import { seedTasks } from './seed.js';
import { percentile, round } from './stats.js';

export interface ListLatencyResult {
  name: string;
  tasks: number;
  requests: number;
  p50Ms: number;
  p99Ms: number;
  goal: string;
}

/**
 * First-page latency of `GET /tasks` with `tasks` rows in the database, one request at a
 * time (no queueing in the figure): the user's own list, everyone's (-a), and one kind.
 */
export async function measureListLatency(tasks: number, requests = 300): Promise<ListLatencyResult[]> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'yard-bench-'));
  const dbPath = path.join(dir, 'bench.db');
  const config = parseConfig({ listen: { port: 0 }, db: { path: dbPath }, log: { level: 'silent' } });
  let master = await startMaster({ config, logger: pino({ level: 'silent' }) });
  await master.close();
  seedTasks(dbPath, tasks, [1, 2]);
  master = await startMaster({ config, logger: pino({ level: 'silent' }) });
  try {
    const login = await fetch(`${master.url}${API_PREFIX}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: '' }),
    });
    const { token } = (await login.json()) as { token: string };
    const results: ListLatencyResult[] = [];
    for (const [name, query] of [
      ['list mine, first page', '?limit=50'],
      ['list all (-a), first page', '?limit=50&all=true'],
      ['list experiments -a, first page', '?limit=50&all=true&kind=experiment'],
    ] as const) {
      const samples: number[] = [];
      for (let i = 0; i < requests + 20; i++) {
        const started = performance.now();
        const response = await fetch(`${master.url}${API_PREFIX}/tasks${query}`, { headers: { authorization: `Bearer ${token}` } });
        await response.json();
        if (i >= 20) samples.push(performance.now() - started);
      }
      results.push({ name, tasks, requests, p50Ms: round(percentile(samples, 50)), p99Ms: round(percentile(samples, 99)), goal: 'p99 well under 50 ms' });
    }
    return results;
  } finally {
    await master.close();
    await rm(dir, { recursive: true, force: true });
  }
}
