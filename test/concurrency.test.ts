// Every invariant that once leaned on SQLite's single connection, driven by concurrent requests
// against one master. On SQLite the master's one connection serialises its transactions; on
// PostgreSQL (YARD_TEST_DB=postgres) each request may run on its own connection of the pool, and
// what holds the invariant is a lock the transaction takes (docs/architecture.md, "The store").
// Elsewhere in the suite, on the same store: the login throttle (login-throttle.test.ts, and operations.test.ts, 20 parallel
// guesses) and the quota gate at dispatch (quotas.test.ts, 50 submissions at max_running 5).
import test from 'ava';
import type { GroupDetail, Task, TaskLogPage, TaskPlan } from '@trainyard/shared';
import { api, loginToken, type ApiResult } from './helpers/api.js';
import { createUsers } from './helpers/fixtures.js';
import { TEST_STORE } from './helpers/store.js';
import { startTestMaster, type TestMaster } from './helpers/test-master.js';

let m: TestMaster;
let admin: string;

test.before(async () => {
  // The login throttle is not under test here (operations.test.ts has it): logins race in dozens.
  m = await startTestMaster({ db: { pool_size: 20 }, security: { login_throttle: { max_failures_per_user: 1000 } } });
  admin = await loginToken(m.url, 'admin');
});
test.after.always(() => m?.stop());

const times = <T>(n: number, make: (i: number) => Promise<T>) => Promise.all(Array.from({ length: n }, (_, i) => make(i)));
const statuses = (answers: Array<ApiResult>) => answers.map((a) => `${a.status}${a.body?.error ? ` ${a.body.error.code}` : ''}`);
const count = (answers: Array<ApiResult>, status: number, code?: string) =>
  answers.filter((a) => a.status === status && (code === undefined || a.body?.error?.code === code)).length;
const asAdmin = (method: string, path: string, body?: unknown) => api(m.url, method, path, { token: admin, ...(body === undefined ? {} : { body }) });
const command = (extra: Record<string, unknown> = {}) => ({ kind: 'command', config: { entrypoint: ['true'], ...extra } });

async function must(answer: Promise<ApiResult>, status = 201): Promise<any> {
  const result = await answer;
  if (result.status !== status) throw new Error(`expected ${status}: ${result.status} ${JSON.stringify(result.body)}`);
  return result.body;
}

test.serial(`${TEST_STORE}: 50 concurrent submissions against max_submitted 5: exactly 5 accepted, 45 refused with 409`, async (t) => {
  const { sub } = await createUsers(m.url, ['sub']);
  await must(asAdmin('POST', '/quotas', { name: 'five', maxSubmitted: 5 }));
  await must(asAdmin('POST', '/quotas/five/assignments', { user: 'sub' }));
  const answers = await times(50, () => api(m.url, 'POST', '/tasks', { token: sub, body: command() }));
  t.is(count(answers, 201), 5, statuses(answers).join(', '));
  t.is(count(answers, 409, 'QUOTA_EXCEEDED'), 45, statuses(answers).join(', '));
  t.true(answers.filter((a) => a.status === 409).every((a) => a.body.error.details.limit === 5 && a.body.error.details.used === 5));
  const stored = await m.master.database.db.selectFrom('tasks').innerJoin('users', 'users.id', 'tasks.owner_id').select('tasks.id').where('username', '=', 'sub').execute();
  t.is(stored.length, 5, 'and exactly 5 stored');
});

test.serial(`${TEST_STORE}: a group's max_submitted holds across its members submitting at once`, async (t) => {
  const members = ['gm1', 'gm2', 'gm3', 'gm4'];
  const tokens = await createUsers(m.url, members);
  await must(asAdmin('POST', '/groups', { path: 'crowd' }));
  for (const member of members) await must(asAdmin('POST', '/groups/crowd/members', { username: member }), 200);
  await must(asAdmin('POST', '/quotas', { name: 'crowd-three', maxSubmitted: 3 }));
  await must(asAdmin('POST', '/quotas/crowd-three/assignments', { group: 'crowd' }));
  const answers = await times(24, (i) => api(m.url, 'POST', '/tasks', { token: tokens[members[i % 4]!], body: command({ group: 'crowd' }) }));
  t.is(count(answers, 201), 3, statuses(answers).join(', '));
  t.is(count(answers, 409, 'QUOTA_EXCEEDED'), 21);
});

test.serial(`${TEST_STORE}: deny_on_limit counts every unfinished task under concurrent submissions`, async (t) => {
  const { deny } = await createUsers(m.url, ['deny']);
  await must(asAdmin('POST', '/quotas', { name: 'four-cpus', cpu: 4, denyOnLimit: true }));
  await must(asAdmin('POST', '/quotas/four-cpus/assignments', { user: 'deny' }));
  const answers = await times(30, () => api(m.url, 'POST', '/tasks', { token: deny, body: command({ resources: { cpu: 1 } }) }));
  t.is(count(answers, 201), 4, statuses(answers).join(', '));
  t.is(count(answers, 409, 'QUOTA_EXCEEDED'), 26);
});

