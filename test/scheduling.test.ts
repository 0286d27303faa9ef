import { writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import type { Agent, AuditEntry, GuaranteeStatus, Page, QueueView, QuotaUsage, Task, TaskLogPage, TaskTimelineEntry, TaskWhy } from '@trainyard/shared';
import { api, loginToken } from './helpers/api.js';
import { CHROMIUM, haveChromium, launchBrowser } from './helpers/browser.js';
import { eachHelp, Terminal } from './helpers/cli.js';
import { FAST_AGENTS, startAgent, tempDir, waitFor, type AgentProcess } from './helpers/cluster.js';
import { startTestMaster, type TestMaster } from './helpers/test-master.js';

// Issue 26: quotas down the group tree with each member's share, budgets over time (the master's
// injected clock slides the window), `yard why` with every reason at once and an estimate that is
// met; guarantees with borrowing and reclaim. One master; one process agent reporting 8 FAKE GPUs in
// pool default, so that the quotas, not the agent, hold; one reporting 4 in pool quad, for the
// guarantees (reclaim preempts only when the pool itself has no room).
const AGENT = 'scheduling-1';
const QUAD = 'scheduling-quad';
/** The agents' grace between SIGTERM and SIGKILL: a preempted task is queued again within it. */
const KILL_GRACE_S = 10;
const image = process.env.YARD_TEST_IMAGE ?? 'busybox:latest';
let m: TestMaster;
let agent: AgentProcess;
let quad: AgentProcess;
let admin = '';
const tokens: Record<string, string> = {};
const terminals: Record<string, Terminal> = {};

let configDir = '';

test.before(async () => {
  const dir = tempDir('yard-scheduling-');
  configDir = dir;
  writeFileSync(path.join(dir, 'one-gpu.yaml'), 'resources:\n  gpus: 1\n');
  // The budget test moves the master's clock by hours and a day: the agent must not count as lost
  // for that (its heartbeats are on the real clock), so lost_timeout is longer than any jump.
  m = await startTestMaster(
    {
      agents: { ...FAST_AGENTS, lost_timeout: '48h', kill_grace: `${KILL_GRACE_S}s`, token_file: path.join(dir, 'agent.token') },
      pools: { default: { manager: 'agents' }, quad: { manager: 'agents', description: '4 GPUs' } },
    },
    dir,
  );
  admin = await loginToken(m.url, 'admin');
  for (const g of ['research', 'research/vision', 'research/nlp']) await api(m.url, 'POST', '/groups', { token: admin, body: { path: g } });
  const members: Record<string, string> = { alice: 'research/vision', bob: 'research/vision', carol: 'research/nlp', dave: 'research/nlp', erin: 'research/nlp' };
  for (const [name, group] of Object.entries(members)) {
    await api(m.url, 'POST', '/users', { token: admin, body: { username: name, password: 'pw' } });
    await api(m.url, 'POST', `/groups/${encodeURIComponent(group)}/members`, { token: admin, body: { username: name } });
    tokens[name] = await loginToken(m.url, name, 'pw');
    terminals[name] = new Terminal(m.url);
    const login = await terminals[name]!.run(['user', 'login', name, '--password-stdin'], { input: 'pw\n' });
    if (login.code !== 0) throw new Error(login.stderr);
  }
  agent = startAgent({ url: m.url, tokenFile: path.join(dir, 'agent.token') }, { name: AGENT, executor: 'process', fakeGpus: 8 });
  quad = startAgent({ url: m.url, tokenFile: path.join(dir, 'agent.token') }, { name: QUAD, executor: 'process', fakeGpus: 4, pool: 'quad' });
  await waitFor('the agents to register', async () => {
    const agents = (await api<Page<Agent>>(m.url, 'GET', '/agents', { token: admin })).body.items;
    return (
      agents.some((a) => a.id === AGENT && a.state === 'alive' && a.resources.gpus.length === 8) &&
      agents.some((a) => a.id === QUAD && a.state === 'alive' && a.pool === 'quad' && a.resources.gpus.length === 4)
    );
  });
});

test.after.always(async () => {
  await agent?.kill('SIGKILL');
  await quad?.kill('SIGKILL');
  await m?.stop();
});

const yardAdmin = () => {
  const term = new Terminal(m.url);
  return (args: string[]) => term.run(['-u', 'admin', ...args], { env: { YARD_PASSWORD: '' } });
};
const ok = async (result: Promise<{ code: number; stdout: string; stderr: string }>) => {
  const r = await result;
  if (r.code !== 0) throw new Error(`yard failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r;
};
/** `yard command run` as `user`, in `group`, asking `gpus`: the task's id. */
const run = async (user: string, group: string, command: string, extra: string[] = []) => {
  const task = await terminals[user]!.json<Task>(['command', 'run', '--group', group, '--image', image, ...extra, '--', 'sh', '-c', command]);
  return task.id;
};
/** `-c` with a config asking one GPU. */
const oneGpu = () => ['-c', path.join(configDir, 'one-gpu.yaml')];
const getTask = async (id: number) => (await api<Task>(m.url, 'GET', `/tasks/${id}`, { token: admin })).body;
const waitState = (id: number, states: string[], ms = 30_000) =>
  waitFor(`task ${id} to be ${states.join(' or ')}`, async () => {
    const task = await getTask(id);
    return states.includes(task.state) ? task : undefined;
  }, ms);
const waitReason = (id: number, reason: string) => waitFor(`task ${id} to wait with ${reason}`, async () => (await getTask(id)).pendingReason === reason);
const kill = (id: number) => api(m.url, 'POST', `/tasks/${id}/kill`, { token: admin });

test.serial("a quota of 4 GPUs on research holds for research/vision and research/nlp together; --per-user 2 stops one person at 2 while others run; yard why lists both reasons", async (t) => {
  const yard = yardAdmin();
  await ok(yard(['quota', 'create', 'research-gpus', '--gpus', '4', '--per-user', '2']));
  await ok(yard(['quota', 'assign', 'research-gpus', '--group', 'research']));
  const a1 = await run('alice', 'research/vision', 'sleep 300', oneGpu());
  const a2 = await run('alice', 'research/vision', 'sleep 300', oneGpu());
  await waitState(a1, ['RUNNING']);
  await waitState(a2, ['RUNNING']);
  // Alice has her 2: her third waits for her share, while bob (her group) and carol (its sibling) still run.
  const a3 = await run('alice', 'research/vision', 'sleep 300', oneGpu());
  await waitReason(a3, 'QUOTA_GPUS_PER_USER:research');
  const b1 = await run('bob', 'research/vision', 'sleep 300', oneGpu());
  const c1 = await run('carol', 'research/nlp', 'sleep 300', oneGpu());
  await waitState(b1, ['RUNNING']);
  await waitState(c1, ['RUNNING']);
  // research now holds 4 GPUs across its two subgroups: carol's second waits for the group's quota.
  const c2 = await run('carol', 'research/nlp', 'sleep 300', oneGpu());
  await waitReason(c2, 'QUOTA_GPUS_GROUP:research');
  const running = await Promise.all([a1, a2, b1, c1].map(getTask));
  t.deepEqual(running.map((x) => x.state), ['RUNNING', 'RUNNING', 'RUNNING', 'RUNNING']);
  t.is((await getTask(a3)).state, 'QUEUED');

  // Two limits hold alice's third at once: her share and the group's whole quota. `yard why` says both.
  const why = await terminals.alice!.json<TaskWhy>(['why', String(a3)]);
  t.true(why.reasons.includes('QUOTA_GPUS_PER_USER:research'), JSON.stringify(why.reasons));
  t.true(why.reasons.includes('QUOTA_GPUS_GROUP:research'), JSON.stringify(why.reasons));
  const group = why.checks.find((c) => c.layer === 'quota' && c.resource === 'gpus');
  t.like(group, { name: 'research-gpus', used: 4, ask: 1, limit: 4, holds: true });
  const share = why.checks.find((c) => c.layer === 'per_user' && c.resource === 'gpus');
  t.like(share, { used: 2, ask: 1, limit: 2, holds: true });
  t.true(why.placement.some((p) => p.node === AGENT && p.fits), 'the agent itself has room: the quotas hold it');
  // Carol's second waits too; the queue's order (Fair Tree) is the one `yard queue` prints.
  const queued = (await api<QueueView>(m.url, 'GET', '/queue', { token: admin })).body.items.map((i) => i.id);
  t.deepEqual(queued.sort(), [a3, c2].sort());
  t.is(why.queue.length, 2);
  t.is(why.queue.position, (await api<QueueView>(m.url, 'GET', '/queue', { token: admin })).body.items.findIndex((i) => i.id === a3) + 1);
  t.deepEqual(why.queue.ahead.map((a) => a.id), why.queue.position === 2 ? [c2] : []);
  const text = await ok(terminals.alice!.run(['why', String(a3)]));
  t.regex(text.stdout, /waits for 2 reasons at once/);
  t.regex(text.stdout, /QUOTA_GPUS_PER_USER:research\s+the owner's share of group research's quota on GPUs is in use/);
  t.regex(text.stdout, /quota\s+research-gpus\s+group research \(its subtree\)\s+gpus\s+4\s+1\s+4\s+yes/);
  // describe says it too, and its --json carries the why.
  const described = await terminals.alice!.json<Task & { why: TaskWhy }>(['task', 'describe', String(a3)]);
  t.deepEqual(described.why.reasons.sort(), why.reasons.sort());
  // The task's page says the same, under "Why it waits".
  if (haveChromium) {
    const chrome = await launchBrowser([m.url]);
    try {
      const page = await (await chrome.browser.newContext({ baseURL: m.url })).newPage();
      await page.goto('/login');
      await page.getByLabel('Username').fill('alice');
      await page.getByLabel('Password').fill('pw');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(/\/experiments$/);
      await page.goto(`/commands/${a3}`);
      const section = page.getByRole('region', { name: 'Why it waits' });
      await section.locator('li[data-reason="QUOTA_GPUS_PER_USER:research"]').waitFor();
      t.is(await section.locator('li[data-reason="QUOTA_GPUS_GROUP:research"]').count(), 1);
      const holding = await section.locator('table.why-checks tr[data-holds="yes"]').allInnerTexts();
      t.true(holding.some((row) => /quota\s+research-gpus\s+.*gpus\s+4\s+1\s+4\s+yes/.test(row)), holding.join(' | '));
      t.true(holding.some((row) => /per_user\s+.*gpus\s+2\s+1\s+2\s+yes/.test(row)), holding.join(' | '));
      t.regex(await section.locator('.why-queue').innerText(), new RegExp(`^${why.queue.position} of 2 in pool default`));
      t.regex(await section.locator('.why-placement').innerText(), new RegExp(`${AGENT}: fits`));
      t.deepEqual(chrome.takeErrors(), []);
    } finally {
      await chrome.close();
    }
  } else {
    t.log(`!!! NO CHROMIUM at ${CHROMIUM}: the task page's "Why it waits" is NOT checked`);
  }
  // quota show: the group's use (4 of 4) and alice's share (2 of 2) inside it.
  const usage = await terminals.alice!.json<QuotaUsage>(['quota', 'show']);
  const lines = usage.quotas.find((q) => q.quota === 'research-gpus')!.lines;
  t.deepEqual(lines.find((l) => l.resource === 'gpus' && !l.scope), { resource: 'gpus', used: 4, limit: 4 });
  t.deepEqual(lines.find((l) => l.resource === 'gpus' && l.scope === 'per user'), { resource: 'gpus', used: 2, limit: 2, scope: 'per user' });

  // Carol's first ends: room under the group's quota, which carol's second takes (her share is 1 of 2); alice's third still waits for hers.
  await kill(c1);
  await waitState(c1, ['KILLED']);
  await waitState(c2, ['RUNNING']);
  t.is((await getTask(a3)).state, 'QUEUED');
  t.true((await terminals.alice!.json<TaskWhy>(['why', String(a3)])).reasons.includes('QUOTA_GPUS_PER_USER:research'));
  for (const id of [a1, a2, a3, b1, c2]) await kill(id);
  for (const id of [a1, a2, a3, b1, c2]) await waitState(id, ['KILLED']);
  await ok(yard(['quota', 'delete', 'research-gpus']));
});

