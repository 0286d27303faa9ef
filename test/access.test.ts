import test from 'ava';
import type { AuditEntry, GroupDetail, MeResponse, Page, RoleDetail, SessionListItem, Task, UserAccess } from '@trainyard/shared';
import { api, loginToken } from './helpers/api.js';
import { eachHelp, Terminal, type RunResult } from './helpers/cli.js';
import { countRows } from './helpers/store.js';
import { startTestMaster, type TestMaster } from './helpers/test-master.js';

// One master for the file; the tests run in order and the last one reads the audit log they left.
let m: TestMaster;
let admin: Terminal;
let adminToken: string;
/** Every admin change the tests below make, in order: the audit log must show exactly these. */
const expectedAudit: Array<{ action: string; target: string }> = [];

const PEOPLE = ['carol', 'dave', 'erin', 'frank', 'gina', 'hank'];

test.before(async () => {
  m = await startTestMaster();
  adminToken = await loginToken(m.url, 'admin');
  admin = new Terminal(m.url);
  // Set-up, not the point: straight through the API.
  for (const name of PEOPLE) {
    const created = await api(m.url, 'POST', '/users', { token: adminToken, body: { username: name, password: `pw-${name}` } });
    if (created.status !== 201) throw new Error(JSON.stringify(created.body));
    expectedAudit.push({ action: 'user.create', target: `user ${name}` });
  }
});
test.after.always(() => m?.stop());

/** `yard -u admin ...`, which must succeed. */
async function asAdmin(args: string[]): Promise<RunResult> {
  const result = await admin.run(['-u', 'admin', ...args], { env: { YARD_PASSWORD: '' } });
  if (result.code !== 0) throw new Error(`yard -u admin ${args.join(' ')} failed: ${result.stderr}`);
  return result;
}

/** A person logged in at their own terminal (`yard user login`), as they would work every day. */
async function loggedIn(name: string): Promise<Terminal> {
  const term = new Terminal(m.url);
  const login = await term.run(['user', 'login', name, '--password-stdin'], { input: `pw-${name}\n` });
  if (login.code !== 0) throw new Error(login.stderr);
  return term;
}

async function commandTask(owner: string): Promise<Task> {
  const created = await api<Task>(m.url, 'POST', '/tasks', {
    token: await loginToken(m.url, owner, `pw-${owner}`),
    body: { kind: 'command', config: { image: 'busybox:latest', entrypoint: ['sleep', '1000'] } },
  });
  if (created.status !== 201) throw new Error(JSON.stringify(created.body));
  return created.body;
}

const sessionIdOf = async (term: Terminal) =>
  (await term.json<Page<SessionListItem>>(['user', 'sessions'])).items.find((s) => s.current)?.id;

