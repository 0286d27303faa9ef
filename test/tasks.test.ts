import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import type { Page, Task, TaskSummary } from '@trainyard/shared';
import { api } from './helpers/api.js';
import { Terminal } from './helpers/cli.js';
import { createUsers, experimentYaml } from './helpers/fixtures.js';
import { countRows } from './helpers/store.js';
import { startTestMaster, type TestMaster } from './helpers/test-master.js';

async function fresh(t: { teardown(fn: () => Promise<void>): void }, config = {}) {
  const m = await startTestMaster(config);
  t.teardown(() => m.stop());
  return m;
}

async function loggedIn(m: TestMaster, user: string, password = 'pw'): Promise<Terminal> {
  const term = new Terminal(m.url);
  const login = await term.run(['user', 'login', user, '--password-stdin'], { input: `${password}\n` });
  if (login.code !== 0) throw new Error(login.stderr);
  return term;
}

function writeConfig(term: Terminal, name: string, text: string): string {
  const file = path.join(term.home, name);
  writeFileSync(file, text);
  return file;
}

const taskCount = (m: TestMaster) => countRows(m, 'tasks');

test('lists show your own tasks; -a shows everyone\'s, for every kind; --json carries the owner', async (t) => {
  const m = await fresh(t);
  await createUsers(m.url, ['alice', 'bob']);
  const alice = await loggedIn(m, 'alice');
  const bob = await loggedIn(m, 'bob');

  t.is((await alice.run(['experiment', 'create', writeConfig(alice, 'e.yaml', experimentYaml('mnist'))])).code, 0);
  const exp = await alice.json<Page<TaskSummary>>(['experiment', 'list']);
  const expId = exp.items[0]!.id;
  t.is((await alice.run(['command', 'run', '--image', 'busybox:latest', '--', 'sh', '-c', 'echo hi'])).code, 0);
  t.is((await alice.run(['tensorboard', 'start', String(expId), '--image', 'busybox:latest', '--no-wait'])).code, 0);
  // No agent here: --no-wait returns once the shell is created (shell start waits until it runs).
  t.is((await alice.run(['shell', 'start', '--image', 'busybox:latest', '--no-wait'])).code, 0);
  t.is((await bob.run(['notebook', 'start', '--image', 'busybox:latest', '--no-wait'])).code, 0);
  t.is((await bob.run(['shell', 'start', '--no-wait'])).code, 0);
  t.is((await bob.run(['command', 'run', '--', 'true'])).code, 0);

  const table = await alice.run(['experiment', 'list']);
  t.regex(table.stdout.split('\n')[0]!, /^ID\s+OWNER\s+KIND\s+STATE\s+NAME\s+RUN AS\s+AGENT\s+STARTED\s+REASON$/);
  t.regex(table.stdout, new RegExp(`^${expId}\\s+alice\\s+experiment\\s+QUEUED\\s+mnist\\s+root:root \\(0:0\\)\\s+-\\s+-\\s+-$`, 'm'));

  const expected: Record<string, { alice: number; bob: number }> = {
    experiment: { alice: 1, bob: 0 },
    command: { alice: 1, bob: 1 },
    notebook: { alice: 0, bob: 1 },
    tensorboard: { alice: 1, bob: 0 },
    shell: { alice: 1, bob: 1 },
  };
  for (const [kind, counts] of Object.entries(expected)) {
    const mine = await alice.json<Page<TaskSummary>>([kind, 'list']);
    t.is(mine.items.length, counts.alice, `alice's ${kind}s`);
    t.true(mine.items.every((task) => task.owner === 'alice' && task.kind === kind));
    const all = await alice.json<Page<TaskSummary>>([kind, 'list', '-a']);
    t.is(all.items.length, counts.alice + counts.bob, `all ${kind}s`);
    t.deepEqual([...new Set(all.items.map((task) => task.owner))].sort(), [...(counts.alice ? ['alice'] : []), ...(counts.bob ? ['bob'] : [])]);
  }
  const bobAll = await bob.run(['task', 'list', '-a']);
  t.is(bobAll.stdout.trim().split('\n').length, 1 + 7);
  const bobMine = await bob.json<Page<TaskSummary>>(['task', 'list']);
  t.is(bobMine.items.length, 3);
});