test.serial('a budget of 1 GPU-hour per rolling day: told at 80%, the next task waits with BUDGET_GPU_HOURS_USER, and runs once the window slides (injected clock)', async (t) => {
  const yard = yardAdmin();
  await ok(yard(['quota', 'create', 'daily', '--gpu-hours', '1', '--window', '1d']));
  await ok(yard(['quota', 'assign', 'daily', '--user', 'dave']));
  const first = await run('dave', 'research/nlp', 'sleep 600', oneGpu());
  await waitState(first, ['RUNNING']);
  // 51 minutes of the master's clock: 0.85 GPU-hours spent, past 80%: the owner is told in the task's log, the admins in the audit log.
  m.clock.advance(51 * 60_000);
  const warned = await waitFor('the 80% warning in the log', async () => {
    const page = (await api<TaskLogPage>(m.url, 'GET', `/tasks/${first}/logs?limit=1000`, { token: tokens.dave })).body;
    return page.items.find((l) => /budget 'daily' of user dave: 0\.8\d of 1 GPU-hours used over the last 1d \(8\d%\)/.test(l.line));
  });
  t.truthy(warned);
  const audit = (await api<Page<AuditEntry>>(m.url, 'GET', '/audit?limit=200', { token: admin })).body.items;
  const warning = audit.find((e) => e.action === 'budget.warning');
  t.like(warning, { target: 'dave', actor: '(budgets)' });
  // Past the budget.
  m.clock.advance(10 * 60_000);
  await waitFor('the budget to be spent', async () =>
    (await api<Page<AuditEntry>>(m.url, 'GET', '/audit?limit=200', { token: admin })).body.items.some((e) => e.action === 'budget.spent' && e.target === 'dave'),
  );
  const second = await run('dave', 'research/nlp', 'sleep 1', oneGpu());
  await waitReason(second, 'BUDGET_GPU_HOURS_USER');
  // A task asking no GPU is not held by a GPU-hour budget.
  const cpuOnly = await run('dave', 'research/nlp', 'true');
  t.is((await waitState(cpuOnly, ['COMPLETED'])).state, 'COMPLETED');
  const why = await terminals.dave!.json<TaskWhy>(['why', String(second)]);
  const budget = why.checks.find((c) => c.layer === 'budget');
  t.like(budget, { name: 'daily', resource: 'gpu_hours', limit: 1, holds: true, reason: 'BUDGET_GPU_HOURS_USER' });
  t.true(budget!.used >= 1, JSON.stringify(budget));

  await kill(first);
  await waitState(first, ['KILLED']);
  t.is((await getTask(second)).state, 'QUEUED', 'the window still holds the hour the first task ran');
  // A day later (the master's clock) the hour has left the window: the second task runs.
  m.clock.advance(24 * 3600_000);
  t.is((await waitState(second, ['COMPLETED'], 30_000)).state, 'COMPLETED');
  await ok(yard(['quota', 'delete', 'daily']));
});

