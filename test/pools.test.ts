import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { chromium } from 'playwright-core';
import type { Page, PolicyView, PoolView, Task, TaskPlan, TaskSummary } from '@trainyard/shared';
import { api, loginToken, type OrError } from './helpers/api.js';
import { eachHelp, ROOT, runProcess, Terminal } from './helpers/cli.js';
import { FAST_AGENTS, startAgent, tempDir, waitFor, type AgentProcess } from './helpers/cluster.js';
import { slurmPoolSettings, testSlurm, UnixUsers } from './helpers/slurm.js';
import { startTestMaster, type TestMaster } from './helpers/test-master.js';
import { peak } from './helpers/timeline.js';

// One master with two pools of agents: `default` (cpu-1, no GPUs) and `gpu` (gpu-1, 2 FAKE GPUs,
// the agent's test mode). Group `students` may use only the default pool; group `vision` sends its
// tasks to `gpu` by default. Each test uses its own users so that their tasks do not meet.
const image = process.env.YARD_TEST_IMAGE ?? 'busybox:latest';
let m: TestMaster;
let dir = '';
const agents: AgentProcess[] = [];
const tokens: Record<string, string> = {};

test.before(async () => {
  dir = tempDir('yard-pools-');
  m = await startTestMaster(
    {
      agents: { ...FAST_AGENTS, lost_timeout: '60s', token_file: path.join(dir, 'agent.token') },
      pools: { default: { manager: 'agents' }, gpu: { manager: 'agents', description: 'the machines with GPUs' } },
      policy: { groups: { students: { priority: 1, pools: { allow: ['default'] } } } },
    },
    dir,
  );
  tokens.admin = await loginToken(m.url, 'admin');
  for (const name of ['alice', 'bob', 'carol', 'dave']) {
    await api(m.url, 'POST', '/users', { token: tokens.admin, body: { username: name, password: 'pw' } });
    tokens[name] = await loginToken(m.url, name, 'pw');
  }
  for (const [group, members] of [['students', ['bob']], ['vision', ['alice']]] as const) {
    await api(m.url, 'POST', '/groups', { token: tokens.admin, body: { path: group } });
    for (const username of members) await api(m.url, 'POST', `/groups/${group}/members`, { token: tokens.admin, body: { username } });
  }
  const master = { url: m.url, tokenFile: path.join(dir, 'agent.token') };
  agents.push(startAgent(master, { name: 'cpu-1', executor: 'process' }));
  agents.push(startAgent(master, { name: 'gpu-1', executor: 'process', pool: 'gpu', fakeGpus: 2 }));
  await waitFor('both agents to register in their pools', async () => {
    const pools = (await api<{ items: PoolView[] }>(m.url, 'GET', '/pools', { token: tokens.admin })).body.items;
    return pools.find((p) => p.name === 'default')?.nodes === 1 && pools.find((p) => p.name === 'gpu')?.nodes === 1;
  });
});

test.after.always(async () => {
  for (const agent of agents) await agent.kill('SIGKILL');
  await m?.stop();
});

const getTask = async (id: number) => (await api<Task>(m.url, 'GET', `/tasks/${id}`, { token: tokens.admin })).body;
const ended = (id: number) =>
  waitFor(`task ${id} to end`, async () => {
    const task = await getTask(id);
    return ['COMPLETED', 'FAILED', 'KILLED', 'LOST'].includes(task.state) ? task : undefined;
  }, 60_000);
const submit = (user: string, command: string, extra: { config?: Record<string, unknown>; pool?: string; group?: string } = {}) =>
  api<OrError<Task>>(m.url, 'POST', '/tasks', {
    token: tokens[user],
    body: {
      kind: 'command',
      config: { image, entrypoint: ['sh', '-c', command], ...extra.config },
      ...(extra.pool ? { pool: extra.pool } : {}),
      ...(extra.group ? { group: extra.group } : {}),
    },
  });