test.serial('carol holds operate_others scoped to research/vision: she kills dave\'s task, not erin\'s; admin kills anything', async (t) => {
  await asAdmin(['group', 'create', 'research']);
  await asAdmin(['group', 'create', 'research/vision']);
  await asAdmin(['group', 'add-member', 'research/vision', 'dave']);
  await asAdmin(['role', 'create', 'operator', '--capabilities', 'operate_others']);
  const assigned = await asAdmin(['role', 'assign', 'operator', '--user', 'carol', '--scope', 'research/vision']);
  t.regex(assigned.stdout, /Gave role operator to user carol, scoped to research\/vision\./);
  expectedAudit.push(
    { action: 'group.create', target: 'group research' },
    { action: 'group.create', target: 'group research/vision' },
    { action: 'group.member.add', target: 'user dave' },
    { action: 'role.create', target: 'role operator' },
    { action: 'role.assign', target: 'user carol' },
  );

  const davesTask = await commandTask('dave');
  const erinsTask = await commandTask('erin');
  const carol = await loggedIn('carol');

  const killDave = await carol.run(['task', 'kill', String(davesTask.id)]);
  t.is(killDave.code, 0, killDave.stderr);
  t.regex(killDave.stdout, new RegExp(`Killed command ${davesTask.id}`));
  expectedAudit.push({ action: 'task.kill', target: `task ${davesTask.id}` });

  const killErin = await carol.run(['task', 'kill', String(erinsTask.id)]);
  t.is(killErin.code, 1);
  t.is(
    killErin.stderr.trim(),
    `Error: carol may not kill task ${erinsTask.id}: it belongs to erin, and carol holds operate_others only for research/vision`,
  );
  const direct = await api(m.url, 'POST', `/tasks/${erinsTask.id}/kill`, { token: await loginToken(m.url, 'carol', 'pw-carol') });
  t.is(direct.status, 403);
  t.is(direct.body.error.code, 'FORBIDDEN');
  t.regex(direct.body.error.message, /it belongs to erin, and carol holds operate_others only for research\/vision/);
  t.is((await api<Task>(m.url, 'GET', `/tasks/${erinsTask.id}`, { token: adminToken })).body.state, 'QUEUED', 'erin\'s task lives on');

  // Her scope covers details and logs of dave's work too, and nothing of erin's.
  t.is((await carol.run(['task', 'logs', String(davesTask.id)])).code, 0);
  t.regex((await carol.run(['task', 'describe', String(erinsTask.id)])).stderr, /carol may not see the details of task/);

  const adminKill = await asAdmin(['task', 'kill', String(erinsTask.id)]);
  t.regex(adminKill.stdout, new RegExp(`Killed command ${erinsTask.id}`));
  expectedAudit.push({ action: 'task.kill', target: `task ${erinsTask.id}` });
  const kills = (await api<Page<AuditEntry>>(m.url, 'GET', '/audit?limit=20', { token: adminToken })).body.items.filter((e) => e.action === 'task.kill');
  t.deepEqual(kills.map((e) => [e.actor, e.target]), [['admin', String(erinsTask.id)], ['carol', String(davesTask.id)]], 'kills are audited with who asked; a refused one is not');
});

test.serial('frank (research, which holds see_status) sees agents; gina, only in research/vision, does not: no inheritance', async (t) => {
  await asAdmin(['role', 'create', 'viewer', '-c', 'see_status', '--description', 'sees the cluster']);
  await asAdmin(['role', 'assign', 'viewer', '--group', 'research']);
  await asAdmin(['group', 'add-member', 'research', 'frank']);
  await asAdmin(['group', 'add-member', 'research/vision', 'frank']);
  await asAdmin(['group', 'add-member', 'research/vision', 'gina']);
  expectedAudit.push(
    { action: 'role.create', target: 'role viewer' },
    { action: 'role.assign', target: 'group research' },
    { action: 'group.member.add', target: 'user frank' },
    { action: 'group.member.add', target: 'user frank' },
    { action: 'group.member.add', target: 'user gina' },
  );

  const frank = await loggedIn('frank');
  const gina = await loggedIn('gina');
  t.is((await frank.run(['agent', 'list'])).code, 0);
  const refused = await gina.run(['agent', 'list']);
  t.is(refused.code, 1);
  t.regex(refused.stderr, /^Error: gina may not see the agents: that needs see_status, and gina does not hold it$/m);

  const shown = await frank.json<UserAccess>(['user', 'show']);
  t.deepEqual(shown.groups, ['research', 'research/vision']);
  t.deepEqual(shown.capabilities, [{ capability: 'see_status', role: 'viewer', via: 'research', scope: null }]);
  const table = await frank.run(['user', 'show']);
  t.regex(table.stdout, /^see_status\s+viewer\s+group research\s+everyone$/m);
  t.deepEqual((await gina.json<UserAccess>(['user', 'show'])).capabilities, []);
  t.regex((await gina.run(['user', 'show', 'frank'])).stderr, /gina may not see what frank may do: that needs change_config/);

  // The groups page of an admin tells the same story.
  const group = await admin.json<GroupDetail>(['-u', 'admin', 'group', 'show', 'research']);
  t.deepEqual(group.members, ['frank']);
  t.deepEqual(group.subgroups, ['research/vision']);
  t.deepEqual(group.roles.map((r) => r.role), ['viewer']);
});