test.serial("yard why's estimated start, from known run lengths in the ledger, is met within its stated error", async (t) => {
  const yard = yardAdmin();
  await ok(yard(['quota', 'create', 'one-at-a-time', '--max-running', '1']));
  await ok(yard(['quota', 'assign', 'one-at-a-time', '--user', 'erin']));
  // Three runs of `train` (2 s each) give the ledger its run lengths and start delays.
  const history = [];
  for (let i = 0; i < 3; i++) history.push(await run('erin', 'research/nlp', 'sleep 2', ['--name', 'train']));
  for (const id of history) await waitState(id, ['COMPLETED'], 60_000);
  const blocker = await run('erin', 'research/nlp', 'sleep 2', ['--name', 'train']);
  const target = await run('erin', 'research/nlp', 'sleep 1', ['--name', 'train']);
  await waitState(blocker, ['RUNNING']);
  await waitReason(target, 'QUOTA_RUNNING_USER');
  const why = await terminals.erin!.json<TaskWhy>(['why', String(target)]);
  t.not(why.estimate.startAt, null, JSON.stringify(why.estimate));
  t.is(why.estimate.confidence, 'high', JSON.stringify(why.estimate));
  t.true(why.estimate.basis.some((b) => /runs of the same name/.test(b)), JSON.stringify(why.estimate.basis));
  const started = await waitState(target, ['RUNNING', 'COMPLETED']);
  // The task's own timestamps (the master's clock), against the estimate and its stated error.
  const off = Math.abs(Date.parse(started.startedAt!) - Date.parse(why.estimate.startAt!)) / 1000;
  t.true(off <= why.estimate.errorSeconds!, `started ${started.startedAt}, estimated ${why.estimate.startAt} ± ${why.estimate.errorSeconds} s (off by ${off} s)`);
  await waitState(target, ['COMPLETED']);
  await ok(yard(['quota', 'delete', 'one-at-a-time']));
});