const submitOk = async (...args: Parameters<typeof submit>) => {
  const created = await submit(...args);
  if (created.status !== 201) throw new Error(JSON.stringify(created.body));
  return created.body;
};
const pools = async (user = 'admin') => (await api<{ items: PoolView[] }>(m.url, 'GET', '/pools', { token: tokens[user] })).body.items;
const signedIn = async (user: string) => {
  const term = new Terminal(m.url);
  const login = await term.run(['user', 'login', user, '--password-stdin'], { input: user === 'admin' ? '\n' : 'pw\n' });
  if (login.code !== 0) throw new Error(login.stderr);
  return term;
};

test.serial('a task goes to the pool --pool names, else pool: in its config, else its group\'s default, else the system\'s; shown in lists, describe and JSON', async (t) => {
  const alice = await signedIn('alice');
  const configFile = path.join(dir, 'in-gpu.yaml');
  writeFileSync(configFile, 'pool: gpu\nresources: {cpu: 1}\n');
  const inDefault = path.join(dir, 'in-default.yaml');
  writeFileSync(inDefault, 'pool: default\n');

  const byFlag = await alice.json<Task>(['command', 'run', '--image', image, '--pool', 'gpu', '--', 'echo', 'by-flag']);
  const byConfig = await alice.json<Task>(['command', 'run', '--image', image, '-c', configFile, '--', 'echo', 'by-config']);
  const flagWins = await alice.json<Task>(['command', 'run', '--image', image, '-c', inDefault, '--pool', 'gpu', '--', 'echo', 'flag-wins']);
  const bySystem = await alice.json<Task>(['command', 'run', '--image', image, '--', 'echo', 'by-system']);
  t.deepEqual([byFlag.pool, byConfig.pool, flagWins.pool, bySystem.pool], ['gpu', 'gpu', 'gpu', 'default']);

  // The group's default pool: set by an admin, used by tasks created in the group that name none.
  const admin = await signedIn('admin');
  const set = await admin.run(['group', 'set', 'vision', '--default-pool', 'gpu']);
  t.is(set.code, 0, set.stderr);
  t.regex(set.stdout, /^Default pool:\s+gpu$/m);
  const missing = await admin.run(['group', 'set', 'vision', '--default-pool', 'nope']);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /^Error: pool 'nope' does not exist \(pools: default, gpu\)/m);
  const byGroup = await alice.json<Task>(['command', 'run', '--image', image, '--group', 'vision', '--', 'echo', 'by-group']);
  const groupButFlag = await alice.json<Task>(['command', 'run', '--image', image, '--group', 'vision', '--pool', 'default', '--', 'echo', 'group-but-flag']);
  t.deepEqual([byGroup.pool, groupButFlag.pool], ['gpu', 'default']);

  // Each ran on its pool's agent, and only there.
  const done = await Promise.all([byFlag, byConfig, flagWins, bySystem, byGroup, groupButFlag].map((task) => ended(task.id)));
  t.true(done.every((d) => d.state === 'COMPLETED'), JSON.stringify(done.map((d) => [d.id, d.state, d.message])));
  t.deepEqual(done.map((d) => d.agent), ['gpu-1', 'gpu-1', 'gpu-1', 'cpu-1', 'gpu-1', 'cpu-1']);

  const described = await alice.run(['task', 'describe', String(byGroup.id)]);
  t.regex(described.stdout, /^Group:\s+vision$/m);
  t.regex(described.stdout, /^Pool:\s+gpu$/m);
  const table = (await alice.run(['task', 'list'])).stdout;
  t.regex(table.split('\n')[0]!, /^ID\s+OWNER\s+KIND\s+STATE\s+NAME\s+RUN AS\s+POOL\s+AGENT\s+STARTED\s+REASON$/);
  t.regex(table, new RegExp(`^${byGroup.id}\\s.*\\sgpu\\s+gpu-1\\s`, 'm'));
  t.regex(table, new RegExp(`^${bySystem.id}\\s.*\\sdefault\\s+cpu-1\\s`, 'm'));
  const listed = await alice.json<Page<TaskSummary>>(['task', 'list']);
  t.is(listed.items.find((i) => i.id === byConfig.id)?.pool, 'gpu');
  const plan = await alice.json<TaskPlan>(['command', 'run', '--group', 'vision', '--dry-run', '--', 'true']);
  t.is(plan.pool, 'gpu', '--dry-run says where it would go');

  const unknown = await alice.run(['command', 'run', '--pool', 'nope', '--', 'true']);
  t.is(unknown.code, 1);
  t.regex(unknown.stderr, /^Error: pool 'nope' does not exist \(pools: default, gpu\)$/m);
  t.notRegex(unknown.stderr, /\n\s+at /, 'no stack trace');
  const badName = await submit('alice', 'true', { pool: 'Not A Pool' });
  t.is(badName.status, 400);
  t.is(badName.body.error!.code, 'INVALID_INPUT');
  t.is((await admin.run(['group', 'set', 'vision', '--no-default-pool'])).code, 0);
  t.is((await submitOk('alice', 'true', { group: 'vision' })).pool, 'default', 'without its default pool, the group\'s tasks go to the system\'s');
});

