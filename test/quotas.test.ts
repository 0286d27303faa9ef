import path from 'node:path';
import test from 'ava';
import type { Agent, Page, QueueView, Quota, QuotaUsage, Task, TaskLogPage, TaskSummary } from '@trainyard/shared';
import { api, loginToken, type OrError } from './helpers/api.js';
import { CHROMIUM, failOnConsoleErrors, haveChromium, launchBrowser } from './helpers/browser.js';
import { eachHelp, Terminal } from './helpers/cli.js';
import { FAST_AGENTS, startAgent, tempDir, waitFor, type AgentProcess } from './helpers/cluster.js';
import { startTestMaster, type TestMaster } from './helpers/test-master.js';
import { peak } from './helpers/timeline.js';

// One master, one process agent reporting 4 FAKE GPUs (the agent's test mode), for the whole file.
// Each test uses its own users so that their quotas and tasks do not meet.
const AGENT = 'quotas-1';
const image = process.env.YARD_TEST_IMAGE ?? 'busybox:latest';
let m: TestMaster;
let agent: AgentProcess;
let admin = '';
const tokens: Record<string, string> = {};

test.before(async () => {
  const dir = tempDir('yard-quotas-');
  m = await startTestMaster({ agents: { ...FAST_AGENTS, token_file: path.join(dir, 'agent.token') }, tasks: { runtime_warning: '4s' } }, dir);
  admin = await loginToken(m.url, 'admin');
  for (const name of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'gina', 'hal', 'ivy']) {
    await api(m.url, 'POST', '/users', { token: admin, body: { username: name, password: 'pw' } });
    tokens[name] = await loginToken(m.url, name, 'pw');
  }
  agent = startAgent({ url: m.url, tokenFile: path.join(dir, 'agent.token') }, { name: AGENT, executor: 'process', fakeGpus: 4 });
  await waitFor('the agent to register', async () => {
    const agents = (await api<Page<Agent>>(m.url, 'GET', '/agents', { token: admin })).body.items;
    return agents.some((a) => a.id === AGENT && a.state === 'alive' && a.resources.gpus.length === 4);
  });
});

test.after.always(async () => {
  await agent?.kill('SIGKILL');
  await m?.stop();
});

const quota = async (body: Record<string, unknown>) => {
  const created = await api<Quota>(m.url, 'POST', '/quotas', { token: admin, body });
  if (created.status !== 201) throw new Error(JSON.stringify(created.body));
  return created.body;
};
const assign = async (name: string, to: { user?: string; group?: string }) => {
  const result = await api(m.url, 'POST', `/quotas/${name}/assignments`, { token: admin, body: to });
  if (result.status !== 201) throw new Error(JSON.stringify(result.body));
};
const submit = (user: string, command: string, extra: Record<string, unknown> = {}) =>
  api<OrError<Task>>(m.url, 'POST', '/tasks', { token: tokens[user], body: { kind: 'command', config: { image, entrypoint: ['sh', '-c', command], ...extra } } });
const submitOk = async (user: string, command: string, extra: Record<string, unknown> = {}) => {
  const created = await submit(user, command, extra);
  if (created.status !== 201) throw new Error(JSON.stringify(created.body));
  return created.body;
};
const getTask = async (id: number) => (await api<Task>(m.url, 'GET', `/tasks/${id}`, { token: admin })).body;
const ended = (id: number) =>
  waitFor(`task ${id} to end`, async () => {
    const task = await getTask(id);
    return ['COMPLETED', 'FAILED', 'KILLED', 'LOST'].includes(task.state) ? task : undefined;
  }, 90_000);
const kill = (id: number) => api(m.url, 'POST', `/tasks/${id}/kill`, { token: admin });