test.serial('--priority orders the owner\'s own queue, never ahead of others; an admin sets a group\'s fair-share weight', async (t) => {
  const yard = yardAdmin();
  await ok(yard(['quota', 'create', 'hold-all', '--max-running', '0']));
  await ok(yard(['quota', 'assign', 'hold-all', '--group', 'research']));
  const low = await run('bob', 'research/vision', 'true');
  const high = await run('bob', 'research/vision', 'true', ['--priority', '10']);
  const other = await run('carol', 'research/nlp', 'true');
  await waitReason(other, 'QUOTA_RUNNING_GROUP:research');
  const queue = await terminals.bob!.json<QueueView>(['queue']);
  const order = queue.items.map((i) => i.id);
  t.true(order.indexOf(high) < order.indexOf(low), `bob's priority 10 task before his older one: ${order}`);
  t.is(queue.items.find((i) => i.id === high)!.priority, 10);
  t.regex((await ok(terminals.bob!.run(['queue']))).stdout, /PRIO/);
  // A weight out of range is refused; a good one is shown on the group.
  const bad = await yard(['group', 'set', 'research/vision', '--fair-share-weight', '-1']);
  t.is(bad.code, 2);
  const set = await ok(yard(['group', 'set', 'research/vision', '--fair-share-weight', '3']));
  t.regex(set.stdout, /Fair-share weight:\s+3/);
  const refused = await api(m.url, 'PATCH', '/groups/research/fair-share', { token: tokens.bob, body: { weight: 2 } });
  t.is(refused.status, 403);
  t.regex(refused.body.error.message, /change_config/);
  for (const id of [low, high, other]) await kill(id);
  await ok(yard(['quota', 'delete', 'hold-all']));
});

