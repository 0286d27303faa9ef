import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { openDatabase } from '@trainyard/master';
import type { AgentTokenInfo, AuditEntry, MeResponse, Page, SessionKind, Task, TaskLogPage, User } from '@trainyard/shared';
import { api } from './helpers/api.js';
import { ROOT, runProcess } from './helpers/cli.js';
import { onPostgres, queryPostgres, storeFor } from './helpers/store.js';
import { startTestMaster, type TestMaster } from './helpers/test-master.js';

/** What scripts/make-release-fixture.mjs recorded while release 0.1.0 wrote the file. */
interface Manifest {
  passwords: Record<string, string>;
  users: Array<Omit<User, 'roles' | 'groups' | 'auth'>>;
  sessions: Array<{ username: string; kind: SessionKind; token: string }>;
  agentTokens: Array<AgentTokenInfo & { token?: string }>;
  tasks: Array<Task & { logs: Array<{ seq: number; stream: string; line: string }> }>;
}

const FIXTURES = path.join(ROOT, 'test', 'fixtures');
const manifest = JSON.parse(readFileSync(path.join(FIXTURES, 'release-0.1.0.json'), 'utf8')) as Manifest;

let m: TestMaster;
let admin: string;
/** On PostgreSQL: the upgraded SQLite file that was copied, and what `db copy` printed. */
let copied: { file: string; output: string } | undefined;
const MASTER_BIN = path.join(ROOT, 'packages', 'master', 'bin', 'yard-master.js');

test.before(async () => {
  // A copy: the committed file stays as release 0.1.0 wrote it.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'yard-upgrade-'));
  const file = path.join(dir, 'trainyard.db');
  copyFileSync(path.join(FIXTURES, 'release-0.1.0.db'), file);
  if (onPostgres) {
    // On PostgreSQL, the old installation moves there the way an admin moves one: upgraded in place by
    // this version's master, then `yard-master db copy` into the (empty) database of the test master.
    const upgraded = await openDatabase({ path: file });
    await upgraded.close();
    const store = (await storeFor(dir))!;
    const copy = await runProcess(process.execPath, [MASTER_BIN, 'db', 'copy', '--from', file, '--to', store.url]);
    if (copy.code !== 0) throw new Error(`db copy failed: ${copy.stderr}`);
    copied = { file, output: copy.stdout };
  }
  m = await startTestMaster({}, dir);
  admin = manifest.sessions.find((s) => s.username === 'admin')!.token;
});
test.after.always(() => m?.stop());

test('the file went through every migration since 0.1.0, in order', async (t) => {
  const history = async (db: unknown) =>
    ((await (db as any).selectFrom('kysely_migration').select('name').orderBy('timestamp').orderBy('name').execute()) as Array<{ name: string }>).map((r) => r.name);
  const expected = ['0001-users-and-sessions', '0002-tasks', '0003-agents', '0005-access-model', '0006-auth-backends', '0007-admission', '0008-quotas', '0009-group-identity', '0011-pools', '0021-kill-requests', '0022-task-agent-tokens', '0023-leader', '0026-scheduling', '0027-images', '0031-usage-ledger', '0032-login-failures'];
  t.deepEqual(await history(m.master.database.db), expected);
  if (copied) {
    const file = await openDatabase({ path: copied.file }, { migrate: false });
    t.teardown(() => file.close());
    t.deepEqual(await history(file.db), expected, 'the SQLite file, before it was copied');
  }
});

