import { statSync, readFileSync } from 'node:fs';
import test from 'ava';
import type { Page, User } from '@trainyard/shared';
import { api } from './helpers/api.js';
import { Terminal } from './helpers/cli.js';
import { startTestMaster, type TestMaster } from './helpers/test-master.js';

// Each test gets its own master: the flows below change admin's password and deactivate `yard`.
async function fresh(t: { teardown(fn: () => Promise<void>): void }): Promise<{ m: TestMaster; term: Terminal }> {
  const m = await startTestMaster();
  t.teardown(() => m.stop());
  return { m, term: new Terminal(m.url) };
}

const asAdmin = { env: { YARD_PASSWORD: '' } };

async function createUser(term: Terminal, name: string, password: string, extra: string[] = []) {
  const created = await term.run(['-u', 'admin', 'user', 'create', name, '--password-stdin', ...extra], {
    ...asAdmin,
    input: `${password}\n`,
  });
  if (created.code !== 0) throw new Error(created.stderr);
}

test('a fresh master lists admin and yard to nobody logged in (acting as yard)', async (t) => {
  const { term } = await fresh(t);
  const list = await term.run(['user', 'list']);
  t.is(list.code, 0, list.stderr);
  const lines = list.stdout.trim().split('\n');
  t.regex(lines[0]!, /^NAME\s+ADMIN\s+ACTIVE\s+AUTH\s+AGENT USER\s+ROLES\s+GROUPS$/);
  t.regex(list.stdout, /^admin\s+yes\s+yes\s+internal\s+-\s+admin,user\s+-$/m);
  t.regex(list.stdout, /^yard\s+no\s+yes\s+internal\s+-\s+user\s+-$/m);
  const who = await term.run(['user', 'whoami']);
  t.is(who.stdout.trim(), 'yard');
});

test("admin sets a password; -u admin then needs it; deactivating yard makes logged-out commands ask to log in", async (t) => {
  const { term } = await fresh(t);
  const changed = await term.run(['-u', 'admin', 'user', 'change-password', '--password-stdin'], {
    ...asAdmin,
    input: 's3cret!\n',
  });
  t.is(changed.code, 0, changed.stderr);
  // The session that changed it stays; drop it to be asked again.
  t.is((await term.run(['-u', 'admin', 'user', 'logout'])).code, 0);

  const wrong = await term.run(['-u', 'admin', 'user', 'list'], { env: { YARD_PASSWORD: 'nope' } });
  t.is(wrong.code, 1);
  t.regex(wrong.stderr, /^Error: invalid username or password$/m);
  t.notRegex(wrong.stderr, /at .*\.js:\d+/, 'no stack trace');

  const blank = await term.run(['-u', 'admin', 'user', 'list'], { env: { YARD_PASSWORD: '' } });
  t.is(blank.code, 1, 'the old blank password no longer works');

  const right = await term.run(['-u', 'admin', 'user', 'deactivate', 'yard'], { env: { YARD_PASSWORD: 's3cret!' } });
  t.is(right.code, 0, right.stderr);
  t.regex(right.stdout, /yard is now deactivated/);

  const loggedOut = await term.run(['user', 'list']);
  t.is(loggedOut.code, 1);
  t.regex(loggedOut.stderr, /log in with `yard user login NAME`/);

  const activate = await term.run(['-u', 'admin', 'user', 'activate', 'yard']);
  t.is(activate.code, 0, activate.stderr);
  t.is((await term.run(['user', 'list'])).code, 0);
});

test('alice logs in, whoami says so, the token is stored; logout kills it on the master', async (t) => {
  const { m, term } = await fresh(t);
  await createUser(term, 'alice', 'pw-alice');

  const login = await term.run(['user', 'login', 'alice', '--password-stdin'], { input: 'pw-alice\n' });
  t.is(login.code, 0, login.stderr);
  t.is((await term.run(['user', 'whoami'])).stdout.trim(), 'alice');

  const mode = statSync(term.tokenFile).mode & 0o777;
  t.is(mode, 0o600);
  const tokens = JSON.parse(readFileSync(term.tokenFile, 'utf8')) as Record<string, string>;
  const token = tokens[`login:alice@${m.url}`];
  t.truthy(token);
  t.is((await api(m.url, 'GET', '/me', { token })).body.user.username, 'alice');

  const logout = await term.run(['user', 'logout']);
  t.is(logout.code, 0, logout.stderr);
  const after = await api(m.url, 'GET', '/me', { token });
  t.is(after.status, 401);
  t.is(after.body.error.code, 'UNAUTHENTICATED');
  t.is((await term.run(['user', 'whoami'])).stdout.trim(), 'yard');
});