test.serial('pending reasons hold for every queued task, not the first 200: 300 of erin\'s behind a quota of none each say QUOTA_RUNNING_USER', async (t) => {
  const yard = yardAdmin();
  await ok(yard(['quota', 'create', 'erin-none', '--max-running', '0']));
  await ok(yard(['quota', 'assign', 'erin-none', '--user', 'erin']));
  const ids: number[] = [];
  for (let batch = 0; batch < 6; batch++) {
    const created = await Promise.all(
      Array.from({ length: 50 }, () => api<Task>(m.url, 'POST', '/tasks', { token: tokens.erin, body: { kind: 'command', config: { image, entrypoint: ['true'] } } })),
    );
    for (const answer of created) {
      if (answer.status !== 201) throw new Error(JSON.stringify(answer.body));
      ids.push(answer.body.id);
    }
  }
  const reasons = async () => {
    const items: Task[] = [];
    let after: string | undefined;
    do {
      const page = (await api<Page<Task>>(m.url, 'GET', `/tasks?owner=erin&state=QUEUED&limit=500${after ? `&after=${encodeURIComponent(after)}` : ''}`, { token: admin })).body;
      items.push(...page.items);
      after = page.next ?? undefined;
    } while (after);
    return items;
  };
  const queued = await waitFor('every queued task of erin to have its reason', async () => {
    const items = await reasons();
    return items.length === 300 && items.every((task) => task.pendingReason === 'QUOTA_RUNNING_USER') ? items : undefined;
  }, 60_000);
  t.deepEqual(queued.map((task) => task.id).sort((a, b) => a - b), ids.sort((a, b) => a - b));
  // The last of them, 300th in erin's queue, is explained as the first is.
  const last = await terminals.erin!.json<TaskWhy>(['why', String(ids[ids.length - 1])]);
  t.deepEqual(last.reasons, ['QUOTA_RUNNING_USER']);
  for (let i = 0; i < ids.length; i += 50) await Promise.all(ids.slice(i, i + 50).map((id) => kill(id)));
  await waitFor('erin\'s tasks to end', async () => (await reasons()).length === 0, 60_000);
  await ok(yard(['quota', 'delete', 'erin-none']));
});

