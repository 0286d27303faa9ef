import { readFileSync } from 'node:fs';
import path from 'node:path';
import { load } from './lib/load.js';
import { login, startMaster, tempDir } from './lib/processes.js';
import { measureDispatch, startSimAgents } from './lib/sim-agents.js';
import { percentile, round } from './stats.js';

/**
 * P8: quotas on the hot paths. 100 users in 10 groups, every user covered by a user quota
 * (max_running, max_submitted) and every group by a group quota (max_running, cpu); the scheduler
 * under fair_share. Figures: submit -> assignment received with `agents` simulated agents at `rate`
 * tasks a second spread over the 100 users (as P2), then submissions a second through the API with 50
 * connections (as P3, one of the users: each submission counts against both quotas).
 */
export async function p8(options: { agents: number; workers: number; rate: number; seconds: number }) {
  const master = await startMaster(tempDir(), { scheduler: { policy: 'fair_share' } });
  const agentToken = readFileSync(master.tokenFile, 'utf8').trim();
  const admin = await login(master.url);
  const call = async (token: string, method: string, route: string, body?: unknown) => {
    const response = await fetch(`${master.url}/api/v1${route}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${await response.text()}`);
    return response.json() as Promise<any>;
  };

  await call(admin, 'POST', '/quotas', { name: 'per-user', maxRunning: 5, maxSubmitted: 5000 });
  const users: Array<{ name: string; group: string; token: string }> = [];
  for (let g = 0; g < 10; g++) {
    const group = `team${g}`;
    await call(admin, 'POST', '/groups', { path: group });
    await call(admin, 'POST', '/quotas', { name: `${group}-share`, maxRunning: 40, cpu: 400 });
    await call(admin, 'POST', `/quotas/${group}-share/assignments`, { group });
  }
  for (let u = 0; u < 100; u++) {
    const name = `user${String(u).padStart(3, '0')}`;
    const group = `team${u % 10}`;
    await call(admin, 'POST', '/users', { username: name, password: 'bench-pw' });
    await call(admin, 'POST', `/groups/${group}/members`, { username: name });
    await call(admin, 'POST', '/quotas/per-user/assignments', { user: name });
    users.push({ name, group, token: await login(master.url, name, 'bench-pw') });
  }

  const sims = startSimAgents(master, agentToken, { agents: options.agents, workers: options.workers, prefix: 'q' });
  try {
    await sims.ready(admin);
    const { total, latencies, masterSide } = await measureDispatch(sims, path.join(master.dir, 'bench.db'), {
      rate: options.rate,
      seconds: options.seconds,
      submit: async (i) => {
        const user = users[i % users.length]!;
        const task = await call(user.token, 'POST', '/tasks', { kind: 'command', config: { image: 'busybox:latest', entrypoint: ['true'], group: user.group } });
        return task.id as number;
      },
    });
    const rssMb = master.rssMb();
    sims.finish();

    // Submissions a second: no agents now (as P3); 50 connections cycling through the 100 users, each
    // submission counted against its user quota's max_submitted and checked against its group's quota.
    const request = {
      url: master.url,
      connections: 50,
      requests: users.map((u) => ({
        method: 'POST' as const,
        path: '/api/v1/tasks',
        headers: { authorization: `Bearer ${u.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ kind: 'command', config: { image: 'busybox:latest', entrypoint: ['true'], group: u.group } }),
      })),
    };
    await load({ ...request, durationSeconds: 2 });
    const submit = await load({ ...request, durationSeconds: options.seconds });
    return {
      agents: sims.count,
      tasks: total,
      assigned: latencies.length,
      p50Ms: round(percentile(latencies, 50)),
      p99Ms: round(percentile(latencies, 99)),
      masterSideP50Ms: percentile(masterSide, 50),
      masterSideP99Ms: percentile(masterSide, 99),
      rssMb,
      submitsPerSecond: submit.requestsPerSecond,
      submitP99Ms: submit.p99Ms,
      submitErrors: submit.errors,
    };
  } finally {
    sims.finish();
    await sims.kill();
    await master.stop();
  }
}
