import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import type { AgentTokenInfo, AuditEntry, MeResponse, Page, Task, TaskLogPage, User } from '@trainyard/shared';
import { api } from './helpers/api.js';
import { ROOT } from './helpers/cli.js';
import { startTestMaster, type TestMaster } from './helpers/test-master.js';

/** What scripts/make-release-fixture.mjs recorded while release 0.1.0 wrote the file. */
interface Manifest {
  passwords: Record<string, string>;
  users: Array<Omit<User, 'roles' | 'groups' | 'auth'>>;
  sessions: Array<{ username: string; kind: string; token: string }>;
  agentTokens: Array<AgentTokenInfo & { token?: string }>;
  tasks: Array<Task & { logs: Array<{ seq: number; stream: string; line: string }> }>;
}

const FIXTURES = path.join(ROOT, 'test', 'fixtures');
const manifest = JSON.parse(readFileSync(path.join(FIXTURES, 'release-0.1.0.json'), 'utf8')) as Manifest;

let m: TestMaster;
let admin: string;

test.before(async () => {
  // A copy: the committed file stays as release 0.1.0 wrote it.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'yard-upgrade-'));
  copyFileSync(path.join(FIXTURES, 'release-0.1.0.db'), path.join(dir, 'trainyard.db'));
  m = await startTestMaster({}, dir);
  admin = manifest.sessions.find((s) => s.username === 'admin')!.token;
});
test.after.always(() => m?.stop());

test('the file went through every migration since 0.1.0, in order', async (t) => {
  const applied = m.master.database.sqlite.prepare('select name from kysely_migration order by timestamp, name').pluck().all();
  t.deepEqual(applied, ['0001-users-and-sessions', '0002-tasks', '0003-agents', '0005-access-model', '0006-auth-backends', '0007-admission', '0008-quotas', '0009-group-identity', '0021-kill-requests', '0022-task-agent-tokens', '0031-usage-ledger']);
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
    const { group, runSpec, pendingReason, killRequest, pool, resources, ...rest } = found.body;
    t.deepEqual(rest, task, `task ${task.id}`);
    // 0021-kill-requests: a kill asked before says when, and that who asked was not recorded.
    t.deepEqual(killRequest && { by: killRequest.by, reason: killRequest.reason }, task.killRequested ? { by: null, reason: null } : null, `task ${task.id}`);
    // 0031-usage-ledger: the default pool, and what its run spec holds.
    t.is(pool, 'default');
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