test('run identity: default_task for the unlinked, the link for the linked, fixed at creation', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'yard-restart-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const first = await startTestMaster({}, dir);
  await createUsers(first.url, ['bob', 'alice']);
  let bob = await loggedIn(first, 'bob');
  const before = await bob.json<Task>(['command', 'run', '--', 'id']);
  t.deepEqual(before.runAs, { uid: 0, user: 'root', gid: 0, group: 'root' });
  await first.stop();

  // Restart on the same database with another default_task.
  const second = await startTestMaster({ security: { default_task: { user: 'nobody', uid: 65534, group: 'nogroup', gid: 65534 } } }, dir);
  t.teardown(() => second.stop());
  bob = await loggedIn(second, 'bob');
  const after = await bob.json<Task>(['command', 'run', '--', 'id']);
  t.deepEqual(after.runAs, { uid: 65534, user: 'nobody', gid: 65534, group: 'nogroup' });
  const old = await bob.json<Task>(['command', 'describe', String(before.id)]);
  t.deepEqual(old.runAs, { uid: 0, user: 'root', gid: 0, group: 'root' }, 'tasks keep what they were created with');

  const admin = new Terminal(second.url);
  const link = (uid: number, name: string) =>
    admin.run(['-u', 'admin', 'user', 'link-with-agent-user', 'alice', '--agent-uid', String(uid), '--agent-user', name, '--agent-gid', String(uid + 1), '--agent-group', `${name}-g`], { env: { YARD_PASSWORD: '' } });
  t.is((await link(1234, 'alice')).code, 0);
  const alice = await loggedIn(second, 'alice');
  const linked = await alice.json<Task>(['experiment', 'create', writeConfig(alice, 'e.yaml', experimentYaml('e1'))]);
  t.deepEqual(linked.runAs, { uid: 1234, user: 'alice', gid: 1235, group: 'alice-g' });
  const described = await alice.run(['experiment', 'describe', String(linked.id)]);
  t.regex(described.stdout, /^Runs as:\s+alice:alice-g \(1234:1235\)$/m);

  t.is((await link(2000, 'alice2')).code, 0);
  const relinked = await alice.json<Task>(['experiment', 'create', writeConfig(alice, 'e2.yaml', experimentYaml('e2'))]);
  t.deepEqual(relinked.runAs, { uid: 2000, user: 'alice2', gid: 2001, group: 'alice2-g' });
  const kept = await alice.json<Task>(['experiment', 'describe', String(linked.id)]);
  t.deepEqual(kept.runAs, { uid: 1234, user: 'alice', gid: 1235, group: 'alice-g' });
});

test('a config that picks its own user, uid or gid, or asks for privileges, is refused and says why', async (t) => {
  const m = await fresh(t);
  await createUsers(m.url, ['alice']);
  const alice = await loggedIn(m, 'alice');
  for (const [extra, why] of [
    ['user: root\n', /user: a task cannot choose the user it runs as/],
    ['uid: 0\n', /uid: a task cannot choose the user it runs as/],
    ['gid: 0\n', /gid: a task cannot choose the user it runs as/],
    ['resources: {slots: 0, user: root}\n', /resources\.user: a task cannot choose/],
    ['privileged: true\n', /privileged: tasks run with every capability dropped/],
    ['docker_args: ["--user=0:0"]\n', /docker_args\[0\]: "--user"-style overrides are not allowed/],
    ['runtime: {options: "--user 0"}\n', /runtime\.options: "--user"-style overrides are not allowed/],
    ['cap_add: [SYS_ADMIN]\n', /capability SYS_ADMIN refused by floor\.capability/],
  ] as const) {
    const base = 'name: x\nimage: busybox:latest\nentrypoint: id\n';
    const result = await alice.run(['experiment', 'create', writeConfig(alice, 'bad.yaml', base + extra)]);
    t.is(result.code, 1, extra);
    t.regex(result.stderr, why);
  }
  const viaFlagConfig = await alice.run(['command', 'run', '-c', writeConfig(alice, 'c.yaml', 'uid: 0\n'), '--', 'id']);
  t.is(viaFlagConfig.code, 1);
  t.regex(viaFlagConfig.stderr, /uid: a task cannot choose the user it runs as/);
  const direct = await api(m.url, 'POST', '/tasks', {
    token: (await createUsers(m.url, ['carol'])).carol,
    body: { kind: 'command', config: { entrypoint: ['id'], run_as: { uid: 0 } } },
  });
  t.is(direct.status, 400);
  t.is(direct.body.error.code, 'INVALID_TASK_CONFIG');
  t.is(await taskCount(m), 0);
});