test.serial('the policy restricts pools per layer: a refusal names the rule and the layer, nothing is stored', async (t) => {
  const before = (await api<Page<TaskSummary>>(m.url, 'GET', '/tasks', { token: tokens.bob })).body.items.length;
  const refused = await submit('bob', 'true', { pool: 'gpu' });
  t.is(refused.status, 403);
  t.is(refused.body.error!.code, 'POLICY_DENIED');
  t.regex(refused.body.error!.message, /^pool gpu refused by policy\.groups\.students\.pools\.allow: it allows default$/);
  t.deepEqual(refused.body.error!.details, { rule: 'policy.groups.students.pools.allow', layer: 'groups.students' });
  const inConfig = await submit('bob', 'true', { config: { pool: 'gpu' } });
  t.is(inConfig.status, 403, 'pool: in the config is refused the same way');
  t.is((await api<Page<TaskSummary>>(m.url, 'GET', '/tasks', { token: tokens.bob })).body.items.length, before, 'nothing stored');

  const bob = await signedIn('bob');
  const dry = await bob.run(['command', 'run', '--pool', 'gpu', '--dry-run', '--', 'true']);
  t.is(dry.code, 1);
  t.regex(dry.stderr, /pool gpu refused by policy\.groups\.students\.pools\.allow/);
  const allowed = await bob.json<Task>(['command', 'run', '--image', image, '--', 'true']);
  t.is(allowed.pool, 'default');
  t.is((await ended(allowed.id)).state, 'COMPLETED');

  const view = (await api<PolicyView>(m.url, 'GET', '/policy?user=bob', { token: tokens.admin })).body;
  t.like(view.rules.find((r) => r.rule === 'pools.allow'), { value: ['default'], layer: 'groups.students' });
  const others = (await api<PolicyView>(m.url, 'GET', '/policy?user=carol', { token: tokens.admin })).body;
  t.like(others.rules.find((r) => r.rule === 'pools.allow'), { value: ['*'], layer: 'system', isDefault: true });
});

