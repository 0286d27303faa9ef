import path from 'node:path';
import test from 'ava';
import type { Agent, Page, QueueView, QuotaUsage, Task } from '@trainyard/shared';
import { api, loginToken } from './helpers/api.js';
import { FAST_AGENTS, startAgent, tempDir, waitFor, type AgentProcess } from './helpers/cluster.js';
import { startTestMaster, type TestMaster } from './helpers/test-master.js';

const image = process.env.YARD_TEST_IMAGE ?? 'busybox:latest';

interface Cluster {
  m: TestMaster;
  agent: AgentProcess;
  tokens: Record<string, string>;
}

/**
 * A master with `policy`, one process agent, users alice, bob and carol in group fs, whose quota
 * lets one task run at a time: so that queued tasks compete for one slot.
 */
async function cluster(t: { teardown(fn: () => Promise<void>): void }, policy: 'fifo' | 'fair_share', agentName: string): Promise<Cluster> {
  const dir = tempDir('yard-fair-share-');
  const m = await startTestMaster(
    { agents: { ...FAST_AGENTS, lost_timeout: '60s', token_file: path.join(dir, 'agent.token') }, scheduler: { policy, fair_share: { half_life: '1h' } } },
    dir,
  );
  const admin = await loginToken(m.url, 'admin');
  const tokens: Record<string, string> = { admin };
  await api(m.url, 'POST', '/groups', { token: admin, body: { path: 'fs' } });
  for (const name of ['alice', 'bob', 'carol']) {
    await api(m.url, 'POST', '/users', { token: admin, body: { username: name, password: 'pw' } });
    await api(m.url, 'POST', '/groups/fs/members', { token: admin, body: { username: name } });
    tokens[name] = await loginToken(m.url, name, 'pw');
  }
  await api(m.url, 'POST', '/quotas', { token: admin, body: { name: 'fs-one', maxRunning: 1 } });
  await api(m.url, 'POST', '/quotas/fs-one/assignments', { token: admin, body: { group: 'fs' } });
  const agent = startAgent({ url: m.url, tokenFile: path.join(dir, 'agent.token') }, { name: agentName, executor: 'process' });
  t.teardown(async () => {
    await agent.kill('SIGKILL');
    await m.stop();
  });
  await waitFor('the agent to register', async () => {
    const agents = (await api<Page<Agent>>(m.url, 'GET', '/agents', { token: admin })).body.items;
    return agents.some((a) => a.id === agentName && a.state === 'alive');
  });
  return { m, agent, tokens };
}

const submit = async (c: Cluster, user: string, command: string) => {
  const created = await api<Task>(c.m.url, 'POST', '/tasks', {
    token: c.tokens[user],
    body: { kind: 'command', config: { image, entrypoint: ['sh', '-c', command], group: 'fs' } },
  });
  if (created.status !== 201) throw new Error(JSON.stringify(created.body));
  return created.body;
};
const getTask = async (c: Cluster, id: number) => (await api<Task>(c.m.url, 'GET', `/tasks/${id}`, { token: c.tokens.admin })).body;
const ended = (c: Cluster, id: number) =>
  waitFor(`task ${id} to end`, async () => {
    const task = await getTask(c, id);
    return ['COMPLETED', 'FAILED', 'KILLED', 'LOST'].includes(task.state) ? task : undefined;
  }, 60_000);

/**
 * alice uses the cluster first; then carol's task holds the one slot while alice (older) and bob
 * (newer) queue behind it. Returns both waiting tasks once they ran, and the queue as it stood.
 */
async function race(c: Cluster) {
  const warmup = await submit(c, 'alice', 'sleep 2');
  t_assertCompleted(await ended(c, warmup.id));
  const blocker = await submit(c, 'carol', 'sleep 3');
  await waitFor('the blocker to run', async () => (await getTask(c, blocker.id)).state === 'RUNNING');
  const older = await submit(c, 'alice', 'true');
  const newer = await submit(c, 'bob', 'true');
  await waitFor('both to wait for the group quota', async () =>
    (await getTask(c, older.id)).pendingReason === 'QUOTA_RUNNING_GROUP:fs' && (await getTask(c, newer.id)).pendingReason === 'QUOTA_RUNNING_GROUP:fs',
  );
  const queue = (await api<QueueView>(c.m.url, 'GET', '/queue', { token: c.tokens.carol })).body;
  const [a, b] = [await ended(c, older.id), await ended(c, newer.id)];
  await ended(c, blocker.id);
  return { alice: a, bob: b, queue };
}

function t_assertCompleted(task: Task): void {
  if (task.state !== 'COMPLETED') throw new Error(`warm-up task ${task.id} ended ${task.state}: ${task.message}`);
}