test("only the owner or an admin may kill, describe, read the logs of, or change a task", async (t) => {
  const m = await fresh(t);
  const tokens = await createUsers(m.url, ['alice', 'bob']);
  const alice = await loggedIn(m, 'alice');
  const bob = await loggedIn(m, 'bob');
  const task = await alice.json<Task>(['experiment', 'create', writeConfig(alice, 'e.yaml', experimentYaml('secret'))]);
  const id = String(task.id);

  const refusals: Array<[string[], string]> = [
    [['experiment', 'kill', id], 'kill'],
    [['experiment', 'logs', id], 'read the logs of'],
    [['experiment', 'describe', id], 'see the details of'],
  ];
  for (const [args, action] of refusals) {
    const result = await bob.run(args);
    t.is(result.code, 1, args.join(' '));
    t.regex(result.stderr, new RegExp(`bob may not ${action} task ${id}: it belongs to alice, and bob does not hold operate_others`));
    const json = await bob.run([...args, '--json']);
    t.is(JSON.parse(json.stdout).error.code, 'FORBIDDEN');
  }
  const alter = await api(m.url, 'PATCH', `/tasks/${id}`, { token: tokens.bob, body: { name: 'mine now' } });
  t.is(alter.status, 403);
  t.is(alter.body.error.code, 'FORBIDDEN');
  t.is((await api(m.url, 'GET', `/tasks/${id}`, { token: tokens.alice })).body.state, 'QUEUED', 'still alive');

  const renamed = await api(m.url, 'PATCH', `/tasks/${id}`, { token: tokens.admin, body: { name: 'renamed' } });
  t.is(renamed.status, 200);
  t.is(renamed.body.name, 'renamed');
  const adminTerm = new Terminal(m.url);
  const describe = await adminTerm.run(['-u', 'admin', 'experiment', 'describe', id], { env: { YARD_PASSWORD: '' } });
  t.is(describe.code, 0, describe.stderr);
  const kill = await adminTerm.run(['-u', 'admin', 'experiment', 'kill', id]);
  t.is(kill.code, 0, kill.stderr);
  t.regex(kill.stdout, new RegExp(`Killed experiment ${id}`));
  const again = await alice.run(['experiment', 'kill', id]);
  t.is(again.code, 1);
  t.regex(again.stderr, /already ended as KILLED/);
  t.is((await api(m.url, 'GET', '/tasks/99999', { token: tokens.alice })).body.error.code, 'TASK_NOT_FOUND');
});

test("a deactivated user's tasks stay listed under -a; she can create no more", async (t) => {
  const m = await fresh(t);
  await createUsers(m.url, ['alice']);
  const alice = await loggedIn(m, 'alice');
  const task = await alice.json<Task>(['command', 'run', '--', 'sleep', '1']);
  const admin = new Terminal(m.url);
  t.is((await admin.run(['-u', 'admin', 'user', 'deactivate', 'alice'], { env: { YARD_PASSWORD: '' } })).code, 0);

  const all = await admin.json<Page<TaskSummary>>(['command', 'list', '-a']);
  t.true(all.items.some((item) => item.id === task.id && item.owner === 'alice'));
  const create = await alice.run(['command', 'run', '--', 'true']);
  t.is(create.code, 1);
  t.regex(create.stderr, /session as 'alice' has ended/);
  const relogin = await alice.run(['user', 'login', 'alice', '--password-stdin'], { input: 'pw\n' });
  t.is(relogin.code, 1);
  t.is(await taskCount(m), 1);
});

