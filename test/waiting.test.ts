import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import type { AuditEntry, Page, QueueView, Quota, QuotaUsage, Task, TaskSummary } from '@trainyard/shared';
import { api } from './helpers/api.js';
import { eachHelp, loggedInTerminals, Terminal, type RunResult } from './helpers/cli.js';
import { FAST_AGENTS, startRegisteredAgent, tempDir, waitFor, type AgentProcess } from './helpers/cluster.js';
import { createUsers } from './helpers/fixtures.js';
import { startTestMaster, type TestMaster } from './helpers/test-master.js';

// The CLI telling the truth while people wait for tasks, kill them and talk to a master: one master
// and one process agent for the file, each test with users of its own. The kill grace is long: a
// task that ignores SIGTERM stays KILLING until the test lets it end (by the order of events, not
// the clock), and every other task here ends at SIGTERM.
const AGENT = 'waiting-1';
const image = process.env.YARD_TEST_IMAGE ?? 'busybox:latest';
let m: TestMaster;
let agent: AgentProcess;
let dir = '';
let admin = '';
const tokens: Record<string, string> = {};
const terms: Record<string, Terminal> = {};

test.before(async () => {
  dir = tempDir('yard-waiting-');
  m = await startTestMaster({ agents: { ...FAST_AGENTS, lost_timeout: '60s', kill_grace: '10m', token_file: path.join(dir, 'agent.token') }, tasks: { runtime_warning: '1s' } }, dir);
  const people = ['alice', 'bob', 'carol', 'dave', 'erin', 'fred'];
  Object.assign(tokens, await createUsers(m.url, people));
  admin = tokens.admin!;
  Object.assign(terms, await loggedInTerminals(m.url, people));
  agent = await startRegisteredAgent({ url: m.url, tokenFile: path.join(dir, 'agent.token') }, admin, { name: AGENT, executor: 'process' });
});