test.serial('hostile input: a --per-user that names nothing, a bad window, a budget window without a budget, a priority out of range: clear errors, nothing stored', async (t) => {
  const post = (body: unknown) => api(m.url, 'POST', '/quotas', { token: admin, body });
  t.regex((await post({ name: 'p1', maxRunning: 2, gpus: 4, perUser: 1 })).body.error.message, /name them/);
  t.regex((await post({ name: 'p2', maxSubmitted: 4, perUser: 1 })).body.error.message, /needs a limit on running tasks, GPUs, CPUs or memory/);
  t.regex((await post({ name: 'p3', gpuHours: 1, window: 'fortnight' })).body.error.message, /"fortnight" is not "month" or a rolling duration/);
  t.regex((await post({ name: 'p4', maxRunning: 1, window: '1d' })).body.error.message, /give gpuHours or cpuHours/);
  t.is((await post({ name: 'p5', gpuHours: -1 })).status, 400);
  t.is((await post({ name: 'p6', maxRunning: 1, pool: 'nope' })).body.error.code, 'POOL_NOT_FOUND');
  const quotas = (await api<{ items: Array<{ name: string }> }>(m.url, 'GET', '/quotas', { token: admin })).body.items.map((q) => q.name);
  t.false(quotas.some((n) => /^p\d$/.test(n)), 'nothing stored');
  const priority = await terminals.bob!.run(['command', 'run', '--priority', '500', '--', 'true']);
  t.is(priority.code, 2);
  t.regex(priority.stderr, /--priority must be a whole number from -100 to 100, got '500'/);
  const viaApi = await api(m.url, 'POST', '/tasks', { token: tokens.bob, body: { kind: 'command', config: { image, entrypoint: ['true'], priority: 101 } } });
  t.is(viaApi.status, 400);
  t.regex(viaApi.body.error.message, /priority must be -100\.\.100/);
  const why = await api(m.url, 'GET', '/tasks/999999/why', { token: admin });
  t.is(why.body.error.code, 'TASK_NOT_FOUND');
});