test.serial('removing carol from a group, or unassigning her role, applies on her very next command with no new login', async (t) => {
  await asAdmin(['group', 'create', 'ops']);
  await asAdmin(['role', 'create', 'killer', '-c', 'operate_others']);
  await asAdmin(['role', 'assign', 'killer', '--group', 'ops']);
  await asAdmin(['group', 'add-member', 'ops', 'carol']);
  expectedAudit.push(
    { action: 'group.create', target: 'group ops' },
    { action: 'role.create', target: 'role killer' },
    { action: 'role.assign', target: 'group ops' },
    { action: 'group.member.add', target: 'user carol' },
  );
  const carol = await loggedIn('carol');
  const session = await sessionIdOf(carol);
  const first = await commandTask('erin');
  const second = await commandTask('erin');

  t.is((await carol.run(['task', 'describe', String(first.id)])).code, 0, 'through ops she may');
  await asAdmin(['group', 'remove-member', 'ops', 'carol']);
  expectedAudit.push({ action: 'group.member.remove', target: 'user carol' });
  const afterRemoval = await carol.run(['task', 'kill', String(second.id)]);
  t.is(afterRemoval.code, 1);
  t.regex(afterRemoval.stderr, /carol may not kill task \d+: it belongs to erin, and carol holds operate_others only for research\/vision/);

  await asAdmin(['role', 'assign', 'killer', '--user', 'carol']);
  expectedAudit.push({ action: 'role.assign', target: 'user carol' });
  t.is((await carol.run(['task', 'describe', String(second.id)])).code, 0, 'given to her: at once');
  await asAdmin(['role', 'unassign', 'killer', '--user', 'carol']);
  expectedAudit.push({ action: 'role.unassign', target: 'user carol' });
  const afterUnassign = await carol.run(['task', 'describe', String(second.id)]);
  t.is(afterUnassign.code, 1);
  t.regex(afterUnassign.stderr, /carol may not see the details of task/);

  t.is(await sessionIdOf(carol), session, 'the same session throughout: nobody logged in again');
});