test('hostile configs are clear 400s and store nothing', async (t) => {
  const m = await fresh(t);
  const { alice } = await createUsers(m.url, ['alice']);
  const post = (body: unknown) => api(m.url, 'POST', '/tasks', { token: alice, body });
  const base = { name: 'x', image: 'busybox:latest', entrypoint: 'true' };
  const bomb = [
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
    'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
    'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
    'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
    'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
    'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
    'name: bomb',
  ].join('\n');
  const cases: Array<[string, unknown, RegExp]> = [
    ['unknown kind', { kind: 'cronjob', config: base }, /kind must be one of/],
    ['config of the wrong type', { kind: 'experiment', config: 42 }, /config must be an object or YAML text/],
    ['name of the wrong type', { kind: 'experiment', config: { ...base, name: 7 } }, /name must be a string/],
    ['negative slots', { kind: 'experiment', config: { ...base, resources: { slots: -1 } } }, /slots cannot be negative/],
    ['negative cpu', { kind: 'experiment', config: { ...base, resources: { cpu: -2 } } }, /cpu must be more than 0/],
    ['negative memory', { kind: 'experiment', config: { ...base, resources: { memory: '-4Gi' } } }, /not a memory size/],
    ['relative host path', { kind: 'experiment', config: { ...base, bind_mounts: [{ host_path: 'data', container_path: '/data' }] } }, /host_path must be an absolute path/],
    ['relative container path', { kind: 'experiment', config: { ...base, bind_mounts: [{ host_path: '/data', container_path: 'data' }] } }, /container_path must be an absolute path/],
    ['unknown key', { kind: 'experiment', config: { ...base, gpus: 8 } }, /unknown key: gpus/],
    ['missing image', { kind: 'experiment', config: { name: 'x', entrypoint: 'true' } }, /image/],
    ['YAML bomb', { kind: 'experiment', config: bomb }, /alias|larger than/i],
    ['broken YAML', { kind: 'experiment', config: 'name: [unclosed' }, /not valid YAML/],
    ['YAML list', { kind: 'experiment', config: '- a\n- b\n' }, /must be a mapping/],
    ['tensorboard on nothing', { kind: 'tensorboard', config: { experiment_ids: [424242] } }, /experiment 424242 does not exist/],
  ];
  for (const [what, body, message] of cases) {
    const result = await post(body);
    t.is(result.status, 400, what);
    t.regex(result.body.error.code, /^(INVALID_INPUT|INVALID_TASK_CONFIG)$/, what);
    t.regex(result.body.error.message, message, what);
  }
  const huge = await api(m.url, 'POST', '/tasks', {
    token: alice,
    rawBody: JSON.stringify({ kind: 'experiment', config: `name: x\ndescription: "${'x'.repeat(10 * 1024 * 1024)}"\n` }),
  });
  t.is(huge.status, 413);
  t.is(huge.body.error.code, 'PAYLOAD_TOO_LARGE');
  t.is(await taskCount(m), 0, 'nothing stored');
  t.is((await fetch(`${m.url}/healthz`)).status, 200);

  // The CLI prints the same errors as one line.
  const term = await loggedIn(m, 'alice');
  const big = writeConfig(term, 'big.yaml', `name: x\nimage: b\nentrypoint: e\ndescription: "${'x'.repeat(10 * 1024 * 1024)}"\n`);
  const cli = await term.run(['experiment', 'create', big]);
  t.is(cli.code, 1);
  t.regex(cli.stderr, /^Error: the request body is larger than the limit of \d+ bytes$/m);
  const missing = await term.run(['experiment', 'create', '/nonexistent.yaml']);
  t.regex(missing.stderr, /^Error: cannot read \/nonexistent\.yaml: ENOENT$/m);
});