test.serial(`${TEST_STORE}: uids from a group's range: members resolved at once get distinct uids, one member one uid`, async (t) => {
  const members = Array.from({ length: 16 }, (_, i) => `ranged${i}`);
  const tokens = await createUsers(m.url, members);
  await must(asAdmin('POST', '/groups', { path: 'ranged' }));
  await must(asAdmin('PATCH', '/groups/ranged/unix', { gid: 70001, uidRange: 'auto' }), 200);
  for (const member of members) await must(asAdmin('POST', '/groups/ranged/members', { username: member }), 200);
  const plan = (member: string) => api<TaskPlan>(m.url, 'POST', '/tasks/dry-run', { token: tokens[member], body: command({ group: 'ranged' }) });
  // Every member at once, and the first member many times over at the same moment.
  const answers = await Promise.all([...members.map(plan), ...Array.from({ length: 8 }, () => plan(members[0]!))]);
  t.deepEqual([...new Set(statuses(answers))], ['200'], statuses(answers).join(', '));
  const uids = answers.map((a) => a.body.runSpec.runAs.uid as number);
  t.is(new Set(uids.slice(0, members.length)).size, members.length, `distinct: ${uids.join(' ')}`);
  t.deepEqual([...new Set(uids.slice(members.length))], [uids[0]], 'one uid for the first member, however often resolved');
  const range = ((await must(asAdmin('GET', '/groups/ranged'), 200)) as GroupDetail).uidRange!;
  t.true(uids.every((uid) => uid >= range.start && uid < range.start + range.size));
});

test.serial(`${TEST_STORE}: uid ranges handed out at once never overlap; a gid asked by several groups at once goes to one`, async (t) => {
  const paths = Array.from({ length: 8 }, (_, i) => `auto${i}`);
  for (const path of paths) await must(asAdmin('POST', '/groups', { path }));
  const ranged = await times(paths.length, (i) => asAdmin('PATCH', `/groups/${paths[i]}/unix`, { gid: 71000 + i, uidRange: 'auto' }));
  t.deepEqual([...new Set(statuses(ranged))], ['200'], statuses(ranged).join(', '));
  const starts = ranged.map((a) => (a.body as GroupDetail).uidRange!.start).sort((a, b) => a - b);
  const size = (ranged[0]!.body as GroupDetail).uidRange!.size;
  t.true(starts.every((start, i) => i === 0 || start >= starts[i - 1]! + size), `starts ${starts.join(' ')}`);

  const contenders = Array.from({ length: 6 }, (_, i) => `gidwant${i}`);
  for (const path of contenders) await must(asAdmin('POST', '/groups', { path }));
  const gids = await times(contenders.length, (i) => asAdmin('PATCH', `/groups/${contenders[i]}/unix`, { gid: 72000 }));
  t.is(count(gids, 200), 1, statuses(gids).join(', '));
  t.is(count(gids, 409, 'UNIX_ID_TAKEN'), contenders.length - 1, statuses(gids).join(', '));
});

test.serial(`${TEST_STORE}: two admins demoting each other at the same moment: one wins, one admin always remains`, async (t) => {
  const { second } = await createUsers(m.url, ['second']);
  const tokenOf: Record<string, string> = { admin, second };
  // Everyone signed in may list users; a demoted admin's session stays valid.
  const admins = async () =>
    ((await must(asAdmin('GET', '/users?limit=500'), 200)) as { items: Array<{ username: string; admin: boolean }> }).items.filter((u) => u.admin).map((u) => u.username);
  try {
    for (let round = 0; round < 8; round++) {
      // Whoever is the admin now makes the other one an admin too; then each demotes the other.
      const [current] = await admins();
      await must(api(m.url, 'PATCH', `/users/${current === 'admin' ? 'second' : 'admin'}`, { token: tokenOf[current!]!, body: { admin: true } }), 200);
      t.deepEqual((await admins()).sort(), ['admin', 'second']);
      const answers = await Promise.all([
        api(m.url, 'PATCH', '/users/second', { token: admin, body: { admin: false } }),
        api(m.url, 'PATCH', '/users/admin', { token: second, body: { admin: false } }),
      ]);
      t.is(count(answers, 200), 1, `round ${round}: ${statuses(answers).join(', ')}`);
      // The other is refused by the last-admin check, or, when the winner committed before its
      // request was even authorized, because it holds no admin capability any more.
      t.is(count(answers, 409, 'LAST_ADMIN') + count(answers, 403, 'FORBIDDEN'), 1, `round ${round}: ${statuses(answers).join(', ')}`);
      t.is((await admins()).length, 1, `round ${round}`);
    }
  } finally {
    // The file goes on as it began: admin is an admin.
    const [last] = await admins();
    if (last !== 'admin') await must(api(m.url, 'PATCH', '/users/admin', { token: second, body: { admin: true } }), 200);
  }
});