test.after.always(async () => {
  await agent?.kill('SIGKILL');
  await m?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const quota = async (body: Record<string, unknown>, to: { user: string }) => {
  const created = await api<Quota>(m.url, 'POST', '/quotas', { token: admin, body });
  if (created.status !== 201) throw new Error(JSON.stringify(created.body));
  const assigned = await api(m.url, 'POST', `/quotas/${created.body.name}/assignments`, { token: admin, body: to });
  if (assigned.status !== 201) throw new Error(JSON.stringify(assigned.body));
};
const submit = async (user: string, command: string, extra: Record<string, unknown> = {}) => {
  const created = await api<Task>(m.url, 'POST', '/tasks', { token: tokens[user], body: { kind: 'command', config: { image, entrypoint: ['sh', '-c', command], ...extra } } });
  if (created.status !== 201) throw new Error(JSON.stringify(created.body));
  return created.body;
};
const getTask = async (id: number) => (await api<Task>(m.url, 'GET', `/tasks/${id}`, { token: admin })).body;
const until = (id: number, what: string, check: (task: Task) => boolean, timeoutMs = 30_000) =>
  waitFor(`task ${id} ${what}`, async () => {
    const task = await getTask(id);
    return check(task) ? task : undefined;
  }, timeoutMs);
const ended = (id: number, timeoutMs?: number) => until(id, 'to end', (task) => ['COMPLETED', 'FAILED', 'KILLED', 'LOST'].includes(task.state), timeoutMs);
const running = (id: number) => until(id, 'to run', (task) => task.state === 'RUNNING');
const killByApi = async (id: number) => void (await api(m.url, 'POST', `/tasks/${id}/kill`, { token: admin }));
/** The task's own output on stdout: without the CLI's "Created ..." line and the master's [trainyard] lines. */
const ownOutput = (result: RunResult) => result.stdout.split('\n').filter((l) => l && !l.startsWith('Created ') && !l.startsWith('[trainyard]'));
const noStack = (t: { notRegex(s: string, r: RegExp, m?: string): void }, result: RunResult) => {
  t.notRegex(result.stderr, /\n\s+at \S+ \(|TypeError|ExitPromptError/, 'no stack trace');
};

test.serial('-f says why the task waits before it may start, on stderr, then exits with the task\'s own exit code (7)', async (t) => {
  await quota({ name: 'alice-one', maxRunning: 1 }, { user: 'alice' });
  const blocker = await submit('alice', 'sleep 600');
  await running(blocker.id);

  const follow = terms.alice!.start(['command', 'run', '-f', '--', 'sh', '-c', 'echo out; echo err >&2; exit 7']);
  const said = await follow.waitForStderr(/^command (\d+): queued: QUOTA_RUNNING_USER: the owner's quota on running tasks is in use$/m);
  const id = Number(said[1]);
  // The order of events, not the clock: the reason was said while the quota still held the task back.
  t.is((await getTask(id)).state, 'QUEUED', 'the reason came before the task could start');
  await killByApi(blocker.id);

  const result = await follow.done;
  t.is(result.code, 7, result.stderr);
  t.deepEqual(ownOutput(result).sort(), ['err', 'out'], 'stdout is the task\'s output (both its streams)');
  t.notRegex(result.stdout, /queued:|running on agent/, 'the status lines are on stderr only');
  const lines = result.stderr.split('\n');
  const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
  // Each status is said as it is seen: a task that runs for a moment may end before RUNNING is seen.
  const queuedAt = at(/queued: QUOTA_RUNNING_USER/);
  const runningAt = at(new RegExp(`^command ${id}: running on agent ${AGENT}$`));
  t.true(queuedAt >= 0 && queuedAt < at(new RegExp(`^command ${id} ended:`)) && (runningAt === -1 || queuedAt < runningAt), result.stderr);
  t.regex(result.stderr, new RegExp(`^command ${id} ended: FAILED \\(exit code 7\\)$`, 'm'));
  noStack(t, result);
});

test.serial('a task no agent fits: task wait says NO_AGENT_FITS and what it means, --timeout exits 124; logs -f of it says it too, and exits 137 once it is killed', async (t) => {
  const bob = terms.bob!;
  const huge = await submit('bob', 'true', { resources: { cpu: 512 } });
  await until(huge.id, 'to wait for an agent', (task) => task.pendingReason === 'NO_AGENT_FITS');

  const waited = await bob.run(['task', 'wait', String(huge.id), '--timeout', '2s']);
  t.is(waited.code, 124, waited.stderr);
  t.regex(waited.stderr, new RegExp(`^task ${huge.id}: queued: NO_AGENT_FITS: no agent has the room`, 'm'));
  t.regex(waited.stderr, new RegExp(`^task ${huge.id}: still QUEUED when --timeout passed`, 'm'));

  const follow = bob.start(['command', 'logs', String(huge.id), '-f']);
  await follow.waitForStderr(new RegExp(`^command ${huge.id}: queued: NO_AGENT_FITS`, 'm'));
  const killed = await bob.run(['command', 'kill', String(huge.id)]);
  t.is(killed.code, 0, killed.stderr);
  t.regex(killed.stdout, new RegExp(`^Killed command ${huge.id}\\.$`, 'm'), 'a queued task ends KILLED at once');
  const result = await follow.done;
  t.is(result.code, 137, result.stderr);
  t.regex(result.stderr, new RegExp(`^command ${huge.id} ended: KILLED, killed by bob$`, 'm'));
  t.regex(result.stdout, /^\[trainyard\] kill requested by bob$/m, 'the kill is in the task\'s log');
});

test.serial('task wait: each task\'s exit status, the first not 0 of several in the order given; --for RUNNING and an end; logs -f of an ended task', async (t) => {
  const carol = terms.carol!;
  const seven = await submit('carol', 'exit 7');
  const three = await submit('carol', 'exit 3');
  const ok = await submit('carol', 'echo fine');
  const all = await carol.run(['task', 'wait', String(seven.id), String(three.id), String(ok.id)]);
  t.is(all.code, 7, all.stderr);
  for (const [task, end] of [[seven, 'FAILED \\(exit code 7\\)'], [three, 'FAILED \\(exit code 3\\)'], [ok, 'COMPLETED \\(exit code 0\\)']] as const) {
    t.regex(all.stderr, new RegExp(`^command ${task.id} ended: ${end}$`, 'm'));
  }
  t.is((await carol.run(['task', 'wait', String(three.id), String(seven.id)])).code, 3, 'the first in the order given');
  t.is((await carol.run(['task', 'wait', String(ok.id)])).code, 0);
  const json = await carol.run(['task', 'wait', String(ok.id), String(three.id), '--json']);
  t.is(json.code, 3);
  t.deepEqual((JSON.parse(json.stdout) as Array<{ id: number; exitStatus: number }>).map((r) => [r.id, r.exitStatus]), [[ok.id, 0], [three.id, 3]]);

  t.is((await carol.run(['task', 'logs', String(seven.id), '-f'])).code, 7, 'logs -f of a FAILED task exits with its code');
  t.is((await carol.run(['task', 'logs', String(seven.id)])).code, 0, 'without -f it only prints the logs');
  t.is((await carol.run(['task', 'logs', String(ok.id), '-f'])).code, 0);
  t.is((await carol.run(['task', 'wait', String(ok.id), '--for', 'FAILED'])).code, 1, 'it ended otherwise');

  const missing = await carol.run(['task', 'wait', '999999']);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /^Error: task 999999 does not exist$/m);
  const usage = await carol.run(['task', 'wait', String(ok.id), '--for', 'sleeping']);
  t.is(usage.code, 2);

  const long = await submit('carol', 'sleep 600');
  const started = await carol.run(['task', 'wait', String(long.id), '--for', 'running']);
  t.is(started.code, 0, started.stderr);
  t.regex(started.stderr, new RegExp(`^task ${long.id}: running on agent ${AGENT}$`, 'm'));
  const timedOut = await carol.run(['task', 'wait', String(long.id), '--timeout', '1s']);
  t.is(timedOut.code, 124);
  t.regex(timedOut.stderr, new RegExp(`^task ${long.id}: still RUNNING when --timeout passed`, 'm'));
  await killByApi(long.id);
  const killed = await carol.run(['task', 'wait', String(long.id), '--for', 'COMPLETED']);
  t.is(killed.code, 137, killed.stderr);
  t.regex(killed.stderr, new RegExp(`^command ${long.id} ended: KILLED.*, killed by admin$`, 'm'));
  noStack(t, killed);
});

test.serial('a kill under way shows at once (KILLING in lists, killRequest in --json, describe says who), ends KILLED when the agent says so, and is in the audit log; kill takes several ids', async (t) => {
  const dave = terms.dave!;
  // Ignores SIGTERM, and ends only once the test has seen what it must (the process executor shares /tmp).
  const release = path.join(dir, 'release');
  const stubborn = await submit('dave', `trap "" TERM; echo ready; while [ ! -e ${release} ]; do sleep 0.2; done`);
  await until(stubborn.id, 'to run', (task) => task.state === 'RUNNING', 60_000);
  const logLines = async () => (await api(m.url, 'GET', `/tasks/${stubborn.id}/logs`, { token: tokens.dave })).body.items.map((l: { line: string }) => l.line);
  await waitFor('the trap to be set', async () => (await logLines()).includes('ready'), 60_000);
  const queued = await submit('dave', 'true', { resources: { cpu: 512 } });

  const kill = await dave.run(['task', 'kill', String(stubborn.id), String(queued.id), '999999']);
  t.is(kill.code, 1, 'one of them could not be killed');
  t.regex(kill.stdout, new RegExp(`^Killing command ${stubborn.id} \\(RUNNING; it ends KILLED once its agent has stopped it\\)\\.$`, 'm'));
  t.regex(kill.stdout, new RegExp(`^Killed command ${queued.id}\\.$`, 'm'));
  t.regex(kill.stderr, /^Error: task 999999 does not exist$/m);

  // At once, and for as long as the task ignores SIGTERM (the grace is 10 minutes).
  const table = await dave.run(['task', 'list']);
  t.regex(table.stdout, new RegExp(`^${stubborn.id}\\s+dave\\s+command\\s+KILLING\\s`, 'm'));
  t.regex(table.stdout, new RegExp(`^${queued.id}\\s+dave\\s+command\\s+KILLED\\s`, 'm'));
  const listed = (await dave.json<Page<TaskSummary>>(['task', 'list'])).items.find((x) => x.id === stubborn.id)!;
  t.is(listed.state, 'RUNNING', 'the stored state stays until the agent reports');
  t.like(listed.killRequest, { by: 'dave', reason: null });
  const described = await dave.run(['task', 'describe', String(stubborn.id)]);
  t.regex(described.stdout, /^State:\s+KILLING \(RUNNING until its agent reports it stopped\)$/m);
  t.regex(described.stdout, /^Kill asked by:\s+dave at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/m);
  const others = (await terms.erin!.json<Page<TaskSummary>>(['task', 'list', '-a'])).items.find((x) => x.id === stubborn.id)!;
  t.like(others.killRequest, { by: 'dave' }, 'everyone who sees the summary sees the kill');
  t.is((await api(m.url, 'POST', `/tasks/${stubborn.id}/kill`, { token: admin })).body.killRequest.by, 'dave', 'asking again changes nothing');

  writeFileSync(release, '');
  const done = await ended(stubborn.id, 60_000);
  t.is(done.state, 'KILLED');
  t.like(done.killRequest, { by: 'dave', reason: null });
  t.regex((await dave.run(['task', 'describe', String(stubborn.id)])).stdout, /^Kill asked by:\s+dave at /m);

  const audit = (await api<Page<AuditEntry>>(m.url, 'GET', '/audit?limit=100', { token: admin })).body.items.filter((e) => e.action === 'task.kill');
  const of = (id: number) => audit.filter((e) => e.target === String(id)).map((e) => [e.actor, e.targetType, e.details.state]);
  t.deepEqual(of(stubborn.id), [['dave', 'task', 'RUNNING']], 'one entry: the second kill changed nothing');
  t.deepEqual(of(queued.id), [['dave', 'task', 'QUEUED']]);
});

test.serial('the master\'s own kill (max_runtime): describe and --json say the master asked and why; the audit log names it', async (t) => {
  await quota({ name: 'erin-runtime', maxRuntime: '2s' }, { user: 'erin' });
  const task = await submit('erin', 'sleep 600');
  const done = await ended(task.id);
  t.is(done.state, 'KILLED');
  t.is(done.killRequest?.by, null);
  t.regex(done.killRequest?.reason ?? '', /^RUNTIME_LIMIT: ran \d+s, past the max_runtime of 2s of quota 'erin-runtime'$/);
  const described = await terms.erin!.run(['task', 'describe', String(task.id)]);
  t.regex(described.stdout, /^Kill asked by:\s+the master \(RUNTIME_LIMIT: ran \d+s, past the max_runtime of 2s of quota 'erin-runtime'\) at /m);
  const waited = await terms.erin!.run(['task', 'wait', String(task.id)]);
  t.is(waited.code, 137);
  t.regex(waited.stderr, /killed by the master \(RUNTIME_LIMIT: /);
  const audit = (await api<Page<AuditEntry>>(m.url, 'GET', '/audit?limit=100', { token: admin })).body.items;
  const entry = audit.find((e) => e.action === 'task.kill' && e.target === String(task.id));
  t.is(entry?.actor, '(runtime limit)');
  t.regex(String(entry?.details.reason), /^RUNTIME_LIMIT: /);
});

test.serial('yard queue and yard quota show give the same usage for the same person, from one source, with one owner queued', async (t) => {
  const fred = terms.fred!;
  const run = await submit('fred', 'sleep 4', { resources: { cpu: 1 } });
  t.is((await ended(run.id)).state, 'COMPLETED');
  await quota({ name: 'fred-none', maxRunning: 0 }, { user: 'fred' });
  const waiting = await submit('fred', 'true');
  await until(waiting.id, 'to wait for its quota', (task) => task.pendingReason === 'QUOTA_RUNNING_USER');

  const queue = await fred.json<QueueView>(['queue']);
  t.deepEqual([...new Set(queue.items.map((i) => i.owner))], ['fred'], 'one owner queued: the scheduler computes no scores for its order');
  const shown = await fred.json<QuotaUsage>(['quota', 'show']);
  const score = Math.round(shown.fairShare!.score);
  t.true(score >= 3, `fred ran 1 CPU for 4 s: ${JSON.stringify(shown.fairShare)}`);
  t.is(queue.items.find((i) => i.id === waiting.id)?.usage, score);
  t.regex((await fred.run(['queue'])).stdout, new RegExp(`^1\\s+${waiting.id}\\s+fred\\s+-\\s+${score}\\s`, 'm'));
  t.regex((await fred.run(['quota', 'show'])).stdout, new RegExp(`\\(score ${score}\\)`));
  await killByApi(waiting.id);
});

test.serial('follows and waits outlast a short --request-timeout (long polls wait on their own terms); Ctrl-C while following exits 130 and the task keeps going', async (t) => {
  const carol = terms.carol!;
  const slow = await submit('carol', 'sleep 3; echo late');
  const followed = await carol.run(['task', 'logs', String(slow.id), '-f', '--request-timeout', '1s']);
  t.is(followed.code, 0, followed.stderr);
  t.deepEqual(ownOutput(followed), ['late']);
  const waited = await carol.run(['task', 'wait', String(slow.id)], { env: { YARD_REQUEST_TIMEOUT: '1s' } });
  t.is(waited.code, 0, waited.stderr);

  const long = await submit('carol', 'sleep 600');
  const follow = carol.start(['task', 'logs', String(long.id), '-f']);
  await follow.waitForStderr(new RegExp(`^task ${long.id}: (running|assigned|queued)`, 'm'));
  follow.signal('SIGINT');
  const result = await follow.done;
  t.is(result.code, 130);
  t.regex(result.stderr, new RegExp(`stopped following task ${long.id}; it keeps going`));
  t.false(['KILLED', 'COMPLETED', 'FAILED'].includes((await getTask(long.id)).state), 'Ctrl-C stops the waiting, not the task');
  await killByApi(long.id);
});

test('the commands that wait print the exit status table in --help, with an example; kill and task wait take several ids', async (t) => {
  const commands = [['task', 'wait'], ['task', 'kill'], ['command', 'run'], ['experiment', 'create'], ['task', 'logs'], ['shell', 'start'], ['notebook', 'start'], ['experiment', 'kill']];
  await eachHelp(commands, (name, help) => {
    t.is(help.code, 0, name);
    t.regex(help.stdout, /EXAMPLES\n\s+\$ yard /, name);
    t.regex(help.stdout, /--request-timeout=<value>/, name);
    if (!name.endsWith('kill')) {
      t.regex(help.stdout, /EXIT STATUS/, name);
      t.regex(help.stdout, /137\s+the task was KILLED/, name);
    } else {
      t.regex(help.stdout, /kill \d+ \d+ \d+/, name);
    }
  });
});