test.serial('delete_tasks: only ended tasks, the task and its logs go; without it, refused with the reason', async (t) => {
  const task = await commandTask('hank');
  const hank = await loggedIn('hank');
  t.regex((await hank.run(['task', 'delete', String(task.id)])).stderr, /hank may not delete task \d+: it is hank's own, and hank does not hold delete_tasks/);
  const running = await asAdmin(['task', 'delete', String(task.id)]).catch((error: Error) => error.message);
  t.regex(String(running), /task \d+ is QUEUED: kill it and let it end before deleting it/);
  await asAdmin(['task', 'kill', String(task.id)]);
  await asAdmin(['task', 'delete', String(task.id)]);
  expectedAudit.push({ action: 'task.kill', target: `task ${task.id}` }, { action: 'task.delete', target: `task ${task.id}` });
  t.is((await api(m.url, 'GET', `/tasks/${task.id}`, { token: adminToken })).status, 404);
  const logs = await m.master.database.db.selectFrom('task_logs').select('seq').where('task_id', '=', task.id).execute();
  t.is(logs.length, 0);
});

test.serial('sessions: listed with kind and client, one revoked by id, all ended with logout --all', async (t) => {
  const hank = await loggedIn('hank');
  const other = await loggedIn('hank');
  // A temporary session: -u from a terminal where hank is not logged in (where he is, -u is his login).
  await new Terminal(m.url).run(['-u', 'hank', 'user', 'whoami'], { env: { YARD_PASSWORD: 'pw-hank' } });
  const page = await hank.json<Page<SessionListItem>>(['user', 'sessions']);
  const kinds = page.items.map((s) => s.kind).sort();
  t.true(kinds.filter((k) => k === 'login').length >= 2);
  t.true(kinds.includes('temporary'));
  const fromCli = page.items.filter((s) => /^yard\/\d+\.\d+\.\d+ node\/\d+/.test(s.client ?? ''));
  t.true(fromCli.length >= 3 && fromCli.some((s) => s.current), JSON.stringify(page.items));
  const table = await hank.run(['user', 'sessions']);
  t.regex(table.stdout.split('\n')[0]!, /^ID\s+USER\s+KIND\s+CLIENT\s+ADDRESS\s+CREATED\s+LAST USED$/);

  const otherId = await sessionIdOf(other);
  t.regex((await hank.run(['user', 'sessions', '--revoke', String(otherId)])).stdout, /Ended session/);
  expectedAudit.push({ action: 'session.revoke', target: 'user hank' });
  t.is((await other.run(['user', 'whoami'])).code, 1, 'that terminal must log in again');
  t.regex((await hank.run(['user', 'sessions', 'carol'])).stderr, /hank may not see the sessions of carol: that needs change_config/);
  const carolSessions = await admin.json<Page<SessionListItem>>(['-u', 'admin', 'user', 'sessions', 'carol']);
  t.true(carolSessions.items.length > 0);
  const notHis = await hank.run(['user', 'sessions', '--revoke', String(carolSessions.items[0]!.id)]);
  t.regex(notHis.stderr, /hank may not end session \d+ of carol: that needs change_config, and hank does not hold it/);

  t.regex((await hank.run(['user', 'logout', '--all'])).stdout, /Ended every session of hank\./);
  const left = await api<Page<SessionListItem>>(m.url, 'GET', '/sessions?user=hank', { token: adminToken });
  t.deepEqual(left.body.items, []);
});

test.serial('personal API tokens: YARD_TOKEN and Bearer; refused after revoke, deactivation, and losing access_api', async (t) => {
  const dave = await loggedIn('dave');
  const refused = await dave.run(['token', 'create', 'ci']);
  t.is(refused.code, 1);
  t.regex(refused.stderr, /^Error: dave may not create API tokens: that needs access_api, and dave does not hold it$/m);

  await asAdmin(['role', 'create', 'scripter', '-c', 'access_api']);
  await asAdmin(['role', 'assign', 'scripter', '--user', 'dave']);
  expectedAudit.push({ action: 'role.create', target: 'role scripter' }, { action: 'role.assign', target: 'user dave' });
  const created = await dave.run(['token', 'create', 'ci', '--expires', '90d']);
  t.is(created.code, 0, created.stderr);
  const token = created.stdout.trim();
  t.regex(token, /^yard_pat_[A-Za-z0-9_-]{40,}$/);
  t.regex(created.stderr, /Created API token 'ci' for dave, valid until/);
  expectedAudit.push({ action: 'token.create', target: 'token dave/ci' });

  const script = new Terminal(m.url);
  const viaEnv = await script.json<MeResponse>(['user', 'whoami'], { env: { YARD_TOKEN: token } });
  t.is(viaEnv.user.username, 'dave');
  t.is(viaEnv.session.via, 'api_token');
  t.is(viaEnv.session.name, 'ci');
  t.is((await api(m.url, 'GET', '/tasks', { token })).status, 200);
  t.regex((await dave.run(['token', 'list'])).stdout, /^ci\s+dave\s/m);

  // Losing access_api: refused on the next request, and back when it returns.
  await asAdmin(['role', 'unassign', 'scripter', '--user', 'dave']);
  expectedAudit.push({ action: 'role.unassign', target: 'user dave' });
  const lost = await api(m.url, 'GET', '/me', { token });
  t.is(lost.status, 403);
  t.regex(lost.body.error.message, /dave may not use API token 'ci': that needs access_api, and dave does not hold it/);
  t.regex((await script.run(['user', 'whoami'], { env: { YARD_TOKEN: token } })).stderr, /may not use API token 'ci'/);
  t.is((await dave.run(['user', 'whoami'])).code, 0, 'his login session needs no access_api');
  await asAdmin(['role', 'assign', 'scripter', '--user', 'dave']);
  expectedAudit.push({ action: 'role.assign', target: 'user dave' });
  t.is((await api(m.url, 'GET', '/me', { token })).status, 200);

  // Revoked.
  t.regex((await dave.run(['token', 'revoke', 'ci'])).stdout, /Revoked API token 'ci' of dave\./);
  expectedAudit.push({ action: 'token.revoke', target: 'token dave/ci' });
  const revoked = await api(m.url, 'GET', '/me', { token });
  t.is(revoked.status, 401);
  t.is(revoked.body.error.code, 'UNAUTHENTICATED');

  // Deactivated.
  const second = (await dave.run(['token', 'create', 'nightly'])).stdout.trim();
  expectedAudit.push({ action: 'token.create', target: 'token dave/nightly' });
  t.is((await api(m.url, 'GET', '/me', { token: second })).status, 200);
  await asAdmin(['user', 'deactivate', 'dave']);
  expectedAudit.push({ action: 'user.deactivate', target: 'user dave' });
  t.is((await api(m.url, 'GET', '/me', { token: second })).status, 401);
  await asAdmin(['user', 'activate', 'dave']);
  expectedAudit.push({ action: 'user.activate', target: 'user dave' });
  t.is((await api(m.url, 'GET', '/me', { token: second })).status, 401, 'the token died with the deactivation');
});

test.serial('hostile input: each a clear 4xx with a stable code, and nothing half-written', async (t) => {
  const counts = () => Promise.all((['groups', 'group_members', 'roles', 'role_assignments', 'role_capabilities', 'audit_log'] as const).map((table) => countRows(m, table)));
  const before = await counts();
  const post = (path: string, body: unknown) => api(m.url, 'POST', path, { token: adminToken, body });
  const expect = async (promise: Promise<{ status: number; body: any }>, status: number, code: string, message?: RegExp) => {
    const result = await promise;
    t.is(result.status, status, JSON.stringify(result.body));
    t.is(result.body?.error?.code, code, JSON.stringify(result.body));
    if (message) t.regex(result.body.error.message, message);
    t.notRegex(JSON.stringify(result.body), /SQLITE|at \w+ \(|\.js:\d+/);
  };

  const badPaths: Array<[unknown, RegExp]> = [
    ['research/../etc', /contains "\.\.": segments are names, not directions/],
    ['..', /contains "\.\."/],
    ['a//b', /empty segment/],
    ['/research', /empty segment/],
    ['research/', /empty segment/],
    ['', /cannot be empty/],
    ['x'.repeat(300), /longer than 255 characters/],
    ['forschung/über', /segment 'über' must be 1-64 characters of a-z/],
    ['🚀', /must be 1-64 characters/],
    ["r'; drop table groups; --", /must be 1-64 characters/],
    ['a%2Fb', /must be 1-64 characters/],
    ['with space', /must be 1-64 characters/],
    [42, /must be a string/],
  ];
  for (const [path, message] of badPaths) await expect(post('/groups', { path }), 400, 'INVALID_INPUT', message);
  await expect(post('/groups', { path: 'nowhere/child' }), 404, 'GROUP_NOT_FOUND', /group 'nowhere' does not exist: create it before 'nowhere\/child'/);
  await expect(post('/groups', { path: 'research' }), 409, 'GROUP_EXISTS');
  await expect(api(m.url, 'GET', `/groups/${encodeURIComponent("x' or 1=1")}`, { token: adminToken }), 400, 'INVALID_INPUT');

  await expect(post('/roles', { name: 'bad', capabilities: ['see_status', 'root_access'] }), 400, 'UNKNOWN_CAPABILITY', /unknown capability 'root_access': the capabilities are see_status, /);
  await expect(post('/roles', { name: 'Robert"); DROP TABLE roles;--', capabilities: [] }), 400, 'INVALID_INPUT');
  await expect(post('/roles', { name: 'operator', capabilities: [] }), 409, 'ROLE_EXISTS');
  await expect(api(m.url, 'PATCH', '/roles/admin', { token: adminToken, body: { capabilities: [] } }), 409, 'ROLE_PROTECTED', /built in/);
  await expect(api(m.url, 'DELETE', '/roles/user', { token: adminToken }), 409, 'ROLE_PROTECTED');

  const assign = (body: unknown) => post('/roles/operator/assignments', body);
  await expect(assign({ user: 'nobody' }), 404, 'USER_NOT_FOUND', /user 'nobody' does not exist/);
  await expect(assign({ group: 'no/such' }), 404, 'GROUP_NOT_FOUND');
  await expect(assign({ user: 'erin', scope: 'no/such' }), 404, 'GROUP_NOT_FOUND');
  await expect(post('/roles/ghost/assignments', { user: 'erin' }), 404, 'ROLE_NOT_FOUND');
  await expect(assign({ user: 'erin', group: 'research' }), 400, 'INVALID_INPUT', /exactly one of user or group/);
  await expect(assign({}), 400, 'INVALID_INPUT');
  await expect(
    assign({ group: 'research/vision', scope: 'research/vision' }),
    400,
    'SELF_SCOPE',
    /given to research\/vision and scoped to research\/vision itself would let every member act on every other member's tasks/,
  );
  // see_status can be scoped (the usage charged to the group); change_config and the rest cannot.
  await expect(post('/roles/admin/assignments', { user: 'erin', scope: 'research' }), 400, 'SCOPE_NOT_ALLOWED', /cannot be scoped: it holds change_config, access_api, customize_resources, use_any_image, which act on the whole cluster/);
  await expect(assign({ user: 'carol', scope: 'research/vision' }), 409, 'ASSIGNMENT_EXISTS');
  await expect(api(m.url, 'DELETE', '/roles/operator/assignments?user=erin', { token: adminToken }), 404, 'ASSIGNMENT_NOT_FOUND');

  // Cycles: a group moved under itself, at any depth.
  await expect(api(m.url, 'PATCH', '/groups/research', { token: adminToken, body: { path: 'research/vision/research' } }), 409, 'GROUP_CYCLE', /cannot be put under itself/);
  await expect(api(m.url, 'PATCH', '/groups/research', { token: adminToken, body: { path: 'research/x' } }), 409, 'GROUP_CYCLE');
  await expect(api(m.url, 'DELETE', '/groups/research', { token: adminToken }), 409, 'GROUP_HAS_SUBGROUPS', /research\/vision/);
  await expect(post('/groups/research/members', { username: 'frank' }), 409, 'MEMBER_EXISTS');
  await expect(api(m.url, 'DELETE', '/groups/research/members/erin', { token: adminToken }), 404, 'MEMBER_NOT_FOUND');
  await expect(post('/tokens', { name: 'x', expires: 'forever' }), 400, 'INVALID_INPUT', /not a duration/);

  t.deepEqual(await counts(), before, 'nothing was written');
});

test.serial('renaming moves the subtree and keeps scopes; deleting keeps members and their tasks; the last admin stays', async (t) => {
  await asAdmin(['group', 'rename', 'research/vision', 'research/cv']);
  expectedAudit.push({ action: 'group.rename', target: 'group research/cv' });
  const carol = await admin.json<UserAccess>(['-u', 'admin', 'user', 'show', 'carol']);
  t.deepEqual(carol.capabilities, [{ capability: 'operate_others', role: 'operator', via: 'own', scope: 'research/cv' }]);
  const dave = await commandTask('dave');

  await asAdmin(['group', 'rename', 'research', 'lab']);
  expectedAudit.push({ action: 'group.rename', target: 'group lab' });
  const groups = (await api<Page<{ path: string }>>(m.url, 'GET', '/groups', { token: adminToken })).body.items.map((g) => g.path);
  t.deepEqual(groups, ['lab', 'lab/cv', 'ops']);

  await asAdmin(['group', 'delete', 'lab/cv']);
  expectedAudit.push({ action: 'role.unassign', target: 'user carol' }, { action: 'group.delete', target: 'group lab/cv' });
  t.deepEqual((await admin.json<UserAccess>(['-u', 'admin', 'user', 'show', 'carol'])).capabilities, [], 'the scoped role went with its scope');
  t.is((await api<Task>(m.url, 'GET', `/tasks/${dave.id}`, { token: adminToken })).body.owner, 'dave', 'members and their tasks stay');
  t.is((await api(m.url, 'GET', '/users/dave', { token: adminToken })).status, 200);

  // The last active holder of admin cannot lose it, through any door.
  const erin = await loginToken(m.url, 'erin', 'pw-erin');
  t.is((await api(m.url, 'DELETE', '/roles/admin/assignments?user=admin', { token: adminToken })).body.error.code, 'LAST_ADMIN');
  await asAdmin(['group', 'create', 'admins']);
  await asAdmin(['role', 'assign', 'admin', '--group', 'admins']);
  await asAdmin(['group', 'add-member', 'admins', 'erin']);
  await asAdmin(['role', 'unassign', 'admin', '--user', 'admin']);
  expectedAudit.push(
    { action: 'group.create', target: 'group admins' },
    { action: 'role.assign', target: 'group admins' },
    { action: 'group.member.add', target: 'user erin' },
    { action: 'role.unassign', target: 'user admin' },
  );
  t.is((await api(m.url, 'GET', '/groups', { token: erin })).status, 200, 'erin is an admin through the group');
  const removal = await api(m.url, 'DELETE', '/groups/admins/members/erin', { token: erin });
  t.is(removal.body.error.code, 'LAST_ADMIN');
  t.regex(removal.body.error.message, /removing erin from admins would leave no active user holding the admin role/);
  t.is((await api(m.url, 'PATCH', '/users/erin', { token: erin, body: { active: false } })).body.error.code, 'LAST_ADMIN');
  t.is((await api(m.url, 'DELETE', '/groups/admins', { token: erin })).body.error.code, 'LAST_ADMIN');
  await asAdmin(['role', 'assign', 'admin', '--user', 'admin']).catch(() => undefined);
  // admin holds no admin role now: its own session cannot give it back; erin does.
  const back = await api(m.url, 'POST', '/roles/admin/assignments', { token: erin, body: { user: 'admin' } });
  t.is(back.status, 201);
  expectedAudit.push({ action: 'role.assign', target: 'user admin' });
});

test.serial('the audit log shows each admin change above, in order, with actor and target', async (t) => {
  const entries: AuditEntry[] = [];
  let after: string | null = null;
  do {
    const query: string = after ? `?limit=500&after=${encodeURIComponent(after)}` : '?limit=500';
    const page: Page<AuditEntry> = (await api<Page<AuditEntry>>(m.url, 'GET', `/audit${query}`, { token: adminToken })).body;
    entries.push(...page.items);
    after = page.next;
  } while (after);
  const chronological = entries.reverse().filter((e) => e.actor !== null);
  t.deepEqual(
    chronological.map((e) => ({ action: e.action, target: `${e.targetType} ${e.target}` })),
    expectedAudit,
  );
  const byActor = Object.fromEntries(chronological.map((e) => [`${e.action} ${e.target}`, e.actor]));
  t.is(byActor['token.create dave/ci'], 'dave');
  t.is(byActor['role.assign admin'], 'erin');
  t.is(byActor['group.create research'], 'admin');
  const assignment = chronological.find((e) => e.action === 'role.assign' && e.target === 'carol');
  t.deepEqual(assignment?.details, { role: 'operator', scope: 'research/vision' });
  t.false(JSON.stringify(entries).includes('yard_pat_'), 'no secret in the log');

  const cli = await admin.run(['-u', 'admin', 'audit', 'list', '--user', 'carol', '--since', '1d']);
  t.regex(cli.stdout.split('\n')[0]!, /^TIME\s+ACTOR\s+ACTION\s+TARGET\s+DETAILS$/);
  t.regex(cli.stdout, /admin\s+role\.assign\s+user carol\s+role=operator scope=research\/vision/);
  const carol = await loggedIn('carol');
  t.regex((await carol.run(['audit', 'list'])).stderr, /carol may not read the audit log: that needs change_config/);
});

test('every new command has --help with an example', async (t) => {
  const commands = [
    ['group', 'create'], ['group', 'delete'], ['group', 'rename'], ['group', 'list'], ['group', 'show'], ['group', 'add-member'], ['group', 'remove-member'],
    ['role', 'create'], ['role', 'edit'], ['role', 'delete'], ['role', 'list'], ['role', 'show'], ['role', 'assign'], ['role', 'unassign'],
    ['token', 'create'], ['token', 'list'], ['token', 'revoke'], ['audit', 'list'], ['user', 'show'], ['user', 'sessions'], ['task', 'delete'], ['task', 'wait'],
  ];
  await eachHelp(commands, (name, help) => {
    t.is(help.code, 0, name);
    t.regex(help.stdout, /EXAMPLES\n\s+\$ yard /, name);
    t.regex(help.stdout, /-u, --(user|as)=<value>/, name);
  });
});