test.serial("two siblings with a guarantee of 2 GPUs each on a 4-GPU pool: one borrows all 4 while the other is idle; the other's task reclaims one (the newest borrowed task preempted and queued again within the grace period); a non-preemptible task never borrows", async (t) => {
  const yard = yardAdmin();
  for (const group of ['research/vision', 'research/nlp']) await ok(yard(['quota', 'guarantee', 'set', group, '--pool', 'quad', '--gpus', '2']));
  const inQuad = ['--pool', 'quad', ...oneGpu()];
  // Within vision's guarantee: two run.
  const a1 = await run('alice', 'research/vision', 'sleep 300', inQuad);
  const a2 = await run('alice', 'research/vision', 'sleep 300', inQuad);
  await waitState(a1, ['RUNNING']);
  await waitState(a2, ['RUNNING']);
  // A task that may not be preempted does not borrow, though the pool has 2 GPUs free.
  const fixed = await run('alice', 'research/vision', 'sleep 300', [...inQuad, '--no-preempt']);
  await waitReason(fixed, 'NO_BORROW_GPUS:research/vision');
  const fixedWhy = await terminals.alice!.json<TaskWhy>(['why', String(fixed)]);
  t.deepEqual(fixedWhy.reasons, ['NO_BORROW_GPUS:research/vision']);
  t.true(fixedWhy.placement.some((p) => p.node === QUAD && p.fits), 'the pool has room: the guarantee holds it');
  // Preemptible ones borrow what nlp leaves idle: vision holds all 4.
  const a3 = await run('alice', 'research/vision', 'sleep 300', inQuad);
  const a4 = await run('alice', 'research/vision', 'sleep 300', inQuad);
  await waitState(a3, ['RUNNING']);
  await waitState(a4, ['RUNNING']);
  t.is((await getTask(fixed)).state, 'QUEUED');
  const statuses = (await terminals.alice!.json<{ items: GuaranteeStatus[] }>(['quota', 'guarantee', 'list', '--pool', 'quad'])).items;
  t.like(statuses.find((g) => g.group === 'research/vision'), { cohort: 'research', guaranteed: { gpus: 2 }, inUse: { gpus: 4 }, borrowed: { gpus: 2 }, lent: { gpus: 0 } });
  t.like(statuses.find((g) => g.group === 'research/nlp'), { guaranteed: { gpus: 2 }, inUse: { gpus: 0 }, borrowed: { gpus: 0 }, lent: { gpus: 2 } });
  t.regex((await ok(terminals.alice!.run(['queue']))).stdout, /Guarantees:\n.*BORROWED[\s\S]*research\/vision\s+quad\s+research/);

  // Carol (nlp) submits: the newest borrowed task (a4) is preempted, queued again, and her task starts.
  const c1 = await run('carol', 'research/nlp', 'sleep 300', inQuad);
  await waitState(c1, ['RUNNING']);
  const preempted = await waitFor('a4 to be queued again', async () => {
    const task = await getTask(a4);
    return task.state === 'QUEUED' && task.preemptions === 1 ? task : undefined;
  });
  t.is(preempted.agent, null);
  for (const id of [a1, a2, a3]) t.is((await getTask(id)).state, 'RUNNING', `task ${id} kept running: one preemption was enough`);
  // Its timeline: the preemption asked, then QUEUED, within the agents' grace period (the master's own timestamps).
  const timeline = (await api<{ items: TaskTimelineEntry[] }>(m.url, 'GET', `/tasks/${a4}/timeline`, { token: admin })).body.items;
  const asked = timeline.findLast((e) => e.event === 'kill_requested');
  t.regex(asked?.detail ?? '', /^PREEMPTED: group research\/nlp needs 1 GPUs of its guarantee in pool quad, which group research\/vision borrowed/);
  const requeued = timeline.find((e) => e.event === 'state' && e.state === 'QUEUED' && Date.parse(e.at) >= Date.parse(asked!.at));
  t.truthy(requeued, JSON.stringify(timeline));
  t.true(Date.parse(requeued!.at) - Date.parse(asked!.at) <= KILL_GRACE_S * 1000, JSON.stringify(timeline));
  // Its log says why, and the admins' audit log has it.
  const logs = (await api<TaskLogPage>(m.url, 'GET', `/tasks/${a4}/logs?limit=1000`, { token: tokens.alice })).body.items.map((l) => l.line);
  t.true(logs.some((l) => /^\[trainyard\] preempted: PREEMPTED: group research\/nlp needs/.test(l)), logs.join('\n'));
  const audit = (await api<Page<AuditEntry>>(m.url, 'GET', '/audit?limit=200', { token: admin })).body.items;
  t.true(audit.some((e) => e.action === 'task.preempt' && e.target === String(a4)));
  // It waits now for its cohort (nlp uses what it lent), not to run again and be preempted again.
  await waitFor('a4 to wait for the cohort', async () => {
    const why = await terminals.alice!.json<TaskWhy>(['why', String(a4)]);
    return why.reasons.includes('COHORT_GPUS:research/vision');
  });
  t.is((await getTask(a4)).preemptions, 1);

  for (const id of [a1, a2, a3, a4, fixed, c1]) await kill(id);
  for (const id of [a1, a2, a3, a4, fixed, c1]) await waitState(id, ['KILLED']);
  for (const group of ['research/vision', 'research/nlp']) await ok(yard(['quota', 'guarantee', 'delete', group, '--pool', 'quad']));
});

test.serial('every new command has --help with an example', async (t) => {
  await eachHelp([['why'], ['quota', 'guarantee', 'set'], ['quota', 'guarantee', 'list'], ['quota', 'guarantee', 'delete'], ['quota', 'create'], ['group', 'set']], (name, help) => {
    t.is(help.code, 0, name);
    t.regex(help.stdout, /EXAMPLES\n\s+\$ yard /, name);
  });
  const run = await new Terminal('http://127.0.0.1:1').run(['command', 'run', '--help']);
  t.regex(run.stdout, /--priority/);
  t.regex(run.stdout, /--\[no-\]preempt/);
});