test('on PostgreSQL: db copy moved every row of every table, the audit log whole', async (t) => {
  if (!copied) return t.pass('the suite runs on SQLite: the upgraded file is the store itself');
  const file = await openDatabase({ path: copied.file }, { migrate: false });
  t.teardown(() => file.close());
  // What db copy reports (and checked in the target before it committed): every table's rows, as in the file.
  for (const table of ['users', 'sessions', 'tasks', 'task_logs', 'audit_log', 'agent_tokens', 'agents', 'roles', 'role_assignments'] as const) {
    const rows = Number((await file.db.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
    t.true(rows > 0, table);
    t.regex(copied.output, new RegExp(`^${table}\\s+${rows}$`, 'm'), table);
  }
  t.regex(copied.output, /every table's rows match/);
  // The audit log entry by entry, as the API shows it (the master's own entries since its start come on top).
  const audit = (await api<Page<AuditEntry>>(m.url, 'GET', '/audit?limit=500', { token: admin })).body.items;
  const rows = await file.db.selectFrom('audit_log').selectAll().orderBy('id', 'desc').execute();
  t.deepEqual(
    audit.filter((e) => e.id <= rows[0]!.id).map((e) => [e.id, Date.parse(e.time), e.actor, e.action, e.targetType, e.target, e.details]),
    rows.map((r) => [r.id, r.at, r.actor_name, r.action, r.target_type, r.target, JSON.parse(r.details)]),
  );
  // Ids go on where the file's left off: none is handed out twice.
  const sequences = await (file.db as any).selectFrom('sqlite_sequence').select(['name', 'seq']).execute();
  t.true(sequences.length > 5);
  for (const { name, seq } of sequences as Array<{ name: string; seq: number }>) {
    const [row] = await queryPostgres<{ last_value: string }>(m.dbUrl!, `select last_value from ${name}_id_seq`);
    // At least there (the master has written sessions and audit entries since it started on the copy).
    t.true(Number(row!.last_value) >= seq, `${name}: ${row!.last_value} < ${seq}`);
  }
});

test('every user is there as 0.1.0 left them, and admins are still admins', async (t) => {
  const users = (await api<Page<User>>(m.url, 'GET', '/users?limit=500', { token: admin })).body.items;
  t.deepEqual(
    users.map(({ roles: _roles, groups: _groups, auth: _auth, defaultGroup: _default, ...user }) => user),
    manifest.users,
  );
  // 0007-admission: nobody has a default group yet.
  t.deepEqual([...new Set(users.map((u) => u.defaultGroup))], [null]);
  // 0006-auth-backends: everyone from before keeps Trainyard's own password.
  t.deepEqual([...new Set(users.map((u) => u.auth))], ['internal']);
  for (const user of users) {
    const wasAdmin = manifest.users.find((u) => u.username === user.username)!.admin;
    t.deepEqual(user.roles.map((r) => r.role).sort(), wasAdmin ? ['admin', 'user'] : ['user'], user.username);
  }
  t.deepEqual(users.filter((u) => u.admin).map((u) => u.username), ['admin', 'alice', 'erin']);
  t.deepEqual(users.find((u) => u.username === 'dave')!.agentUser, { uid: 1234, user: 'dave', gid: 1234, group: 'dave' }, 'the link');

  // An admin of 0.1.0 may do admin things; a user may not.
  const alice = manifest.sessions.find((s) => s.username === 'alice' && s.kind === 'login')!.token;
  t.is((await api(m.url, 'GET', '/groups', { token: alice })).status, 200);
  const bob = manifest.sessions.find((s) => s.username === 'bob')!.token;
  t.is((await api(m.url, 'GET', '/groups', { token: bob })).status, 403);

  // Their passwords still verify; the deactivated one still cannot log in (told so: her password is right).
  for (const [username, password] of Object.entries(manifest.passwords)) {
    const login = await api(m.url, 'POST', '/auth/login', { body: { username, password } });
    t.is(login.status, username === 'carol' ? 403 : 200, username);
    if (username === 'carol') t.is(login.body.error.code, 'USER_INACTIVE');
  }

  // The audit log says where the admin role came from.
  const audit = (await api<Page<AuditEntry>>(m.url, 'GET', '/audit?limit=500', { token: admin })).body.items;
  const migrated = audit.filter((e) => e.actor === null && e.action === 'role.assign').map((e) => e.target).sort();
  t.deepEqual(migrated, ['admin', 'alice', 'erin']);
});

test('every session 0.1.0 opened still authenticates, as its user and kind', async (t) => {
  for (const session of manifest.sessions) {
    const me = await api<MeResponse>(m.url, 'GET', '/me', { token: session.token });
    t.is(me.status, 200, session.username);
    t.is(me.body.user.username, session.username);
    t.is(me.body.session.kind, session.kind);
  }
});

test('every task, its config, identity, state and logs are intact; agent tokens still work', async (t) => {
  for (const expected of manifest.tasks) {
    const { logs, ...task } = expected;
    const found = await api<Task>(m.url, 'GET', `/tasks/${task.id}`, { token: admin });
    const { group, runSpec, pendingReason, killRequest, pool, placement, resources, priority, preemptible, preemptions, ...rest } = found.body;
    t.deepEqual(rest, task, `task ${task.id}`);
    // 0026-scheduling: a task from before has the default priority, may be preempted, and never was.
    t.deepEqual({ priority, preemptible, preemptions }, { priority: 0, preemptible: true, preemptions: 0 }, `task ${task.id}`);
    // 0021-kill-requests: a kill asked before says when, and that who asked was not recorded.
    t.deepEqual(killRequest && { by: killRequest.by, reason: killRequest.reason }, task.killRequested ? { by: null, reason: null } : null, `task ${task.id}`);
    // 0011-pools: every task from before is in the default pool, placed on an agent and nothing more.
    t.is(pool, 'default');
    t.is(placement, null);
    // 0031-usage-ledger: what its run spec holds.
    t.deepEqual(resources, { gpus: runSpec.resources.gpus, cpu: runSpec.resources.cpu ?? null, memory: runSpec.resources.memory ?? null });
    // 0008-quotas: no task from before waits for anything.
    t.is(pendingReason, null);
    // 0007-admission: in no group, with the run spec its config and identity always meant.
    t.is(group, null);
    t.is(runSpec.image, task.config.image, `task ${task.id}`);
    t.deepEqual(runSpec.entrypoint, task.config.entrypoint);
    t.deepEqual(runSpec.environment, task.config.environment);
    t.deepEqual(runSpec.runAs, { ...task.runAs, supplementaryGroups: [] });
    t.is(runSpec.pull, 'never');
    t.deepEqual(runSpec.confinement.capabilities, []);
    t.is(runSpec.resources.gpus, (task.config.resources as { slots?: number }).slots ?? 0);
    t.deepEqual(runSpec.bindMounts.map((b) => b.hostPath), task.config.bind_mounts.map((b) => b.host_path));
    const page = await api<TaskLogPage>(m.url, 'GET', `/tasks/${task.id}/logs?limit=5000`, { token: admin });
    t.deepEqual(page.body.items.map(({ seq, stream, line }) => ({ seq, stream, line })), logs, `logs of task ${task.id}`);
  }
  const summaries = (await api<Page<Task>>(m.url, 'GET', '/tasks?all=true&limit=500', { token: admin })).body.items;
  t.is(summaries.length, manifest.tasks.length);

  const tokens = (await api<Page<AgentTokenInfo>>(m.url, 'GET', '/agent-tokens', { token: admin })).body.items;
  t.deepEqual(tokens.map((tk) => tk.name), manifest.agentTokens.map((tk) => tk.name));
  const rack = manifest.agentTokens.find((tk) => tk.token)!;
  // Authenticated as an agent: the answer is about the agent, not the token.
  const heartbeat = await api(m.url, 'POST', '/agents/never-registered/heartbeat', { token: rack.token, body: {} });
  t.is(heartbeat.body.error.code, 'AGENT_NOT_FOUND');
});