test.serial('yard pool list: its table and JSON match what runs in each pool and what waits', async (t) => {
  // dave: two 1-GPU tasks fill gpu-1's two fake GPUs; a third waits for the pool; one runs in default.
  const gpuTasks = [await submitOk('dave', 'sleep 30', { pool: 'gpu', config: { resources: { gpus: 1, cpu: 0.5, memory: '64Mi' } } })];
  gpuTasks.push(await submitOk('dave', 'sleep 30', { pool: 'gpu', config: { resources: { gpus: 1, cpu: 0.5, memory: '64Mi' } } }));
  const cpuTask = await submitOk('dave', 'sleep 30', { config: { resources: { cpu: 1 } } });
  await waitFor('the three to run', async () => (await Promise.all([...gpuTasks, cpuTask].map((x) => getTask(x.id)))).every((x) => x.state === 'RUNNING'));
  const waiting = await submitOk('dave', 'true', { pool: 'gpu', config: { resources: { gpus: 1 } } });
  await waitFor('the fourth to wait for the pool', async () => (await getTask(waiting.id)).pendingReason === 'NO_AGENT_FITS');

  const list = await pools();
  const gpu = list.find((p) => p.name === 'gpu')!;
  const byDefault = list.find((p) => p.name === 'default')!;
  t.like(gpu, { manager: 'agents', description: 'the machines with GPUs', default: false, nodes: 1, capacity: { gpus: 2 }, use: { tasks: 2, gpus: 2, cpu: 1, memory: 2 * 64 * 1024 ** 2 } });
  t.like(gpu.queue, { length: 1 });
  t.true(gpu.queue.oldestWaitSeconds! >= 0 && gpu.queue.oldestCreatedAt !== null);
  t.like(byDefault, { manager: 'agents', default: true, nodes: 1, capacity: { gpus: 0 }, use: { tasks: 1, gpus: 0, cpu: 1 }, queue: { length: 0, oldestWaitSeconds: null } });
  t.deepEqual(gpu.details, { agents: ['gpu-1'] }, 'see_status holders see the agents');
  const asDave = (await pools('dave')).find((p) => p.name === 'gpu')!;
  t.is(asDave.details, null, 'others see the figures, not the agents');
  t.like(asDave, { use: { tasks: 2, gpus: 2 }, queue: { length: 1 } });

  const dave = await signedIn('dave');
  const table = (await dave.run(['pool', 'list'])).stdout.split('\n');
  t.regex(table[0]!, /^NAME\s+MANAGER\s+DEFAULT\s+NODES\s+CPU\s+MEMORY \(GiB\)\s+GPUS\s+TASKS\s+QUEUED\s+OLDEST WAIT$/);
  const cpus = (name: string) => list.find((p) => p.name === name)!.capacity.cpu;
  t.regex(table.find((l) => l.startsWith('default '))!, new RegExp(`^default\\s+agents\\s+yes\\s+1\\s+1/${cpus('default')}\\s+\\S+\\s+0/0\\s+1\\s+0\\s+-$`));
  t.regex(table.find((l) => l.startsWith('gpu '))!, new RegExp(`^gpu\\s+agents\\s+-\\s+1\\s+1/${cpus('gpu')}\\s+0\\.1/\\S+\\s+2/2\\s+2\\s+1\\s+\\d+[smhd]( \\d+[smh])?$`));
  const json = await dave.json<{ items: PoolView[] }>(['pool', 'list']);
  t.deepEqual(json.items.map((p) => [p.name, p.use.tasks, p.queue.length]), [['default', 1, 0], ['gpu', 2, 1]]);

  // The agents list says which pool each agent serves.
  const admin = await signedIn('admin');
  t.regex((await admin.run(['agent', 'list'])).stdout, /^gpu-1\s+gpu\s+alive/m);

  for (const task of [...gpuTasks, cpuTask]) await api(m.url, 'POST', `/tasks/${task.id}/kill`, { token: tokens.dave });
  t.is((await ended(waiting.id)).state, 'COMPLETED', 'the waiting task runs once the GPUs are free');
  await waitFor('the pools to empty', async () => (await pools()).every((p) => p.use.tasks === 0));
});

test.serial("quotas count across pools: a user's quota of 2 running tasks holds across both pools together", async (t) => {
  const quota = await api(m.url, 'POST', '/quotas', { token: tokens.admin, body: { name: 'carol-two', maxRunning: 2 } });
  t.is(quota.status, 201);
  t.is((await api(m.url, 'POST', '/quotas/carol-two/assignments', { token: tokens.admin, body: { user: 'carol' } })).status, 201);
  // Two run in gpu; the third, in default where there is room, waits for the quota, and starts as one of them ends.
  const first = [await submitOk('carol', 'sleep 2', { pool: 'gpu' }), await submitOk('carol', 'sleep 3', { pool: 'gpu' })];
  await waitFor('both to run', async () => (await Promise.all(first.map((x) => getTask(x.id)))).every((x) => x.state === 'RUNNING'));
  const third = await submitOk('carol', 'sleep 1', { pool: 'default' });
  await waitFor('the third to wait for the quota', async () => (await getTask(third.id)).pendingReason === 'QUOTA_RUNNING_USER');
  // More of both, alternating: whichever pool has room, never more than 2 of carol's at once.
  const more = [];
  for (let i = 0; i < 6; i++) more.push(await submitOk('carol', 'sleep 0.5', { pool: i % 2 === 0 ? 'gpu' : 'default' }));
  const all = await Promise.all([...first, third, ...more].map((x) => ended(x.id)));
  t.true(all.every((x) => x.state === 'COMPLETED'), JSON.stringify(all.map((x) => [x.id, x.state, x.message])));
  t.is(peak(all), 2, 'at most 2 at once across both pools, from the tasks own start and end times');
  const thirdDone = all.find((x) => x.id === third.id)!;
  t.true(Date.parse(thirdDone.startedAt!) >= Math.min(...all.filter((x) => first.some((f) => f.id === x.id)).map((x) => Date.parse(x.endedAt!))), 'the default-pool task started only once a gpu task had ended');
  t.deepEqual([...new Set(all.map((x) => x.agent))].sort(), ['cpu-1', 'gpu-1'], 'both pools ran them');
  await api(m.url, 'DELETE', '/quotas/carol-two', { token: tokens.admin });
});

