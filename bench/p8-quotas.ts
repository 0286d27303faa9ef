import { readFileSync } from 'node:fs';
import path from 'node:path';
import { load } from './lib/load.js';
import { login, startMaster, tempDir, type BenchMaster } from './lib/processes.js';
import { measureDispatch, startSimAgents } from './lib/sim-agents.js';
import { percentile, round } from './stats.js';

interface QuotaCluster {
  master: BenchMaster;
  admin: string;
  users: Array<{ name: string; group: string; token: string }>;
  call(token: string, method: string, route: string, body?: unknown): Promise<any>;
}

/** The leaf group of team `g`: a three-level tree (2 orgs, 5 labs, 10 teams), so quotas count down it. */
const leafOf = (g: number) => `org${g % 2}/lab${g % 5}/team${g}`;

/**
 * A master with 100 users in 10 leaf groups of a three-level tree, every user covered by a user
 * quota (max_running, max_submitted), every team by a group quota (max_running, cpu) and every org
 * by one counting its whole subtree with a cap on each member (cpu, --per-user running), under
 * fair_share.
 */
async function quotaCluster(): Promise<QuotaCluster> {
  const master = await startMaster(tempDir(), { scheduler: { policy: 'fair_share' } });
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
  const made = new Set<string>();
  for (let g = 0; g < 10; g++) {
    const segments = leafOf(g).split('/');
    for (let depth = 1; depth <= segments.length; depth++) {
      const group = segments.slice(0, depth).join('/');
      if (made.has(group)) continue;
      made.add(group);
      await call(admin, 'POST', '/groups', { path: group });
      if (depth === 1) {
        await call(admin, 'POST', '/quotas', { name: `${group}-tree`, cpu: 2000, maxRunning: 200, perUser: { maxRunning: 5 } });
        await call(admin, 'POST', `/quotas/${group}-tree/assignments`, { group });
      }
    }
    await call(admin, 'POST', '/quotas', { name: `team${g}-share`, maxRunning: 40, cpu: 400 });
    await call(admin, 'POST', `/quotas/team${g}-share/assignments`, { group: leafOf(g) });
  }
  const users: QuotaCluster['users'] = [];
  for (let u = 0; u < 100; u++) {
    const name = `user${String(u).padStart(3, '0')}`;
    const group = leafOf(u % 10);
    await call(admin, 'POST', '/users', { username: name, password: 'bench-pw' });
    await call(admin, 'POST', `/groups/${encodeURIComponent(group)}/members`, { username: name });
    await call(admin, 'POST', '/quotas/per-user/assignments', { user: name });
    users.push({ name, group, token: await login(master.url, name, 'bench-pw') });
  }
  return { master, admin, users, call };
}

const taskRequest = (group: string) => ({ kind: 'command', config: { image: 'busybox:latest', entrypoint: ['true'], group } });

/**
 * P8: quotas on the hot paths, with 100 users in a three-level tree all covered (see quotaCluster). Figures:
 * submit -> assignment received with `agents` simulated agents at `rate` tasks a second spread over the
 * users (as P2); then, on a second such master without agents (as P3), submissions a second with 50
 * connections cycling through the users, each counted against its user quota's max_submitted, and the
 * same once the quotas are deleted (what they cost).
 */
export async function p8(options: { agents: number; workers: number; rate: number; seconds: number }) {
  const dispatch = await quotaCluster();
  const { master, admin, users, call } = dispatch;
  const sims = startSimAgents(master, readFileSync(master.tokenFile, 'utf8').trim(), { agents: options.agents, workers: options.workers, prefix: 'q' });
  let measured;
  try {
    await sims.ready(admin);
    measured = await measureDispatch(sims, path.join(master.dir, 'bench.db'), {
      rate: options.rate,
      seconds: options.seconds,
      submit: async (i) => {
        const user = users[i % users.length]!;
        return (await call(user.token, 'POST', '/tasks', taskRequest(user.group))).id as number;
      },
    });
    measured = { ...measured, rssMb: master.rssMb() };
  } finally {
    sims.finish();
    await sims.kill();
    await master.stop();
  }

  const submitting = await quotaCluster();
  try {
    const request = {
      url: submitting.master.url,
      connections: 50,
      requests: submitting.users.map((u) => ({
        method: 'POST' as const,
        path: '/api/v1/tasks',
        headers: { authorization: `Bearer ${u.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(taskRequest(u.group)),
      })),
    };
    await load({ ...request, durationSeconds: 2 });
    const submit = await load({ ...request, durationSeconds: options.seconds });
    await submitting.call(submitting.admin, 'DELETE', '/quotas/per-user');
    for (let g = 0; g < 10; g++) await submitting.call(submitting.admin, 'DELETE', `/quotas/team${g}-share`);
    for (const org of ['org0', 'org1']) await submitting.call(submitting.admin, 'DELETE', `/quotas/${org}-tree`);
    const bare = await load({ ...request, durationSeconds: options.seconds });
    return {
      agents: sims.count,
      tasks: measured.total,
      assigned: measured.latencies.length,
      p50Ms: round(percentile(measured.latencies, 50)),
      p99Ms: round(percentile(measured.latencies, 99)),
      masterSideP50Ms: percentile(measured.masterSide, 50),
      masterSideP99Ms: percentile(measured.masterSide, 99),
      rssMb: measured.rssMb,
      submitsPerSecond: submit.requestsPerSecond,
      submitP99Ms: submit.p99Ms,
      submitErrors: submit.errors,
      withoutQuotasPerSecond: bare.requestsPerSecond,
      withoutQuotasP99Ms: bare.p99Ms,
      /** Submissions a second under the quotas against without them (the goal: >= 0.9). */
      coveredRatio: round(submit.requestsPerSecond / bare.requestsPerSecond),
    };
  } finally {
    await submitting.master.stop();
  }
}