test.serial('max_running 2: two run, three wait with QUOTA_RUNNING_USER, each starts as one ends, never 3 at once', async (t) => {
  await quota({ name: 'two-at-once', maxRunning: 2 });
  await assign('two-at-once', { user: 'alice' });
  const created = [];
  for (let i = 0; i < 5; i++) created.push(await submitOk('alice', 'sleep 1.5'));
  const waiting = await waitFor('three tasks to wait with QUOTA_RUNNING_USER', async () => {
    const list = (await api<Page<TaskSummary>>(m.url, 'GET', '/tasks', { token: tokens.alice })).body.items;
    const queued = list.filter((x) => x.pendingReason === 'QUOTA_RUNNING_USER');
    return queued.length === 3 ? queued : undefined;
  });
  t.is(waiting.length, 3);
  t.is((await getTask(waiting[0]!.id)).pendingReason, 'QUOTA_RUNNING_USER', 'describe (GET /tasks/:id) shows the reason');
  const done = await Promise.all(created.map((c) => ended(c.id)));
  t.true(done.every((d) => d.state === 'COMPLETED'), JSON.stringify(done.map((d) => [d.id, d.state, d.message])));
  t.is(peak(done), 2, 'at most 2 at once, from the tasks own start and end times');
  t.true(done.every((d) => d.pendingReason === null), 'no reason once it left the queue');
});

test.serial("group research with gpus: 2 (fake GPUs): alice's and bob's tasks together never hold more than 2", async (t) => {
  await api(m.url, 'POST', '/groups', { token: admin, body: { path: 'research' } });
  for (const user of ['alice', 'bob']) await api(m.url, 'POST', '/groups/research/members', { token: admin, body: { username: user } });
  await quota({ name: 'research-gpus', gpus: 2 });
  await assign('research-gpus', { group: 'research' });
  const created = [];
  for (const user of ['alice', 'bob', 'alice', 'bob']) created.push(await submitOk(user, 'sleep 1.5', { group: 'research', resources: { gpus: 1 } }));
  await waitFor('a task to wait for the group quota', async () => {
    const list = (await api<Page<TaskSummary>>(m.url, 'GET', '/tasks?all=true', { token: admin })).body.items;
    return list.some((x) => x.pendingReason === 'QUOTA_GPUS_GROUP:research');
  });
  const done = await Promise.all(created.map((c) => ended(c.id)));
  t.true(done.every((d) => d.state === 'COMPLETED'), JSON.stringify(done.map((d) => [d.id, d.state, d.message])));
  t.is(peak(done, (x) => x.runSpec.resources.gpus), 2);
  const usage = (await api<QuotaUsage>(m.url, 'GET', '/quota-usage?group=research', { token: tokens.bob })).body;
  t.deepEqual(usage.quotas.map((q) => q.quota), ['research-gpus'], 'a member sees the group quota');
});

test.serial('max_submitted 3: the 4th submission is refused with used/limit and nothing is stored', async (t) => {
  // max_running 0 keeps them queued, so that the count is certain.
  await quota({ name: 'three-queued', maxSubmitted: 3, maxRunning: 0 });
  await assign('three-queued', { user: 'carol' });
  const ids = [];
  for (let i = 0; i < 3; i++) ids.push((await submitOk('carol', 'true')).id);
  const before = (await api<Page<TaskSummary>>(m.url, 'GET', '/tasks', { token: tokens.carol })).body.items.length;
  const refused = await submit('carol', 'true');
  t.is(refused.status, 409);
  t.is(refused.body.error!.code, 'QUOTA_EXCEEDED');
  t.regex(refused.body.error!.message, /three-queued/);
  t.regex(refused.body.error!.message, /3 of max_submitted 3/);
  t.is((await api<Page<TaskSummary>>(m.url, 'GET', '/tasks', { token: tokens.carol })).body.items.length, before, 'nothing stored');
  const mine = (await api<QuotaUsage>(m.url, 'GET', '/quota-usage', { token: tokens.carol })).body;
  t.deepEqual(mine.quotas[0]!.lines.find((l) => l.resource === 'submitted'), { resource: 'submitted', used: 3, limit: 3 });
  for (const id of ids) await kill(id);
});

test.serial('deny_on_limit: an over-limit submission is refused, not queued', async (t) => {
  await quota({ name: 'one-or-refuse', maxRunning: 1, denyOnLimit: true });
  await assign('one-or-refuse', { user: 'dave' });
  const first = await submitOk('dave', 'sleep 30');
  const second = await submit('dave', 'sleep 30');
  t.is(second.status, 409);
  t.is(second.body.error!.code, 'QUOTA_EXCEEDED');
  t.regex(second.body.error!.message, /one-or-refuse.*deny_on_limit/);
  t.is((await api<Page<TaskSummary>>(m.url, 'GET', '/tasks', { token: tokens.dave })).body.items.length, 1);
  await kill(first.id);
  await ended(first.id);
});

