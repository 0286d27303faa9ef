import { writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import type { Agent, ClusterHistory, ClusterOverview, Page, Task, TaskTimelineEntry, UsageReport, UsageSeries } from '@trainyard/shared';
import { api, loginToken, type OrError } from './helpers/api.js';
import { Terminal } from './helpers/cli.js';
import { startAgent, tempDir, waitFor, type AgentProcess } from './helpers/cluster.js';
import { startTestMaster, type TestMaster } from './helpers/test-master.js';

/**
 * The usage ledger, `yard usage` and the usage API, over a day's worth of runs made by moving the
 * master's clock (TestClock) while the runs go on: each run is checked against its own timestamps.
 */

const HOUR = 3_600_000;
const image = process.env.YARD_TEST_IMAGE ?? 'busybox:latest';

let dir: string;
let m: TestMaster;
let agent: AgentProcess;
let advanced = 0;
const tokens: Record<string, string> = {};
let agentCount = 0;

// Agents heartbeat every half second and are lost after six hours of the master's clock: the test
// moves the clock up to five hours at a time while runs go on, and loses one agent on purpose.
const config = (tokenFile: string) => ({
  agents: { heartbeat_interval: '500ms', lost_timeout: '6h', lease_timeout: '1h', kill_grace: '2s', token_file: tokenFile },
});

async function startAgentAndWait(): Promise<AgentProcess> {
  const name = `usage-agent-${++agentCount}`;
  const started = startAgent({ url: m.url, tokenFile: path.join(dir, 'agent.token') }, { name, executor: 'process', fakeGpus: 4 });
  await waitFor('the agent to register', async () => {
    const agents = (await api<Page<Agent>>(m.url, 'GET', '/agents', { token: tokens.admin })).body.items;
    return agents.some((a) => a.id === name && a.state === 'alive');
  });
  return started;
}

/**
 * Moves the master's clock, then waits for the agent's next heartbeat by that clock: on a loaded
 * machine two moves could otherwise land between two heartbeats and add up past `lost_timeout`.
 * `agentDown` for the move that finds a killed agent lost.
 */
async function advance(ms: number, options: { agentDown?: boolean } = {}) {
  m.clock.advance(ms);
  advanced += ms;
  if (options.agentDown) return;
  const movedTo = m.clock.now();
  await waitFor('a heartbeat after the clock moved', async () => {
    const agents = (await api<Page<Agent>>(m.url, 'GET', '/agents', { token: tokens.admin })).body.items;
    return agents.some((a) => a.state === 'alive' && a.lastHeartbeatAt !== null && Date.parse(a.lastHeartbeatAt) >= movedTo);
  });
}

test.before(async () => {
  dir = tempDir('yard-usage-');
  m = await startTestMaster(config(path.join(dir, 'agent.token')), dir);
  tokens.admin = await loginToken(m.url, 'admin');
  for (const group of ['vision', 'nlp']) await api(m.url, 'POST', '/groups', { token: tokens.admin, body: { path: group } });
  for (const [name, group] of [['alice', 'vision'], ['bob', 'vision'], ['carol', 'nlp'], ['dave', 'nlp']] as const) {
    await api(m.url, 'POST', '/users', { token: tokens.admin, body: { username: name, password: 'pw' } });
    await api(m.url, 'POST', `/groups/${group}/members`, { token: tokens.admin, body: { username: name } });
    tokens[name] = await loginToken(m.url, name, 'pw');
  }
  agent = await startAgentAndWait();
});

test.after.always(async () => {
  await agent?.kill('SIGKILL');
  await m?.stop();
});

const getTask = async (id: number) => (await api<Task>(m.url, 'GET', `/tasks/${id}`, { token: tokens.admin })).body;
const stateOf = async (id: number) => (await getTask(id)).state;

/** A run that waits for its go file, then exits with `code`. */
async function submit(user: string, name: string, resources: Record<string, unknown>, options: { group?: string; code?: number; maxRestarts?: number } = {}) {
  const go = path.join(dir, `go-${name}`);
  const script = `while [ ! -e ${go} ]; do sleep 0.05; done; rm -f ${go}; exit ${options.code ?? 0}`;
  const created = await api<Task>(m.url, 'POST', '/tasks', {
    token: tokens[user],
    body: {
      kind: 'command',
      config: { name, image, entrypoint: ['sh', '-c', script], resources, ...(options.group ? { group: options.group } : {}), max_restarts: options.maxRestarts ?? 0 },
    },
  });
  if (created.status !== 201) throw new Error(JSON.stringify(created.body));
  return { task: created.body, go: () => writeFileSync(go, '') };
}

const running = (id: number) => waitFor(`task ${id} to run`, async () => (await stateOf(id)) === 'RUNNING', 30_000);
const endsAs = (id: number, state: string) => waitFor(`task ${id} to end ${state}`, async () => (await stateOf(id)) === state, 30_000);
const timeline = async (id: number) => (await api<{ items: TaskTimelineEntry[] }>(m.url, 'GET', `/tasks/${id}/timeline`, { token: tokens.admin })).body.items;

/** Each run of a task from its own history: from entering RUNNING to the next state, in ms, with the task's GPUs. */
async function runsOf(task: Task): Promise<Array<{ start: number; end: number; gpus: number }>> {
  const states = (await timeline(task.id)).filter((e) => e.event === 'state');
  const runs = [];
  for (let i = 0; i < states.length; i++) {
    if (states[i]!.state !== 'RUNNING') continue;
    const next = states[i + 1];
    runs.push({ start: Date.parse(states[i]!.at), end: next ? Date.parse(next.at) : m.clock.now(), gpus: task.resources.gpus });
  }
  return runs;
}

function parseCsv(text: string): Array<Record<string, string>> {
  const [header, ...lines] = text.trim().split('\n');
  const names = header!.split(',');
  return lines.map((line) => Object.fromEntries(line.split(',').map((cell, i) => [names[i]!, cell])));
}

const made: Task[] = [];

test.serial('a day of runs: each outcome is one ledger row, and yard usage --since 1d --by user -o csv sums GPU-hours to within a second of the runs; deleting the tasks and restarting the master change nothing', async (t) => {
  // alice: 2 GPUs for 3 hours, completed.
  const a1 = await submit('alice', 'train-a', { gpus: 2, cpu: 2, memory: '1Gi' }, { group: 'vision' });
  await running(a1.task.id);
  await advance(3 * HOUR);
  a1.go();
  await endsAs(a1.task.id, 'COMPLETED');
  // bob: 1 GPU for 5 hours, failed (exit 3).
  const b1 = await submit('bob', 'train-b', { gpus: 1 }, { group: 'vision', code: 3 });
  await running(b1.task.id);
  await advance(5 * HOUR);
  b1.go();
  await endsAs(b1.task.id, 'FAILED');
  // alice: 1 GPU for 2 hours, killed.
  const a2 = await submit('alice', 'sweep-a', { gpus: 1 });
  await running(a2.task.id);
  await advance(2 * HOUR);
  await api(m.url, 'POST', `/tasks/${a2.task.id}/kill`, { token: tokens.alice });
  await endsAs(a2.task.id, 'KILLED');
  // carol: 3 GPUs, fails after an hour and runs again (a restart: two runs), completes after another.
  const c1 = await submit('carol', 'train-c', { gpus: 3 }, { group: 'nlp', code: 1, maxRestarts: 1 });
  await running(c1.task.id);
  await advance(HOUR);
  c1.go();
  await waitFor('the restart to run', async () => {
    const task = await getTask(c1.task.id);
    return task.restarts === 1 && task.state === 'RUNNING';
  });
  await advance(HOUR);
  // The second run exits 1 too, with no restarts left.
  c1.go();
  await endsAs(c1.task.id, 'FAILED');
  // dave: 1 GPU; its agent is killed -9 an hour in and found lost six hours later (the master's clock).
  const d1 = await submit('dave', 'train-d', { gpus: 1 }, { group: 'nlp' });
  await running(d1.task.id);
  await advance(HOUR);
  await agent.kill('SIGKILL');
  await advance(6 * HOUR + 5000, { agentDown: true });
  await endsAs(d1.task.id, 'LOST');
  agent = await startAgentAndWait();

  for (const id of [a1.task.id, b1.task.id, a2.task.id, c1.task.id, d1.task.id]) made.push(await getTask(id));
  const expected: Record<string, number> = {};
  for (const task of made) {
    const runs = await runsOf(task);
    t.is(runs.length, task.id === c1.task.id ? 2 : 1, `task ${task.id}: ${JSON.stringify(runs)}`);
    if (task.restarts === 0) {
      // One run: its history and the task's own start and end agree.
      t.is(runs[0]!.start, Date.parse(task.startedAt!));
      t.is(runs[0]!.end, Date.parse(task.endedAt!));
    }
    expected[task.owner] = (expected[task.owner] ?? 0) + runs.reduce((sum, r) => sum + (r.gpus * (r.end - r.start)) / 1000, 0);
  }
  t.true(expected.alice! > 7.9 * 3600 && expected.carol! > 5.9 * 3600 && expected.dave! > 7 * 3600, JSON.stringify(expected));

  let term = new Terminal(m.url);
  const csv = async () => {
    const result = await term.run(['-u', 'admin', 'usage', '--since', '1d', '--by', 'user', '-o', 'csv'], { env: { YARD_PASSWORD: '' } });
    t.is(result.code, 0, result.stderr);
    return result.stdout;
  };
  const before = await csv();
  const rows = parseCsv(before);
  t.deepEqual(rows.map((r) => r.user).sort(), ['alice', 'bob', 'carol', 'dave']);
  for (const row of rows) {
    const seconds = Number(row.gpu_hours) * 3600;
    t.true(Math.abs(seconds - expected[row.user!]!) <= 1, `${row.user}: ledger ${seconds} s, runs ${expected[row.user!]} s`);
  }
  const carol = rows.find((r) => r.user === 'carol')!;
  t.is(carol.tasks, '1');
  t.is(carol.runs, '2');
  const memory = Number(rows.find((r) => r.user === 'alice')!.memory_gib_hours);
  t.true(Math.abs(memory - 3) < 0.001, `alice held 1 GiB for 3 hours (her other run asked no memory): ${memory}`);

  // The ledger's outcomes: every way a run ends, the restart included.
  const outcomes = (await m.master.database.db.selectFrom('usage_runs').select('outcome').orderBy('id').execute()).map((r) => r.outcome);
  t.deepEqual(outcomes, ['COMPLETED', 'FAILED', 'KILLED', 'REQUEUED', 'FAILED', 'LOST']);

  // By group, as a table: the runs charged to no group are a row of their own.
  const table = await term.run(['-u', 'admin', 'usage', '--since', '1d', '--by', 'group'], { env: { YARD_PASSWORD: '' } });
  t.is(table.code, 0, table.stderr);
  t.regex(table.stdout, /^GROUP\s+GPU-H\s+CPU-H\s+MEM-GIB-H\s+TASKS\s+RUNS\s+RUNNING\s+WAIT-MEDIAN\s+WAIT-P95$/m);
  t.regex(table.stdout, /^nlp\s+13\.00\s+9\.00\s+0\.00\s+2\s+3\s+0/m, table.stdout);
  t.regex(table.stdout, /^\(none\)\s+2\.00/m);
  const json = await term.json<UsageReport>(['-u', 'admin', 'usage', '--since', '1d', '--by', 'user,group'], { env: { YARD_PASSWORD: '' } });
  t.deepEqual(json.by, ['user', 'group']);
  t.is(json.rows.length, 5);

  // Deleting every task changes nothing in the report.
  for (const task of made) t.is((await api(m.url, 'DELETE', `/tasks/${task.id}`, { token: tokens.admin })).status, 200);
  t.is((await api(m.url, 'GET', `/tasks/${a1.task.id}`, { token: tokens.admin })).status, 404);
  t.deepEqual(stripPeriod(await csv()), stripPeriod(before));

  // A restart keeps the ledger (the new master's clock is moved to where the old one was).
  await agent.kill('SIGKILL');
  await m.stop();
  m = await startTestMaster(config(path.join(dir, 'agent.token')), dir);
  m.clock.advance(advanced);
  term = new Terminal(m.url);
  tokens.admin = await loginToken(m.url, 'admin');
  agent = await startAgentAndWait();
  t.deepEqual(stripPeriod(await csv()), stripPeriod(before));
});

/** The report's period moves with the clock between two calls: compare the rest. */
const stripPeriod = (csv: string) => parseCsv(csv).map(({ since: _s, until: _u, ...rest }) => rest);

test.serial('a run still going counts up to now, as running; the cluster overview and its history show it', async (t) => {
  const run = await submit('bob', 'long-b', { gpus: 2, cpu: 2 }, { group: 'vision' });
  await running(run.task.id);
  const overview = (await api<ClusterOverview>(m.url, 'GET', '/cluster', { token: tokens.bob })).body;
  t.is(overview.pools[0]!.name, 'default');
  // Capacity: the agents alive and enabled (the one killed before the restart is not known lost yet).
  const agents = (await api<Page<Agent>>(m.url, 'GET', '/agents', { token: tokens.admin })).body.items;
  t.is(overview.pools[0]!.capacity.gpus, agents.filter((a) => a.state === 'alive' && a.enabled).length * 4);
  t.is(overview.pools[0]!.allocated.gpus, 2);
  t.deepEqual(overview.running.byUser.map((u) => [u.user, u.gpus, u.cpu]), [['bob', 2, 2]]);
  t.is(overview.agents, null, 'each agent only for see_status');
  t.is((await api<ClusterOverview>(m.url, 'GET', '/cluster', { token: tokens.admin })).body.agents!.length >= 1, true);

  const started = Date.parse((await getTask(run.task.id)).startedAt!);
  await advance(HOUR / 2);
  const low = (m.clock.now() - started) / 1000;
  const report = (await api<UsageReport>(m.url, 'GET', '/usage?since=1h&by=user', { token: tokens.bob })).body;
  const high = (m.clock.now() - started) / 1000;
  t.deepEqual(report.visible, { all: false, user: 'bob', groups: [] });
  t.deepEqual(report.rows.map((r) => r.user), ['bob'], 'bob sees his own only');
  const seconds = report.rows[0]!.gpuHours * 3600;
  t.is(report.rows[0]!.running, 1);
  t.true(seconds >= 2 * low - 1 && seconds <= 2 * high + 1, `${seconds} within [${2 * low}, ${2 * high}]`);

  // The series: GPU-hours in hourly buckets sum to the report.
  const series = (await api<UsageSeries>(m.url, 'GET', '/usage/series?since=1d&by=user&step=1h', { token: tokens.admin })).body;
  t.is(series.stepSeconds, 3600);
  t.true(series.buckets.length >= 24 && series.buckets.length <= 25);
  const day = (await api<UsageReport>(m.url, 'GET', '/usage?since=1d&by=user', { token: tokens.admin })).body;
  for (const line of series.series) {
    const total = line.gpuHours.reduce((a, b) => a + b, 0);
    const row = day.rows.find((r) => r.user === line.key)!;
    t.true(Math.abs(total - row.gpuHours) < 0.01, `${line.key}: ${total} vs ${row.gpuHours}`);
  }

  // Samples every minute of the master's clock: the clock moved hours, so the day has several.
  const history = (await api<ClusterHistory>(m.url, 'GET', '/cluster/history?since=1d', { token: tokens.bob })).body;
  t.true(history.samples.length >= 3, JSON.stringify(history.samples.length));
  const last = history.samples.at(-1)!;
  t.like(last, { pool: 'default', gpusTotal: overview.pools[0]!.capacity.gpus, gpusAllocated: 2, running: 1 });

  await api(m.url, 'POST', `/tasks/${run.task.id}/kill`, { token: tokens.bob });
  await endsAs(run.task.id, 'KILLED');
  const timelineStates = (await timeline(run.task.id)).map((e) => (e.event === 'state' ? e.state : e.event));
  t.deepEqual(timelineStates, ['QUEUED', 'ASSIGNED', 'RUNNING', 'kill_requested', 'KILLED']);
});

test.serial("who sees what: your own; a group's with see_status scoped to it; another group's needs see_status (403 without, the report with)", async (t) => {
  const get = (user: string, query: string) => api<OrError<UsageReport>>(m.url, 'GET', `/usage?since=1d&${query}`, { token: tokens[user] });
  const denied = await get('bob', 'group=nlp');
  t.is(denied.status, 403);
  t.regex(denied.body.error!.message, /bob may not see the usage of group nlp: that needs see_status, for everyone or scoped to nlp, and bob does not hold it/);
  t.is((await get('bob', 'group=vision')).status, 403, 'membership alone is not enough');
  t.is((await get('bob', 'user=alice')).status, 403);
  const own = await get('bob', 'by=user');
  t.is(own.status, 200);
  t.deepEqual(own.body.rows.map((r) => r.user), ['bob']);

  // A role with see_status given to vision, scoped to vision itself: its members see vision's usage.
  const admin = (method: string, p: string, body?: unknown) => api(m.url, method, p, { token: tokens.admin, body });
  t.is((await admin('POST', '/roles', { name: 'lab-viewer', capabilities: ['see_status'] })).status, 201);
  t.is((await admin('POST', '/roles/lab-viewer/assignments', { group: 'vision', scope: 'vision' })).status, 201);
  const vision = await get('bob', 'group=vision&by=user');
  t.is(vision.status, 200);
  t.deepEqual(vision.body.rows.map((r) => r.user).sort(), ['alice', 'bob']);
  t.is((await get('bob', 'user=alice&group=vision')).status, 200);
  t.deepEqual((await get('bob', 'by=group')).body.rows.map((r) => r.group).sort(), ['vision'], 'his own and vision\'s: all of his ran in vision');
  const still = await get('bob', 'group=nlp');
  t.is(still.status, 403);
  t.regex(still.body.error!.message, /bob holds it only for vision/);
  // Scoped see_status shows usage, not agents.
  t.is((await api(m.url, 'GET', '/agents', { token: tokens.bob })).status, 403);
  // A self-scoped read-only role may not gain a capability that acts on tasks.
  const widened = await admin('PATCH', '/roles/lab-viewer', { capabilities: ['see_status', 'operate_others'] });
  t.is(widened.status, 400);
  t.is((widened.body as { error: { code: string } }).error.code, 'SELF_SCOPE');

  // see_status for everyone: another group's usage.
  t.is((await admin('POST', '/roles', { name: 'status', capabilities: ['see_status'] })).status, 201);
  t.is((await admin('POST', '/roles/status/assignments', { user: 'bob' })).status, 201);
  const nlp = await get('bob', 'group=nlp&by=user');
  t.is(nlp.status, 200);
  t.deepEqual(nlp.body.rows.map((r) => r.user).sort(), ['carol', 'dave']);

  // The CLI says why, in one line, and exits 1.
  const term = new Terminal(m.url);
  const refused = await term.run(['-u', 'carol', 'usage', '--group', 'vision'], { env: { YARD_PASSWORD: 'pw' } });
  t.is(refused.code, 1);
  t.regex(refused.stderr, /^Error: carol may not see the usage of group vision: that needs see_status/);
  const bad = await term.run(['-u', 'carol', 'usage', '--since', 'last tuesday'], { env: { YARD_PASSWORD: 'pw' } });
  t.is(bad.code, 1);
  t.regex(bad.stderr, /"last tuesday" is not a duration back from now such as "30d"/);
  const badBy = await api(m.url, 'GET', '/usage?by=user,colour', { token: tokens.carol });
  t.is(badBy.status, 400);
  t.regex(badBy.body.error.message, /by: unknown 'colour'/);
  const backwards = await api(m.url, 'GET', '/usage?since=1h&until=2h', { token: tokens.carol });
  t.is(backwards.status, 400);
  t.regex(backwards.body.error.message, /must be before until/);
});

test.serial('task lists: filters by state, owner, group, name and creation time, done by the master, with keyset pages', async (t) => {
  const list = async (query: string, user = 'admin') => {
    const result = await api<Page<Task>>(m.url, 'GET', `/tasks?${query}`, { token: tokens[user] });
    t.is(result.status, 200, JSON.stringify(result.body));
    return result.body;
  };
  const names = (page: Page<Task>) => page.items.map((i) => i.name);
  t.deepEqual(names(await list('all=true&state=KILLED')), ['long-b']);
  t.deepEqual(names(await list('owner=bob')), ['long-b'], 'an owner lists their summaries (bob\'s first ones were deleted)');
  t.deepEqual(names(await list('all=true&group=vision')), ['long-b']);
  t.deepEqual(names(await list('all=true&name=LONG-*')), ['long-b'], 'globs are case-insensitive');
  t.deepEqual(names(await list('all=true&name=long_b')), [], '_ is no wildcard');
  // long-b was created half an hour ago by the master's clock.
  t.deepEqual(names(await list('all=true&since=20m')), []);
  t.deepEqual(names(await list('all=true&since=1h')), ['long-b']);
  t.deepEqual(names(await list('all=true&until=20m&state=KILLED')), ['long-b']);
  const item = (await list('owner=bob')).items[0]!;
  t.deepEqual(item.resources, { gpus: 2, cpu: 2, memory: null });
  t.is(item.pool, 'default');
  // 7 queued tasks in pages of 3: every one once, newest first.
  for (let i = 0; i < 7; i++) await submit('carol', `queued-${i}`, { gpus: 5 });
  const seen: string[] = [];
  let after: string | null | undefined;
  do {
    const page = await list(`state=QUEUED,ASSIGNED&limit=3${after ? `&after=${after}` : ''}`, 'carol');
    seen.push(...names(page));
    after = page.next;
  } while (after);
  t.deepEqual(seen, Array.from({ length: 7 }, (_, i) => `queued-${6 - i}`));
  const bad = await api(m.url, 'GET', '/tasks?state=RUNNING,SLEEPING', { token: tokens.carol });
  t.is(bad.status, 400);
  t.regex(bad.body.error.message, /state: unknown 'SLEEPING'/);
  for (const task of (await list('state=QUEUED', 'carol')).items) await api(m.url, 'POST', `/tasks/${task.id}/kill`, { token: tokens.carol });
});