test.serial(`${TEST_STORE}: logins racing a password change: no session opened with the old password outlives the change`, async (t) => {
  await createUsers(m.url, ['racer'], 'old-pw');
  for (let round = 0; round < 5; round++) {
    const password = `pw-${round}`;
    const previous = round === 0 ? 'old-pw' : `pw-${round - 1}`;
    const [change, ...logins] = await Promise.all([
      asAdmin('POST', '/users/racer/password', { password }),
      ...Array.from({ length: 12 }, () => api(m.url, 'POST', '/auth/login', { body: { username: 'racer', password: previous } })),
    ]);
    t.true([200, 204].includes(change!.status), JSON.stringify(change!.body));
    t.true(logins.every((l) => l.status === 200 || l.body.error.code === 'INVALID_CREDENTIALS'), statuses(logins).join(', '));
    for (const login of logins.filter((l) => l.status === 200)) {
      t.is((await api(m.url, 'GET', '/me', { token: login.body.token })).status, 401, `round ${round}: a session from the old password survived`);
    }
    t.is((await api(m.url, 'POST', '/auth/login', { body: { username: 'racer', password } })).status, 200);
  }
});

test.serial(`${TEST_STORE}: tokens created while their owner is deactivated: none survives the deactivation`, async (t) => {
  const { maker } = await createUsers(m.url, ['maker']);
  await must(asAdmin('POST', '/roles', { name: 'scripter', capabilities: ['access_api'] }));
  await must(asAdmin('POST', '/roles/scripter/assignments', { user: 'maker' }));
  const [deactivate, ...created] = await Promise.all([
    asAdmin('PATCH', '/users/maker', { active: false }),
    ...Array.from({ length: 12 }, (_, i) => api(m.url, 'POST', '/tokens', { token: maker, body: { name: `t${i}` } })),
  ]);
  t.is(deactivate!.status, 200);
  await must(asAdmin('PATCH', '/users/maker', { active: true }), 200);
  for (const token of created.filter((c) => c.status === 201)) {
    t.is((await api(m.url, 'GET', '/me', { token: token.body.token })).status, 401, 'a token made beside the deactivation still works');
  }
  t.deepEqual(await m.master.database.db.selectFrom('api_tokens').innerJoin('users', 'users.id', 'api_tokens.user_id').select('name').where('username', '=', 'maker').execute(), []);
});

/** A simulated agent speaking the agents' API with a token (no process, no executor). */
function fakeAgent(id: string, token: string) {
  const call = (method: string, suffix: string, body?: unknown) => api(m.url, method, `/agents/${id}${suffix}`, { token, ...(body === undefined ? {} : { body }) });
  return {
    call,
    register: () => must(call('POST', '/register', { executor: 'process', resources: { cpus: 4, memoryBytes: 2 ** 33, gpus: [] } }), 200),
  };
}

test.serial(`${TEST_STORE}: leases under concurrency: acks and reports sent several times at once, every task runs once under one lease`, async (t) => {
  const { token } = await must(asAdmin('POST', '/agent-tokens', { name: 'fleet' }));
  const agents = Array.from({ length: 6 }, (_, i) => fakeAgent(`fleet-${i}`, token));
  for (const agent of agents) await agent.register();
  const { runner } = await createUsers(m.url, ['runner']);
  const ids = (await times(30, () => must(api<Task>(m.url, 'POST', '/tasks', { token: runner, body: command({ resources: { cpu: 1 } }) })))).map((task: Task) => task.id);
  const ran = new Map<number, Set<string>>();
  const acked = new Map<number, Set<string>>();
  const done = new Set<number>();
  const work = async (agent: ReturnType<typeof fakeAgent>, name: string) => {
    const deadline = Date.now() + 60_000;
    while (!ids.every((id) => done.has(id)) && Date.now() < deadline) {
      const { actions } = (await agent.call('GET', '/work?wait=1')).body as { actions: Array<{ type: string; spec: { taskId: number; leaseId: string } }> };
      await Promise.all(
        actions
          .filter((a) => a.type === 'start')
          .map(async ({ spec: { taskId, leaseId } }) => {
            const acks = await times(3, () => agent.call('POST', `/tasks/${taskId}/ack`, { leaseId }));
            if (!acks.some((a) => a.status === 200)) return;
            (acked.get(taskId) ?? acked.set(taskId, new Set()).get(taskId)!).add(`${name}/${leaseId}`);
            const running = await times(3, () => agent.call('POST', `/tasks/${taskId}/state`, { leaseId, state: 'RUNNING' }));
            if (running.some((r) => r.status === 200)) (ran.get(taskId) ?? ran.set(taskId, new Set()).get(taskId)!).add(`${name}/${leaseId}`);
            const lines = [{ stream: 'stdout', line: `ran under ${leaseId}` }];
            await times(3, () => agent.call('POST', `/tasks/${taskId}/logs`, { leaseId, offset: 0, lines }));
            const ended = await times(3, () => agent.call('POST', `/tasks/${taskId}/state`, { leaseId, state: 'COMPLETED', exitCode: 0 }));
            if (ended.some((e) => e.status === 200)) done.add(taskId);
          }),
      );
    }
  };
  await Promise.all(agents.map((agent, i) => work(agent, `fleet-${i}`)));
  t.deepEqual(ids.filter((id) => !done.has(id)), [], 'every task ended');
  for (const id of ids) {
    const task = (await asAdmin('GET', `/tasks/${id}`)).body as Task;
    t.is(task.state, 'COMPLETED', `task ${id}`);
    t.is(acked.get(id)?.size, 1, `task ${id} acknowledged under ${[...(acked.get(id) ?? [])].join(', ')}`);
    t.is(ran.get(id)?.size, 1, `task ${id} ran under ${[...(ran.get(id) ?? [])].join(', ')}`);
    const logs = ((await asAdmin('GET', `/tasks/${id}/logs?limit=100`)).body as TaskLogPage).items.filter((l) => l.stream === 'stdout');
    t.is(logs.length, 1, `task ${id}: a batch sent three times at once is stored once`);
  }
});