test.serial('50 concurrent submissions against max_running 5: never more than 5 running', async (t) => {
  await quota({ name: 'five', maxRunning: 5 });
  await assign('five', { user: 'erin' });
  const created = await Promise.all(Array.from({ length: 50 }, () => submitOk('erin', 'sleep 0.2')));
  t.is(new Set(created.map((c) => c.id)).size, 50);
  const done = await Promise.all(created.map((c) => ended(c.id)));
  t.true(done.every((d) => d.state === 'COMPLETED'), JSON.stringify(done.filter((d) => d.state !== 'COMPLETED').map((d) => [d.id, d.state, d.message])));
  t.true(peak(done) <= 5, `peak ${peak(done)}`);
});

test.serial('lowering a limit kills nothing; max_runtime kills a long task with RUNTIME_LIMIT after a warning', async (t) => {
  await quota({ name: 'frank-limits', maxRunning: 3 });
  await assign('frank-limits', { user: 'frank' });
  const running = [await submitOk('frank', 'sleep 60'), await submitOk('frank', 'sleep 60')];
  for (const r of running) await waitFor(`task ${r.id} to run`, async () => (await getTask(r.id)).state === 'RUNNING');
  const lowered = await api<Quota>(m.url, 'PATCH', '/quotas/frank-limits', { token: admin, body: { maxRunning: 0 } });
  t.is(lowered.status, 200);
  // A third task waits under the lowered limit: the scheduler has seen it, and killed nothing.
  const third = await submitOk('frank', 'sleep 60');
  await waitFor('the third task to wait', async () => (await getTask(third.id)).pendingReason === 'QUOTA_RUNNING_USER');
  for (const r of running) t.is((await getTask(r.id)).state, 'RUNNING');

  await api(m.url, 'PATCH', '/quotas/frank-limits', { token: admin, body: { maxRuntime: '5s' } });
  const killed = await Promise.all(running.map((r) => ended(r.id)));
  for (const k of killed) {
    t.is(k.state, 'KILLED');
    t.regex(k.message ?? '', /^RUNTIME_LIMIT/);
  }
  const lines = (await api<TaskLogPage>(m.url, 'GET', `/tasks/${running[0]!.id}/logs?limit=1000`, { token: admin })).body.items.map((l) => l.line);
  t.true(lines.some((l) => /will be killed in \d+s: quota 'frank-limits' allows 5s/.test(l)), lines.join('\n'));
  t.true(lines.some((l) => /stopping: RUNTIME_LIMIT/.test(l)), lines.join('\n'));
  await kill(third.id);
});

test.serial("a long queue held back by a quota hides no one else's task from the scheduler", async (t) => {
  await quota({ name: 'hal-held', maxRunning: 0 });
  await assign('hal-held', { user: 'hal' });
  // More than the scheduler reads by id (200): ivy's task comes after all of them.
  const held = await Promise.all(Array.from({ length: 210 }, () => submitOk('hal', 'true')));
  const ivys = await submitOk('ivy', 'true');
  t.is((await ended(ivys.id)).state, 'COMPLETED');
  t.is((await getTask(held[0]!.id)).pendingReason, 'QUOTA_RUNNING_USER');
  await Promise.all(held.map((h) => kill(h.id)));
  await api(m.url, 'DELETE', '/quotas/hal-held', { token: admin });
});