test('keyset pagination misses and repeats nothing while new tasks arrive', async (t) => {
  const m = await fresh(t);
  const { alice, bob } = await createUsers(m.url, ['alice', 'bob']);
  const create = (token: string, i: number) =>
    api(m.url, 'POST', '/tasks', { token, body: { kind: 'command', config: { entrypoint: ['echo', String(i)] } } });
  const existing: number[] = [];
  for (let i = 0; i < 130; i++) {
    const result = await create(i % 3 === 0 ? bob! : alice!, i);
    existing.push(result.body.id);
  }
  const seen: number[] = [];
  let after: string | null = null;
  let pages = 0;
  do {
    const query: string = `/tasks?all=true&limit=17${after ? `&after=${encodeURIComponent(after)}` : ''}`;
    const page: { body: Page<TaskSummary> } = await api(m.url, 'GET', query, { token: alice });
    seen.push(...page.body.items.map((item) => item.id));
    after = page.body.next;
    pages++;
    // New work lands between page reads.
    await create(alice!, 1000 + pages);
  } while (after);
  t.is(new Set(seen).size, seen.length, 'no task repeated');
  t.deepEqual([...seen].sort((a, b) => a - b), [...existing].sort((a, b) => a - b), 'every task that existed, once');
  t.deepEqual(seen, [...seen].sort((a, b) => b - a), 'newest first');

  const mine = await api(m.url, 'GET', '/tasks?limit=500&kind=command', { token: bob });
  t.true(mine.body.items.every((item: TaskSummary) => item.owner === 'bob'));
  t.is(mine.body.items.length, 44);
  const bad = await api(m.url, 'GET', '/tasks?after=garbage', { token: bob });
  t.is(bad.status, 400);
  t.is((await api(m.url, 'GET', '/tasks?limit=0', { token: bob })).status, 400);
  t.is((await api(m.url, 'GET', '/tasks?kind=cronjob', { token: bob })).status, 400);
  t.is((await api(m.url, 'GET', '/tasks?all=maybe', { token: bob })).status, 400);
});

test('logs are served in order by cursor, and `logs -f` follows until the task ends', async (t) => {
  const m = await fresh(t);
  await createUsers(m.url, ['alice']);
  const alice = await loggedIn(m, 'alice');
  const task = await alice.json<Task>(['command', 'run', '--', 'train']);
  const tasks = m.master.services.tasks;
  // What an agent reports, through the master's own service (the one writer of task states).
  const assigned = await tasks.transition(await tasks.require(task.id), 'assign', { agent_id: 'test-agent', lease_id: 'test-lease' });
  await tasks.transition(assigned, 'start');
  await tasks.appendLogs(task.id, [
    { stream: 'stdout', line: 'epoch 1' },
    { stream: 'stderr', line: 'warning: slow' },
  ]);

  const snapshot = await alice.run(['command', 'logs', String(task.id)]);
  t.is(snapshot.code, 0, snapshot.stderr);
  t.deepEqual(snapshot.stdout.trim().split('\n'), ['epoch 1', 'warning: slow']);

  const follow = alice.run(['command', 'logs', String(task.id), '-f']);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  await tasks.appendLogs(task.id, [{ stream: 'stdout', line: 'epoch 2' }]);
  await new Promise((resolve) => setTimeout(resolve, 300));
  await tasks.appendLogs(task.id, [{ stream: 'stdout', line: 'done' }]);
  await tasks.transition(await tasks.require(task.id), 'complete', { exit_code: 0 });
  const followed = await follow;
  t.is(followed.code, 0, followed.stderr);
  t.deepEqual(followed.stdout.trim().split('\n'), ['epoch 1', 'warning: slow', 'epoch 2', 'done']);

  const page = await api(m.url, 'GET', `/tasks/${task.id}/logs?after=2`, { token: (await createUsers(m.url, [])).admin });
  t.deepEqual(page.body.items.map((l: { seq: number }) => l.seq), [3, 4]);
  t.is(page.body.next, 4);
  const illegal = await t.throwsAsync(tasks.transition(await tasks.require(task.id), 'start'));
  t.regex(illegal!.message, /already ended as COMPLETED/);
});
