import { rmSync } from 'node:fs';
import test from 'ava';
import type { Agent, Page, Task, TaskTimelineEntry, TaskWhy } from '@trainyard/shared';
import { api, loginToken } from './helpers/api.js';
import { freePort, spawnMaster, startAgent, tempDir, waitFor, type AgentProcess, type MasterProcess } from './helpers/cluster.js';

// kill -9 of the master between recording a preemption and telling the agent
// (YARD_TEST_CRASH_AT=master:after-preempt-request): started again, the master finishes it. The
// borrowed task is stopped once and queued again (not run twice, not left RUNNING or half-killed),
// and the task of the group that needed its guarantee back starts.
const dir = tempDir('yard-preempt-crash-');
const config = {
  agents: { heartbeat_interval: '500ms', lost_timeout: '20s', lease_timeout: '3s', kill_grace: '2s' },
};
let port: number;
let master: MasterProcess;
let agent: AgentProcess;

test.before(async () => {
  port = await freePort();
  master = await spawnMaster(dir, port, config);
});

test.after.always(async () => {
  await agent?.kill('SIGKILL');
  await master?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

test.serial('kill -9 of the master after a preemption is recorded: restarted, the borrowed task ends QUEUED having run once, and the lender\'s task starts', async (t) => {
  let admin = await loginToken(master.url, 'admin');
  for (const path of ['lab', 'lab/a', 'lab/b']) t.is((await api(master.url, 'POST', '/groups', { token: admin, body: { path } })).status, 201);
  for (const [name, group] of [['ua', 'lab/a'], ['ub', 'lab/b']] as const) {
    await api(master.url, 'POST', '/users', { token: admin, body: { username: name, password: 'pw' } });
    t.is((await api(master.url, 'POST', `/groups/${encodeURIComponent(group)}/members`, { token: admin, body: { username: name } })).status, 200);
  }
  for (const group of ['lab/a', 'lab/b']) t.is((await api(master.url, 'PUT', '/guarantees', { token: admin, body: { group, pool: 'default', gpus: 1 } })).status, 200);
  agent = startAgent(master, { name: 'preempt-crash', executor: 'process', fakeGpus: 2 });
  const alive = async () => {
    const agents = (await api<Page<Agent>>(master.url, 'GET', '/agents', { token: admin })).body.items;
    return agents.some((a) => a.id === 'preempt-crash' && a.state === 'alive');
  };
  await waitFor('the agent to register', alive);

  const submit = async (user: string, group: string) => {
    const token = await loginToken(master.url, user, 'pw');
    const created = await api<Task>(master.url, 'POST', '/tasks', {
      token,
      body: { kind: 'command', config: { name: `${user}-job`, image: 'busybox:latest', entrypoint: ['sleep', '300'], resources: { gpus: 1 }, group } },
    });
    if (created.status !== 201) throw new Error(JSON.stringify(created.body));
    return created.body.id;
  };
  const task = async (id: number) => (await api<Task>(master.url, 'GET', `/tasks/${id}`, { token: admin })).body;
  const state = (id: number, wanted: (x: Task) => boolean, what: string) =>
    waitFor(`task ${id} ${what}`, async () => {
      const x = await task(id);
      return wanted(x) ? x : undefined;
    }, 30_000);

  // lab/a runs its own GPU and borrows lab/b's idle one.
  const a1 = await submit('ua', 'lab/a');
  await state(a1, (x) => x.state === 'RUNNING', 'to run');
  const a2 = await submit('ua', 'lab/a');
  await state(a2, (x) => x.state === 'RUNNING', 'to run (borrowing)');

  // The master is started again with the crash point; lab/b's task makes it preempt a2, and it dies there.
  await master.kill('SIGTERM');
  master = await spawnMaster(dir, port, config, { YARD_TEST_CRASH_AT: 'master:after-preempt-request' });
  admin = await loginToken(master.url, 'admin');
  await waitFor('the agent to come back', alive);
  const b1 = await submit('ub', 'lab/b');
  const code = await Promise.race([master.exited, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 30_000))]);
  t.not(code, 'timeout', `the master did not reach its crash point:\n${master.output()}`);
  t.is(master.child.signalCode, 'SIGKILL');

  master = await spawnMaster(dir, port, config);
  admin = await loginToken(master.url, 'admin');
  const requeued = await state(a2, (x) => x.state === 'QUEUED' && x.preemptions === 1, 'to be queued again');
  t.is(requeued.agent, null);
  t.is(requeued.restarts, 0, 'a preemption costs no restart');
  await state(b1, (x) => x.state === 'RUNNING', 'to run');
  t.is((await task(a1)).state, 'RUNNING');
  // It ran once: one RUNNING in its history, and the agent holds no run of it.
  const timeline = (await api<{ items: TaskTimelineEntry[] }>(master.url, 'GET', `/tasks/${a2}/timeline`, { token: admin })).body.items;
  t.is(timeline.filter((e) => e.event === 'state' && e.state === 'RUNNING').length, 1, JSON.stringify(timeline));
  const held = (await api<Page<Agent>>(master.url, 'GET', '/agents', { token: admin })).body.items.find((a) => a.id === 'preempt-crash')!.runningTasks;
  t.deepEqual([...held].sort((x, y) => x - y), [a1, b1].sort((x, y) => x - y));
  // It waits for its cohort (lab/b uses what it lent) rather than running again and being preempted again.
  await waitFor('a2 to wait for its cohort', async () =>
    (await api<TaskWhy>(master.url, 'GET', `/tasks/${a2}/why`, { token: admin })).body.reasons.includes('COHORT_GPUS:lab/a'),
  );
  const after = await task(a2);
  t.is(after.state, 'QUEUED');
  t.is(after.preemptions, 1);
  for (const id of [a1, a2, b1]) await api(master.url, 'POST', `/tasks/${id}/kill`, { token: admin });
});