const slurm = testSlurm('the quota test across an agents pool and a Slurm pool');
(slurm ? test.serial : test.skip)("quotas count across an agents pool and a Slurm pool: a user's quota of 2 running tasks holds across both together", async (t) => {
  t.timeout(240_000);
  const own = tempDir('yard-pools-slurm-');
  const jobDir = mkdtempSync(path.join(os.tmpdir(), 'yard-slurm-jobs-'));
  chmodSync(jobDir, 0o1777);
  const unix = new UnixUsers('ypq');
  const both = await startTestMaster(
    { agents: { ...FAST_AGENTS, token_file: path.join(own, 'agent.token') }, pools: { default: { manager: 'agents' }, hpc: slurmPoolSettings(slurm!, jobDir) } },
    own,
  );
  const agent = startAgent({ url: both.url, tokenFile: path.join(own, 'agent.token') }, { name: 'cpu-q', executor: 'process' });
  t.teardown(async () => {
    await agent.kill('SIGKILL');
    await both.stop();
    unix.removeAll();
    rmSync(jobDir, { recursive: true, force: true });
  });
  const admin = await loginToken(both.url, 'admin');
  const erin = unix.create();
  await api(both.url, 'POST', '/users', { token: admin, body: { username: 'erin', password: 'pw' } });
  t.is((await api(both.url, 'PUT', '/users/erin/agent-user', { token: admin, body: { uid: erin.uid, user: erin.name, gid: erin.gid, group: erin.name } })).status, 200);
  t.is((await api(both.url, 'POST', '/quotas', { token: admin, body: { name: 'erin-two', maxRunning: 2 } })).status, 201);
  t.is((await api(both.url, 'POST', '/quotas/erin-two/assignments', { token: admin, body: { user: 'erin' } })).status, 201);
  const token = await loginToken(both.url, 'erin', 'pw');
  const run = async (command: string, pool: string) => {
    const created = await api<Task>(both.url, 'POST', '/tasks', { token, body: { kind: 'command', config: { entrypoint: ['sh', '-c', command] }, pool } });
    if (created.status !== 201) throw new Error(JSON.stringify(created.body));
    return created.body;
  };
  const read = async (id: number) => (await api<Task>(both.url, 'GET', `/tasks/${id}`, { token })).body;
  await waitFor('the agent to register', async () => (await api<{ items: PoolView[] }>(both.url, 'GET', '/pools', { token })).body.items.find((p) => p.name === 'default')?.nodes === 1);
  // Two run in the Slurm pool; the third, in the agents pool where there is room, waits for the quota.
  const first = [await run('sleep 3', 'hpc'), await run('sleep 4', 'hpc')];
  await waitFor('both Slurm tasks to run', async () => (await Promise.all(first.map((x) => read(x.id)))).every((x) => x.state === 'RUNNING'), 60_000);
  const third = await run('sleep 1', 'default');
  await waitFor('the third to wait for the quota', async () => (await read(third.id)).pendingReason === 'QUOTA_RUNNING_USER');
  const more = [];
  for (let i = 0; i < 6; i++) more.push(await run('sleep 1', i % 2 === 0 ? 'hpc' : 'default'));
  const all = await Promise.all(
    [...first, third, ...more].map((x) =>
      waitFor(`task ${x.id} to end`, async () => {
        const now = await read(x.id);
        return ['COMPLETED', 'FAILED', 'KILLED', 'LOST'].includes(now.state) && now;
      }, 180_000),
    ),
  );
  t.true(all.every((x) => x.state === 'COMPLETED'), JSON.stringify(all.map((x) => [x.id, x.state, x.message])));
  t.is(peak(all), 2, 'at most 2 at once across both pools, from the tasks own start and end times');
  t.deepEqual([...new Set(all.map((x) => x.pool))].sort(), ['default', 'hpc'], 'both pools ran them');
  const thirdDone = all.find((x) => x.id === third.id)!;
  t.true(Date.parse(thirdDone.startedAt!) >= Math.min(...all.filter((x) => first.some((f) => f.id === x.id)).map((x) => Date.parse(x.endedAt!))), 'the agents-pool task started only once a Slurm task had ended');
});