test.serial('hostile input: negative or absurd limits, unknown resources, missing principals: clear 4xx', async (t) => {
  const post = (body: unknown) => api(m.url, 'POST', '/quotas', { token: admin, body });
  for (const [body, pattern] of [
    [{ name: 'neg', maxRunning: -1 }, /cannot be negative/],
    [{ name: 'big', gpus: 1e9 }, /absurd/],
    [{ name: 'mem', memory: '-5GiB' }, /not a size/],
    [{ name: 'huge', memory: '9999999TiB' }, /absurd/],
    [{ name: 'rt', maxRuntime: 'forever' }, /not a positive duration/],
    [{ name: 'tpu', tpus: 4 }, /tpus/],
    [{ name: 'empty' }, /at least one limit/],
    [{ name: 'Bad Name!', maxRunning: 1 }, /quota name/],
  ] as const) {
    const result = await post(body);
    t.is(result.status, 400, JSON.stringify(body));
    t.regex(JSON.stringify(result.body.error), pattern, JSON.stringify(body));
  }
  await quota({ name: 'target', maxRunning: 1 });
  const missingUser = await api(m.url, 'POST', '/quotas/target/assignments', { token: admin, body: { user: 'nobody' } });
  t.is(missingUser.status, 404);
  t.is(missingUser.body.error.code, 'USER_NOT_FOUND');
  const missingGroup = await api(m.url, 'POST', '/quotas/target/assignments', { token: admin, body: { group: 'no/such' } });
  t.is(missingGroup.body.error.code, 'GROUP_NOT_FOUND');
  const both = await api(m.url, 'POST', '/quotas/target/assignments', { token: admin, body: { user: 'gina', group: 'research' } });
  t.is(both.status, 400);
  t.is((await api(m.url, 'PATCH', '/quotas/nope', { token: admin, body: { maxRunning: 1 } })).body.error.code, 'QUOTA_NOT_FOUND');
  t.is((await post({ name: 'target', maxRunning: 1 })).body.error.code, 'QUOTA_EXISTS');
  const byUser = await api(m.url, 'POST', '/quotas', { token: tokens.gina, body: { name: 'mine', maxRunning: 100 } });
  t.is(byUser.status, 403);
  t.regex(byUser.body.error.message, /change_config/);
  t.is((await api(m.url, 'GET', '/quota-usage?user=alice', { token: tokens.gina })).status, 403, "others' usage needs see_status");
  t.is((await api(m.url, 'GET', '/quota-usage', { token: tokens.gina })).status, 200, 'your own needs nothing');
  // The whole log (kills are in it too now, many in this file), not only its newest page.
  const audit = (await api<Page<{ action: string }>>(m.url, 'GET', '/audit?limit=500', { token: admin })).body.items.map((e) => e.action);
  for (const action of ['quota.create', 'quota.update', 'quota.assign']) t.true(audit.includes(action), action);
});

test.serial('the CLI: quota create, assign, list, show, set, unassign, delete; REASON in lists, describe and the queue', async (t) => {
  const term = new Terminal(m.url);
  const yard = (args: string[]) => term.run(['-u', 'admin', ...args], { env: { YARD_PASSWORD: '' } });
  const created = await yard(['quota', 'create', 'cli-one', '--max-running', '0', '--memory', '8GiB', '--max-runtime', '2h']);
  t.is(created.code, 0, created.stderr);
  t.regex(created.stdout, /max_running=0 memory=8Gi max_runtime=2h/);
  t.is((await yard(['quota', 'assign', 'cli-one', '--user', 'gina'])).code, 0);
  t.regex((await yard(['quota', 'list'])).stdout, /cli-one\s+max_running=0 memory=8Gi max_runtime=2h\s+no\s+gina/);

  const waiting = await submitOk('gina', 'true');
  await waitFor('the reason', async () => (await getTask(waiting.id)).pendingReason === 'QUOTA_RUNNING_USER');
  const gina = new Terminal(m.url);
  t.is((await gina.run(['user', 'login', 'gina', '--password-stdin'], { input: 'pw\n' })).code, 0);
  const list = (await gina.run(['task', 'list'])).stdout;
  t.regex(list.split('\n')[0]!, /REASON$/);
  t.regex(list, new RegExp(`^${waiting.id}\\s.*QUOTA_RUNNING_USER$`, 'm'));
  t.regex((await gina.run(['task', 'describe', String(waiting.id)])).stdout, /Waiting for:\s+QUOTA_RUNNING_USER: the owner's quota on running tasks is in use/);
  const queue = await gina.json<QueueView>(['queue']);
  t.deepEqual(queue.items.filter((i) => i.id === waiting.id).map((i) => [i.owner, i.pendingReason]), [['gina', 'QUOTA_RUNNING_USER']]);
  const shown = (await gina.run(['quota', 'show'])).stdout;
  t.regex(shown, /cli-one\s+user\s+running\s+0\s+0/);
  t.regex(shown, /cli-one\s+user\s+memory\s+0\s+8Gi/);
  t.regex(shown, /Fair-share usage of user gina/);
  const others = await gina.run(['quota', 'show', 'alice']);
  t.is(others.code, 1);
  t.regex(others.stderr, /gina may not see the quota usage of alice/);

  // Raising the limit lets it start at once.
  t.is((await yard(['quota', 'set', 'cli-one', '--max-running', 'none'])).code, 0);
  t.is((await ended(waiting.id)).state, 'COMPLETED');

  const bad = await yard(['quota', 'create', 'bad', '--max-running', '-1']);
  t.not(bad.code, 0);
  t.notRegex(bad.stderr, /\n\s+at /, 'no stack trace');
  const missing = await yard(['quota', 'set', 'nope', '--gpus', '1']);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /quota 'nope' does not exist/);
  t.regex((await yard(['quota', 'unassign', 'cli-one', '--user', 'gina'])).stdout, /Took quota cli-one from user gina/);
  t.regex((await yard(['quota', 'delete', 'cli-one'])).stdout, /Deleted quota cli-one/);
});