test('-u acts as another user for one command and keeps its own token until `-u NAME user logout`', async (t) => {
  const { m, term } = await fresh(t);
  await createUser(term, 'alice', 'pw');
  await term.run(['user', 'login', 'alice', '--password-stdin'], { input: 'pw\n' });

  const asAdminList = await term.run(['-u', 'admin', 'user', 'list', '--json'], asAdmin);
  t.is(asAdminList.code, 0, asAdminList.stderr);
  t.is((await term.run(['-u', 'admin', 'user', 'whoami'], asAdmin)).stdout.trim(), 'admin');
  t.is((await term.run(['user', 'whoami'])).stdout.trim(), 'alice');

  // No YARD_PASSWORD and no terminal: only the kept token can make this work.
  const again = await term.run(['-u', 'admin', 'user', 'create', 'bob']);
  t.is(again.code, 0, again.stderr);

  const tokens = JSON.parse(readFileSync(term.tokenFile, 'utf8')) as Record<string, string>;
  const adminToken = tokens[`temporary:admin@${m.url}`];
  const aliceToken = tokens[`login:alice@${m.url}`];
  const logout = await term.run(['-u', 'admin', 'user', 'logout']);
  t.is(logout.code, 0, logout.stderr);
  t.is((await api(m.url, 'GET', '/me', { token: adminToken })).status, 401);
  t.is((await api(m.url, 'GET', '/me', { token: aliceToken })).status, 200);
  t.is((await term.run(['user', 'whoami'])).stdout.trim(), 'alice');

  const asksAgain = await term.run(['-u', 'admin', 'user', 'list']);
  t.is(asksAgain.code, 1);
  t.regex(asksAgain.stderr, /Password for admin: no terminal to ask on/);
});

test('a non-admin is refused (403 and a clear error) on admin actions', async (t) => {
  const { m, term } = await fresh(t);
  await createUser(term, 'alice', 'pw');
  await createUser(term, 'bob', 'pw');
  await term.run(['user', 'login', 'alice', '--password-stdin'], { input: 'pw\n' });

  const attempts: Array<[string[], RegExp]> = [
    [['user', 'create', 'carol'], /^Error: alice may not create users: that needs change_config, and alice does not hold it$/m],
    [['user', 'deactivate', 'bob'], /alice may not activate, deactivate, change the admin role or the auth backend of users: that needs change_config/],
    [['user', 'activate', 'bob'], /alice may not activate, deactivate, change the admin role or the auth backend of users: that needs change_config/],
    [
      ['user', 'link-with-agent-user', 'bob', '--agent-uid', '1', '--agent-user', 'b', '--agent-gid', '1', '--agent-group', 'b'],
      /alice may not link users to agent users: that needs change_config/,
    ],
    [['user', 'unlink-agent-user', 'bob'], /alice may not unlink users from agent users: that needs change_config/],
    [['user', 'change-password', 'bob', '--password-stdin'], /alice may not change the password of bob: that needs change_config/],
  ];
  for (const [args, message] of attempts) {
    const result = await term.run(args, { input: 'x\n' });
    t.is(result.code, 1, args.join(' '));
    t.regex(result.stderr, message);
    const json = await term.run([...args, '--json'], { input: 'x\n' });
    t.is(JSON.parse(json.stdout).error.code, 'FORBIDDEN');
  }

  const token = (await api(m.url, 'POST', '/auth/login', { body: { username: 'alice', password: 'pw' } })).body.token;
  const direct = await api(m.url, 'POST', '/users', { token, body: { username: 'carol' } });
  t.is(direct.status, 403);
  t.deepEqual(Object.keys(direct.body.error), ['code', 'message']);

  // Her own password she may change.
  const own = await term.run(['user', 'change-password', '--password-stdin'], { input: 'new-pw\n' });
  t.is(own.code, 0, own.stderr);
});

test("deactivating alice ends her live session at once and keeps her row in the list", async (t) => {
  const { term } = await fresh(t);
  await createUser(term, 'alice', 'pw');
  const aliceTerm = new Terminal(term.master);
  await aliceTerm.run(['user', 'login', 'alice', '--password-stdin'], { input: 'pw\n' });
  t.is((await aliceTerm.run(['user', 'whoami'])).code, 0);

  t.is((await term.run(['-u', 'admin', 'user', 'deactivate', 'alice'], asAdmin)).code, 0);
  const next = await aliceTerm.run(['user', 'whoami']);
  t.is(next.code, 1);
  t.regex(next.stderr, /session as 'alice' has ended/);
  const relogin = await aliceTerm.run(['user', 'login', 'alice', '--password-stdin'], { input: 'pw\n' });
  t.is(relogin.code, 1);
  // As det says it: the right password of a deactivated account is told so (a wrong one is not).
  t.regex(relogin.stderr, /^Error: the account 'alice' is not active: an admin can activate it again \(yard user activate alice\)$/m);
  const wrong = await aliceTerm.run(['user', 'login', 'alice', '--password-stdin'], { input: 'not-hers\n' });
  t.regex(wrong.stderr, /^Error: invalid username or password$/m);

  // As det's: `user list` shows who is active, `user list --all` everyone.
  const users = await term.json<Page<User>>(['user', 'list', '--all']);
  const alice = users.items.find((u) => u.username === 'alice');
  t.is(alice?.active, false);
  t.regex((await term.run(['user', 'list', '--all'])).stdout, /^alice\s+no\s+no\s+internal\s+-\s+user\s+-$/m);
  const active = await term.run(['user', 'list']);
  t.notRegex(active.stdout, /^alice\s/m);
  t.regex(active.stdout, /^admin\s/m);
  t.false((await term.json<Page<User>>(['user', 'list'])).items.some((u) => u.username === 'alice'));
});