test.serial('an agent that names a pool master.yaml lacks is refused and stops, saying which pools there are', async (t) => {
  const stray = startAgent({ url: m.url, tokenFile: path.join(dir, 'agent.token') }, { name: 'stray-1', executor: 'process', pool: 'nope' });
  agents.push(stray);
  const code = await stray.exited;
  t.is(code, 1, stray.output());
  t.regex(stray.output(), /the master refused this agent: agent 'stray-1' names pool 'nope', which master\.yaml does not have \(pools: default, gpu\)/);
  t.false((await api<Page<{ id: string }>>(m.url, 'GET', '/agents', { token: tokens.admin })).body.items.some((a) => a.id === 'stray-1'), 'not registered');
});

test.serial('a pool whose manager cannot run as set stops the master at start, naming it; bad pool settings name their key', async (t) => {
  const bin = path.join(ROOT, 'packages', 'master', 'bin', 'yard-master.js');
  const start = async (yaml: string) => {
    const file = path.join(tempDir('yard-pools-start-'), 'master.yaml');
    writeFileSync(file, `listen: {host: 127.0.0.1, port: 0}\ndb: {path: ./t.db}\n${yaml}`);
    return runProcess(process.execPath, [bin, '--config', file], { timeoutMs: 30_000 });
  };
  const slurm = await start('pools:\n  default: {manager: agents}\n  hpc: {manager: slurm, rest_url: "http://127.0.0.1:6820", jwt_key_file: ./jwt.key, partition: debug, container: runc}\n');
  t.is(slurm.code, 1);
  t.regex(slurm.stderr, /^yard-master: refusing to start: pools\.hpc\.container: runc \(Slurm's own --container with an OCI bundle per job\) is not supported yet; use podman .* or none/m);
  const noKey = await start('pools:\n  default: {manager: agents}\n  hpc: {manager: slurm, rest_url: "http://127.0.0.1:6820", jwt_key_file: ./jwt.key, partition: debug}\n');
  t.is(noKey.code, 1);
  t.regex(noKey.stderr, /^yard-master: refusing to start: pools\.hpc\.jwt_key_file: cannot read the Slurm JWT key \/.*\/jwt\.key: ENOENT/m);
  const typo = await start('pools:\n  default: {manager: agent}\n');
  t.is(typo.code, 1);
  t.regex(typo.stderr, /pools\.default\.manager: manager must be agents or slurm/);
  const slurmKey = await start('pools:\n  hpc: {manager: slurm, rest_url: "http://127.0.0.1:6820", partition: debug, container: docker}\ndefault_pool: hpc\n');
  t.is(slurmKey.code, 1);
  t.regex(slurmKey.stderr, /pools\.hpc\.jwt_key_file/);
  t.regex(slurmKey.stderr, /pools\.hpc\.container: must be none, runc or podman/);
  const noDefault = await start('pools:\n  gpu: {manager: agents}\n');
  t.is(noDefault.code, 1);
  t.regex(noDefault.stderr, /default_pool: 'default' is not one of pools \(gpu\)/);
  const policy = await start('pools:\n  default: {manager: agents}\npolicy:\n  users:\n    bob: {pools: {allow: [gpu]}}\n');
  t.is(policy.code, 1);
  t.regex(policy.stderr, /policy\.users\.bob\.pools\.allow: 'gpu' is not a pool \(pools: default\)/);
});

test.serial('a pool taken out of master.yaml: its queued tasks wait saying so (POOL_GONE), and a group default naming it is refused with how to fix it', async (t) => {
  const own = tempDir('yard-pools-gone-');
  const before = await startTestMaster({ pools: { default: { manager: 'agents' }, old: { manager: 'agents' } } }, own);
  const admin = await loginToken(before.url, 'admin');
  await api(before.url, 'POST', '/groups', { token: admin, body: { path: 'legacy' } });
  await api(before.url, 'POST', '/groups/legacy/members', { token: admin, body: { username: 'admin' } });
  t.is((await api(before.url, 'PATCH', '/groups/legacy/pool', { token: admin, body: { defaultPool: 'old' } })).status, 200);
  const queued = await api<Task>(before.url, 'POST', '/tasks', { token: admin, body: { kind: 'command', config: { image, entrypoint: ['true'] }, pool: 'old' } });
  t.is(queued.status, 201);
  await before.stop();

  const after = await startTestMaster({}, own);
  t.teardown(() => after.stop());
  const token = await loginToken(after.url, 'admin');
  const task = (await api<Task>(after.url, 'GET', `/tasks/${queued.body.id}`, { token })).body;
  t.like(task, { state: 'QUEUED', pool: 'old', pendingReason: 'POOL_GONE' });
  t.deepEqual((await api<{ items: PoolView[] }>(after.url, 'GET', '/pools', { token })).body.items.map((p) => p.name), ['default']);
  const refused = await api(after.url, 'POST', '/tasks', { token, body: { kind: 'command', config: { image, entrypoint: ['true'] }, group: 'legacy' } });
  t.is(refused.status, 404);
  t.is(refused.body.error.code, 'POOL_NOT_FOUND');
  t.regex(refused.body.error.message, /the default pool 'old' of group legacy is not one of master\.yaml's pools any more \(pools: default\).*yard group set legacy --default-pool/);
  t.is((await api(after.url, 'POST', `/tasks/${task.id}/kill`, { token })).status, 200, 'it can still be killed');
});

test.serial("what a manager notes on a placed task (a job id, its engine's pending reason) shows in describe and JSON, and goes with the lease", async (t) => {
  // A task in a pool with no agent, placed by hand under a lease as a manager would (an agent that never comes).
  const own = tempDir('yard-pools-note-');
  const solo = await startTestMaster({ agents: { lease_timeout: '1h' }, pools: { default: { manager: 'agents' } } }, own);
  t.teardown(() => solo.stop());
  const token = await loginToken(solo.url, 'admin');
  const created = await api<Task>(solo.url, 'POST', '/tasks', { token, body: { kind: 'command', config: { image, entrypoint: ['true'] } } });
  const tasks = solo.master.services.tasks;
  const placed = (await tasks.assign(await tasks.require(created.body.id), 'nobody-1'))!;
  t.true(await tasks.notePlacement(placed.id, placed.lease_id!, { placement: 'slurm job 4711', pendingReason: 'SLURM:Priority' }));
  t.false(await tasks.notePlacement(placed.id, 'another-lease', { placement: 'slurm job 1' }), 'only under the current lease');
  const shown = (await api<Task>(solo.url, 'GET', `/tasks/${placed.id}`, { token })).body;
  t.like(shown, { state: 'ASSIGNED', placement: 'slurm job 4711', pendingReason: 'SLURM:Priority' });
  const term = new Terminal(solo.url);
  const described = await term.run(['-u', 'admin', 'task', 'describe', String(placed.id)], { env: { YARD_PASSWORD: '' } });
  t.regex(described.stdout, /^Placement:\s+slurm job 4711$/m);
  t.regex(described.stdout, /^Waiting for:\s+SLURM:Priority/m);
  // Nobody acknowledges it: past the agents pool's lease_timeout (by the master's own clock) the lease expires, and the note goes with it.
  solo.clock.advance(3_600_001);
  const back = await waitFor('the lease to expire', async () => {
    const task = (await api<Task>(solo.url, 'GET', `/tasks/${placed.id}`, { token })).body;
    return task.state === 'QUEUED' ? task : undefined;
  });
  t.like(back, { placement: null, agent: null });
  t.not(back.pendingReason, 'SLURM:Priority');
});

test.serial('a policy reload may restrict pools, but only to pools the master has', async (t) => {
  const own = tempDir('yard-pools-reload-');
  const file = path.join(own, 'master.yaml');
  const write = (allow: string) => writeFileSync(file, `pools: {default: {manager: agents}, gpu: {manager: agents}}\npolicy: {system: {pools: {allow: ${allow}}}}\n`);
  write('["*"]');
  const reloadable = await startTestMaster({ pools: { default: { manager: 'agents' }, gpu: { manager: 'agents' } } }, own, { configFile: file });
  t.teardown(() => reloadable.stop());
  const token = await loginToken(reloadable.url, 'admin');
  write('[gpu, nope]');
  const refused = await api(reloadable.url, 'POST', '/policy/reload', { token });
  t.is(refused.status, 400);
  t.is(refused.body.error.code, 'INVALID_CONFIG');
  t.regex(refused.body.error.message, /policy\.system\.pools\.allow: 'nope' is not a pool \(pools: default, gpu\).*the policy in force stays/);
  write('[gpu]');
  t.is((await api(reloadable.url, 'POST', '/policy/reload', { token })).status, 200);
  const now = await api(reloadable.url, 'POST', '/tasks/dry-run', { token, body: { kind: 'command', config: { image, entrypoint: ['true'] } } });
  t.is(now.status, 403);
  t.regex(now.body.error.message, /^pool default refused by policy\.system\.pools\.allow: it allows gpu$/);
});

const CHROMIUM = process.env.YARD_CHROMIUM ?? '/usr/bin/chromium';
if (!existsSync(CHROMIUM)) console.error(`\n!!! NO CHROMIUM at ${CHROMIUM}: the pools page test is NOT running.\n`);

(existsSync(CHROMIUM) ? test.serial : test.skip)('the web UI: everyone sees the pools page with each pool\'s figures; a task\'s page shows its pool', async (t) => {
  const task = await submitOk('alice', 'sleep 20', { pool: 'gpu', config: { resources: { gpus: 1 } } });
  await waitFor('it to run', async () => (await getTask(task.id)).state === 'RUNNING');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
  t.teardown(() => browser.close());
  const page = await (await browser.newContext({ baseURL: m.url })).newPage();
  await page.goto('/login');
  await page.getByLabel('Username').fill('alice');
  await page.getByLabel('Password').fill('pw');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/experiments$/);
  await page.getByRole('link', { name: 'Pools', exact: true }).click();
  const row = page.locator('tr[data-pool="gpu"]');
  await row.waitFor();
  t.is(await row.locator('[data-field="tasks"]').innerText(), '1');
  t.is(await row.locator('[data-field="gpus"]').innerText(), '1 / 2');
  t.regex(await row.innerText(), /the machines with GPUs/);
  t.regex(await page.locator('tr[data-pool="default"]').innerText(), /default \(default\)/);
  await page.goto(`/commands/${task.id}`);
  t.is(await page.locator('[data-field="pool"]').innerText(), 'gpu');
  await api(m.url, 'POST', `/tasks/${task.id}/kill`, { token: tokens.alice });
  await ended(task.id);
});

test.serial('yard pool list has --help with an example; every task-creating command takes --pool', async (t) => {
  const commands = [['pool', 'list'], ['command', 'run'], ['experiment', 'create'], ['notebook', 'start'], ['tensorboard', 'start'], ['shell', 'start'], ['group', 'set']];
  await eachHelp(commands, (name, help) => {
    t.is(help.code, 0, name);
    t.regex(help.stdout, /EXAMPLES\n\s+\$ yard /, name);
    if (name !== 'pool list') t.regex(help.stdout, /--(default-)?pool/, name);
  });
});