test.serial(`${TEST_STORE}: log batches resent at once are stored once, numbered without gaps, beside the master's own lines`, async (t) => {
  const { token } = await must(asAdmin('POST', '/agent-tokens', { name: 'logger' }));
  const agent = fakeAgent('logger-0', token);
  await agent.register();
  const { writer } = await createUsers(m.url, ['writer']);
  const task = await must(api<Task>(m.url, 'POST', '/tasks', { token: writer, body: command() }));
  const { actions } = (await agent.call('GET', '/work?wait=5')).body as { actions: Array<{ spec: { taskId: number; leaseId: string } }> };
  const { leaseId } = actions.find((a) => a.spec.taskId === task.id)!.spec;
  await must(agent.call('POST', `/tasks/${task.id}/ack`, { leaseId }), 200);
  await must(agent.call('POST', `/tasks/${task.id}/state`, { leaseId, state: 'RUNNING' }), 200);
  const batch = (from: number) => Array.from({ length: 10 }, (_, i) => ({ stream: 'stdout', line: `line ${from + i}` }));
  // Each batch five times at once, the next ones overlapping, and a kill (a write to the task's row) in between.
  const answers = await Promise.all([
    ...Array.from({ length: 5 }, () => agent.call('POST', `/tasks/${task.id}/logs`, { leaseId, offset: 0, lines: batch(0) })),
    ...Array.from({ length: 5 }, () => agent.call('POST', `/tasks/${task.id}/logs`, { leaseId, offset: 10, lines: batch(10) })),
    ...Array.from({ length: 5 }, () => agent.call('POST', `/tasks/${task.id}/logs`, { leaseId, offset: 5, lines: [...batch(5), ...batch(15)] })),
    asAdmin('POST', `/tasks/${task.id}/kill`),
  ]);
  t.deepEqual([...new Set(statuses(answers))], ['200'], statuses(answers).join(', '));
  const logs = ((await asAdmin('GET', `/tasks/${task.id}/logs?limit=500`)).body as TaskLogPage).items;
  t.deepEqual(logs.map((l) => l.seq), logs.map((_, i) => i + 1), 'numbered 1, 2, 3... without a gap or a repeat');
  const lines = logs.filter((l) => l.stream === 'stdout').map((l) => l.line);
  // Whatever order they arrived in, each line once, and a line stored only after the ones before it.
  t.deepEqual(lines, lines.map((_, i) => `line ${i}`));
  t.true(lines.length >= 10, lines.join(' | '));
});

test.serial(`${TEST_STORE}: two tokens registering one new agent id at once: one of them owns it`, async (t) => {
  const tokens = await times(4, async (i) => (await must(asAdmin('POST', '/agent-tokens', { name: `claim${i}` }))).token as string);
  const answers = await times(4, (i) => fakeAgent('contested', tokens[i]!).register().then(
    () => ({ status: 200 }) as ApiResult,
    (error: Error) => ({ status: Number(/expected 200: (\d+)/.exec(error.message)?.[1] ?? 0), body: error.message }) as ApiResult,
  ));
  t.is(count(answers, 200), 1, statuses(answers).join(', '));
  t.is(answers.filter((a) => a.status === 403).length, 3, JSON.stringify(answers));
});