test("a password change ends the user's other sessions; the old password stops working", async (t) => {
  const { m, term } = await fresh(t);
  await createUser(term, 'alice', 'old-pw');
  const laptop = new Terminal(m.url);
  const desktop = new Terminal(m.url);
  await laptop.run(['user', 'login', 'alice', '--password-stdin'], { input: 'old-pw\n' });
  await desktop.run(['user', 'login', 'alice', '--password-stdin'], { input: 'old-pw\n' });

  const change = await laptop.run(['user', 'change-password', '--password-stdin'], { input: 'new-pw\n' });
  t.is(change.code, 0, change.stderr);
  t.is((await laptop.run(['user', 'whoami'])).stdout.trim(), 'alice', 'the session that changed it stays');
  const other = await desktop.run(['user', 'whoami']);
  t.is(other.code, 1, 'the other session ended');

  t.is((await api(m.url, 'POST', '/auth/login', { body: { username: 'alice', password: 'old-pw' } })).status, 401);
  t.is((await api(m.url, 'POST', '/auth/login', { body: { username: 'alice', password: 'new-pw' } })).status, 200);

  // An admin's change ends every session of the user, the changer's own being another user's.
  t.is((await term.run(['-u', 'admin', 'user', 'change-password', 'alice', '--password-stdin'], { ...asAdmin, input: 'third\n' })).code, 0);
  t.is((await laptop.run(['user', 'whoami'])).code, 1);
});

test('link-with-agent-user needs all four flags; the link shows in user list --json', async (t) => {
  const { term } = await fresh(t);
  await createUser(term, 'alice', 'pw');
  const full = ['--agent-uid', '1234', '--agent-user', 'alice', '--agent-gid', '2345', '--agent-group', 'research'];
  for (let i = 0; i < 4; i++) {
    const partial = [...full.slice(0, i * 2), ...full.slice(i * 2 + 2)];
    const result = await term.run(['-u', 'admin', 'user', 'link-with-agent-user', 'alice', ...partial], asAdmin);
    t.is(result.code, 2, `missing ${full[i * 2]}`);
    t.regex(result.stderr, new RegExp(`Missing required flag ${full[i * 2]!.slice(2)}`));
  }
  for (const bad of ['-1', '4294967295', '1e3', '"12"', '12abc']) {
    const result = await term.run(['-u', 'admin', 'user', 'link-with-agent-user', 'alice', ...full.slice(2), '--agent-uid', bad], asAdmin);
    t.is(result.code, 2, `uid ${bad}`);
    t.regex(result.stderr, /agent-uid must be a whole number between 0 and 4294967294/);
  }

  const linked = await term.run(['-u', 'admin', 'user', 'link-with-agent-user', 'alice', ...full], asAdmin);
  t.is(linked.code, 0, linked.stderr);
  const users = await term.json<Page<User>>(['user', 'list']);
  t.deepEqual(users.items.find((u) => u.username === 'alice')?.agentUser, {
    uid: 1234,
    user: 'alice',
    gid: 2345,
    group: 'research',
  });
  t.regex((await term.run(['user', 'list'])).stdout, /^alice\s+no\s+yes\s+internal\s+alice:research \(1234:2345\)\s+user\s+-$/m);

  const unlinked = await term.run(['-u', 'admin', 'user', 'unlink-agent-user', 'alice'], asAdmin);
  t.is(unlinked.code, 0);
  const after = await term.json<Page<User>>(['user', 'list']);
  t.is(after.items.find((u) => u.username === 'alice')?.agentUser, null);
});

test('every user command has --help with an example', async (t) => {
  const term = new Terminal('http://127.0.0.1:1');
  for (const command of ['login', 'logout', 'whoami', 'list', 'create', 'activate', 'deactivate', 'change-password', 'link-with-agent-user', 'unlink-agent-user']) {
    const help = await term.run(['user', command, '--help']);
    t.is(help.code, 0, command);
    t.regex(help.stdout, /EXAMPLES\n\s+\$ yard /, command);
    t.regex(help.stdout, /-u, --user=<value>/, command);
  }
});

test('an unreachable master is one clear line, not a stack trace', async (t) => {
  const term = new Terminal('http://127.0.0.1:9');
  const result = await term.run(['user', 'list']);
  t.is(result.code, 1);
  t.regex(result.stderr, /^Error: cannot reach the master at http:\/\/127\.0\.0\.1:9/m);
  t.is(result.stderr.trim().split('\n').length, 1);
});