test("fair_share: bob's newer task starts before alice's older one, since alice used the cluster and bob did not; usage decays", async (t) => {
  const c = await cluster(t, 'fair_share', 'fair-share-1');
  const { alice, bob, queue } = await race(c);
  t.is(queue.policy, 'fair_share');
  t.deepEqual(queue.items.map((i) => i.owner), ['bob', 'alice'], JSON.stringify(queue.items));
  t.true(queue.items[1]!.usage > queue.items[0]!.usage);
  t.is(queue.items[0]!.pendingReason, 'QUOTA_RUNNING_GROUP:fs');
  t.true(Date.parse(bob.startedAt!) < Date.parse(alice.startedAt!), `bob ${bob.startedAt}, alice ${alice.startedAt}`);

  // Decay: after one half-life (the master's clock), alice's usage counts half.
  const usage = async () => (await api<QuotaUsage>(c.m.url, 'GET', '/quota-usage', { token: c.tokens.alice })).body.fairShare!;
  const before = await usage();
  t.true(before.cpuSeconds > 1, JSON.stringify(before));
  // Written to the database by the monitor (once a second), so that a restart keeps it.
  const stored = await waitFor('alice usage to be written', async () => {
    const row = await c.m.master.database.db
      .selectFrom('user_usage')
      .innerJoin('users', 'users.id', 'user_usage.user_id')
      .select('cpu_seconds')
      .where('username', '=', 'alice')
      .executeTakeFirst();
    return row?.cpu_seconds;
  });
  t.true(stored > 1);
  c.m.clock.advance(3600_000);
  const after = await usage();
  t.true(Math.abs(after.cpuSeconds / before.cpuSeconds - 0.5) < 0.01, `${before.cpuSeconds} -> ${after.cpuSeconds}`);
});

test('fifo: the older task starts first, whoever used the cluster', async (t) => {
  const c = await cluster(t, 'fifo', 'fair-share-2');
  const { alice, bob, queue } = await race(c);
  t.is(queue.policy, 'fifo');
  t.deepEqual(queue.items.map((i) => i.owner), ['alice', 'bob']);
  t.true(Date.parse(alice.startedAt!) < Date.parse(bob.startedAt!), `alice ${alice.startedAt}, bob ${bob.startedAt}`);
});

test('fair_share is hierarchical (Fair Tree): carol, who used nothing, waits behind bob, because her group used more than his; then within a group, by use', async (t) => {
  // lab (one task at a time, for its subgroups together) with lab/busy (alice, carol) and lab/calm (bob).
  const dir = tempDir('yard-fair-tree-');
  const m = await startTestMaster(
    { agents: { ...FAST_AGENTS, lost_timeout: '60s', token_file: path.join(dir, 'agent.token') }, scheduler: { policy: 'fair_share', fair_share: { half_life: '1h' } } },
    dir,
  );
  const admin = await loginToken(m.url, 'admin');
  const tokens: Record<string, string> = { admin };
  for (const group of ['lab', 'lab/busy', 'lab/calm']) await api(m.url, 'POST', '/groups', { token: admin, body: { path: group } });
  const groupOf: Record<string, string> = { alice: 'lab/busy', carol: 'lab/busy', bob: 'lab/calm' };
  for (const [name, group] of Object.entries(groupOf)) {
    await api(m.url, 'POST', '/users', { token: admin, body: { username: name, password: 'pw' } });
    const added = await api(m.url, 'POST', `/groups/${encodeURIComponent(group)}/members`, { token: admin, body: { username: name } });
    if (added.status !== 200) throw new Error(JSON.stringify(added.body));
    tokens[name] = await loginToken(m.url, name, 'pw');
  }
  await api(m.url, 'POST', '/quotas', { token: admin, body: { name: 'lab-one', maxRunning: 1 } });
  await api(m.url, 'POST', '/quotas/lab-one/assignments', { token: admin, body: { group: 'lab' } });
  const agent = startAgent({ url: m.url, tokenFile: path.join(dir, 'agent.token') }, { name: 'fair-tree-1', executor: 'process' });
  t.teardown(async () => {
    await agent.kill('SIGKILL');
    await m.stop();
  });
  const c: Cluster = { m, agent, tokens };
  const submitIn = async (user: string, command: string) => {
    const created = await api<Task>(m.url, 'POST', '/tasks', { token: tokens[user], body: { kind: 'command', config: { image, entrypoint: ['sh', '-c', command], group: groupOf[user] } } });
    if (created.status !== 201) throw new Error(JSON.stringify(created.body));
    return created.body;
  };

  // alice uses the cluster in lab/busy; then her own task holds the one slot while carol (older, busy) and bob (newer, calm) queue.
  t_assertCompleted(await ended(c, (await submitIn('alice', 'sleep 2')).id));
  const blocker = await submitIn('alice', 'sleep 3');
  await waitFor('the blocker to run', async () => (await getTask(c, blocker.id)).state === 'RUNNING');
  const carol = await submitIn('carol', 'true');
  const bob = await submitIn('bob', 'true');
  const aliceAgain = await submitIn('alice', 'true');
  await waitFor('all three to wait for lab\'s quota', async () => {
    const reasons = await Promise.all([carol, bob, aliceAgain].map(async (task) => (await getTask(c, task.id)).pendingReason));
    return reasons.every((r) => r === 'QUOTA_RUNNING_GROUP:lab');
  });
  const queue = (await api<QueueView>(m.url, 'GET', '/queue', { token: admin })).body;
  t.deepEqual(queue.items.map((i) => i.owner), ['bob', 'carol', 'alice'], JSON.stringify(queue.items));
  const started = await Promise.all([bob, carol, aliceAgain].map(async (task) => Date.parse((await ended(c, task.id)).startedAt!)));
  t.true(started[0]! < started[1]! && started[1]! < started[2]!, `bob ${started[0]}, carol ${started[1]}, alice ${started[2]}`);
});
