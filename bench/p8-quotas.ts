import { readFileSync } from 'node:fs';
import path from 'node:path';
import { load } from './lib/load.js';
import { login, startMaster, tempDir, type BenchMaster } from './lib/processes.js';
import { measureDispatch, startSimAgents } from './lib/sim-agents.js';
import { parsePrometheusText, sampleValue } from '../test/helpers/prometheus-text.js';
import { percentile, round } from './stats.js';

interface QuotaCluster {
  master: BenchMaster;
  admin: string;
  users: Array<{ name: string; group: string; token: string }>;
  /** Every quota made, so that they can be deleted again. */
  quotas: string[];
  call(token: string, method: string, route: string, body?: unknown): Promise<any>;
}

/** A three-level group tree: `orgs` orgs over `labs` labs over `teams` teams, `usersPerTeam` users in each team. */
interface TreeShape {
  orgs: number;
  labs: number;
  teams: number;
  usersPerTeam: number;
}

/** P8's submissions and dispatch under load: 100 users (2 orgs, 5 labs, 10 teams). */
const SMALL_TREE: TreeShape = { orgs: 2, labs: 5, teams: 10, usersPerTeam: 10 };
/** P8's dispatch decision over a big queue: 1,000 users (2 orgs, 10 labs, 50 teams of 20), as issue 26 asks. */
const LARGE_TREE: TreeShape = { orgs: 2, labs: 10, teams: 50, usersPerTeam: 20 };

/** The leaf group of team `t`: labs spread over the orgs, teams over the labs. */
function leafOf(t: number, shape: TreeShape): string {
  const lab = t % shape.labs;
  return `org${lab % shape.orgs}/lab${lab}/team${t}`;
}

/** Runs `fn` over `items`, `width` at a time (the master takes requests concurrently; argon2 runs on libuv's pool). */
async function inParallel<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, lane));
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * A master under fair_share with the users of a three-level group tree, every one covered by a user
 * quota (max_running, max_submitted), every team by a group quota (max_running, cpu), every lab by
 * one (max_running) and every org by one counting its whole subtree with a cap on each member (cpu,
 * --per-user running). Users are made and logged in concurrently (each login is an argon2 hash).
 */
async function quotaCluster(shape: TreeShape): Promise<QuotaCluster> {
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
  const quotas: string[] = [];
  const quota = async (name: string, limits: Record<string, unknown>, group: string) => {
    await call(admin, 'POST', '/quotas', { name, ...limits });
    await call(admin, 'POST', `/quotas/${name}/assignments`, { group });
    quotas.push(name);
  };
  await call(admin, 'POST', '/quotas', { name: 'per-user', maxRunning: 5, maxSubmitted: 5000 });
  quotas.push('per-user');
  // Parents before children: one level at a time.
  const leaves = range(shape.teams).map((t) => leafOf(t, shape));
  for (const depth of [1, 2, 3]) {
    const level = [...new Set(leaves.map((leaf) => leaf.split('/').slice(0, depth).join('/')))];
    await inParallel(level, 8, async (group) => {
      await call(admin, 'POST', '/groups', { path: group });
      const name = group.split('/').at(-1)!;
      if (depth === 1) await quota(`${name}-tree`, { cpu: 2000, maxRunning: 200, perUser: { maxRunning: 5 } }, group);
      if (depth === 2) await quota(`${name}-share`, { maxRunning: 80 }, group);
      if (depth === 3) await quota(`${name}-share`, { maxRunning: 40, cpu: 400 }, group);
    });
  }
  const users: QuotaCluster['users'] = range(shape.teams * shape.usersPerTeam).map((u) => ({
    name: `user${String(u).padStart(4, '0')}`,
    group: leafOf(u % shape.teams, shape),
    token: '',
  }));
  await inParallel(users, 16, async (user) => {
    await call(admin, 'POST', '/users', { username: user.name, password: 'bench-pw' });
    await call(admin, 'POST', `/groups/${encodeURIComponent(user.group)}/members`, { username: user.name });
    await call(admin, 'POST', '/quotas/per-user/assignments', { user: user.name });
    user.token = await login(master.url, user.name, 'bench-pw');
  });
  return { master, admin, users, quotas, call };
}

const taskRequest = (group: string) => ({ kind: 'command', config: { image: 'busybox:latest', entrypoint: ['true'], group } });