if (!haveChromium) console.error(`\n!!! NO CHROMIUM at ${CHROMIUM}: the quotas page test is NOT running.\n`);

(haveChromium ? test.serial : test.skip)('the web UI: an admin makes and assigns a quota on the quotas page; the user sees it in My usage and why a task waits', async (t) => {
  const chrome = await launchBrowser([m.url]);
  t.teardown(() => chrome.close());
  const { browser } = chrome;
  const signedIn = async (username: string, password: string) => {
    const page = await (await browser.newContext({ baseURL: m.url })).newPage();
    await page.goto('/login');
    await page.getByLabel('Username').fill(username);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/experiments$/);
    return page;
  };
  const page = await signedIn('admin', '');
  await page.getByRole('link', { name: 'Quotas', exact: true }).click();
  // Creating and editing happen in dialogs.
  await page.getByRole('button', { name: 'New quota' }).click();
  const form = page.getByRole('form', { name: 'Create quota' });
  await form.getByPlaceholder('quota name').fill('web-zero');
  await form.getByPlaceholder('max running').fill('0');
  await form.getByPlaceholder('memory (64GiB)').fill('1GiB');
  await form.getByRole('button', { name: 'Create quota' }).click();
  await page.locator('tr[data-quota="web-zero"]').waitFor();
  await page.locator('tr[data-quota="web-zero"]').getByRole('button', { name: 'Edit' }).click();
  const assign = page.getByRole('form', { name: 'Assign web-zero' });
  await assign.getByPlaceholder('user, or group:PATH').fill('gina');
  await assign.getByRole('button', { name: 'Assign' }).click();
  await page.locator('tr[data-quota="web-zero"] .holder', { hasText: 'gina' }).waitFor();
  t.regex(await page.locator('tr[data-quota="web-zero"]').innerText(), /max_running=0 memory=1Gi/);

  const waiting = await submitOk('gina', 'true');
  const user = await signedIn('gina', 'pw');
  t.is(await user.getByRole('link', { name: 'Quotas', exact: true }).count(), 0, 'no Quotas tab without see_status or change_config');
  await user.getByRole('link', { name: 'Commands' }).click();
  await user.locator(`tr[data-task-id="${waiting.id}"] .pending-reason`, { hasText: 'QUOTA_RUNNING_USER' }).waitFor({ timeout: 20_000 });
  await user.goto('/account/usage');
  await user.locator('tr[data-quota="web-zero"][data-resource="running"]').waitFor();
  t.regex(await user.locator('tr[data-quota="web-zero"][data-resource="memory"]').innerText(), /memory\s+0\s+1Gi/);
  await kill(waiting.id);
  await api(m.url, 'DELETE', '/quotas/web-zero', { token: admin });
  failOnConsoleErrors(t, chrome);
});

test.serial('every quota command and queue has --help with an example', async (t) => {
  const commands = [['quota', 'create'], ['quota', 'set'], ['quota', 'delete'], ['quota', 'list'], ['quota', 'show'], ['quota', 'assign'], ['quota', 'unassign'], ['queue']];
  await eachHelp(commands, (name, help) => {
    t.is(help.code, 0, name);
    t.regex(help.stdout, /EXAMPLES\n\s+\$ yard /, name);
  });
});