/**
 * P8: quotas on the hot paths, with 100 users in a three-level tree all covered (SMALL_TREE, see quotaCluster). Figures:
 * submit -> assignment received with `agents` simulated agents at `rate` tasks a second spread over the
 * users (as P2); then, on a second such master without agents (as P3), submissions a second with 50
 * connections cycling through the users, each counted against its user quota's max_submitted, and the
 * same once the quotas are deleted (what they cost).
 */
export async function p8(options: { agents: number; workers: number; rate: number; seconds: number }) {
  const dispatch = await quotaCluster(SMALL_TREE);
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

  const submitting = await quotaCluster(SMALL_TREE);
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
    for (const name of submitting.quotas) await submitting.call(submitting.admin, 'DELETE', `/quotas/${name}`);
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

/** The master's own timing of its dispatch decisions, from `/metrics` (the summary of the last ten minutes). */
async function decisionTimes(url: string): Promise<{ count: number; p50Ms: number; p99Ms: number; p999Ms: number; maxMs: number; queued: number }> {
  const families = parsePrometheusText(await (await fetch(`${url}/metrics`)).text());
  const name = 'trainyard_dispatch_decision_seconds_recent';
  const ms = (quantile: string) => round(sampleValue(families, name, { quantile }) * 1000);
  const count = families.get(name)?.samples.find((s) => s.name === `${name}_count`)?.value ?? 0;
  return { count, p50Ms: ms('0.5'), p99Ms: ms('0.99'), p999Ms: ms('0.999'), maxMs: ms('1'), queued: sampleValue(families, 'trainyard_queue_length') };
}

/**
 * P8's dispatch decision over a big queue: 1,000 users in a three-level tree, all covered by quotas at
 * every level (LARGE_TREE, see quotaCluster); `tasks` tasks queued spread over them while no agent is
 * registered; then `agents` simulated agents take work for `seconds` (each completes what it gets at
 * once; each task placed is replaced by a new one, so the queue stays at `tasks`), and the scheduler
 * decides over and over, walking the whole queue once a second to write every task's pending reason.
 * Figures: the master's own decision times (`/metrics`), how many decisions, the queue before and after.
 */
export async function p8Decisions(options: { tasks: number; agents: number; seconds: number }) {
  const setupStarted = Date.now();
  const { master, admin, users, call } = await quotaCluster(LARGE_TREE);
  const sims = { current: undefined as ReturnType<typeof startSimAgents> | undefined };
  try {
    const submit = async (i: number) => {
      const user = users[i % users.length]!;
      await call(user.token, 'POST', '/tasks', taskRequest(user.group));
    };
    await inParallel(range(options.tasks), 32, submit);
    const before = await decisionTimes(master.url);
    const setupSeconds = round((Date.now() - setupStarted) / 1000, 1);
    const agents = startSimAgents(master, readFileSync(master.tokenFile, 'utf8').trim(), { agents: options.agents, workers: 1, prefix: 'd' });
    sims.current = agents;
    // Every task placed is replaced by a new submission, so the queue stays at `tasks` while the agents take work.
    let replaced = 0;
    let measuring = true;
    const topUp = (async () => {
      while (measuring) {
        const due = agents.assignedAt.size - replaced;
        if (due === 0) {
          await new Promise((r) => setTimeout(r, 20));
          continue;
        }
        await inParallel(range(due), 8, (i) => submit(options.tasks + replaced + i));
        replaced += due;
      }
    })();
    await agents.ready(admin);
    await new Promise((r) => setTimeout(r, options.seconds * 1000));
    const after = await decisionTimes(master.url);
    measuring = false;
    await topUp;
    return {
      users: users.length,
      agents: agents.count,
      queuedBefore: before.queued,
      queuedAfter: after.queued,
      placed: agents.assignedAt.size,
      replaced,
      // Decisions before any agent came (none expected): the summary counts since the start.
      decisionsBefore: before.count,
      decisions: after.count - before.count,
      p50Ms: after.p50Ms,
      p99Ms: after.p99Ms,
      p999Ms: after.p999Ms,
      maxMs: after.maxMs,
      setupSeconds,
      rssMb: master.rssMb(),
    };
  } finally {
    sims.current?.finish();
    await sims.current?.kill();
    await master.stop();
  }
}
