import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { openDatabase } from '@trainyard/master';
import type { User } from '@trainyard/shared';
import { api, loginToken } from './helpers/api.js';
import { Terminal } from './helpers/cli.js';
import { tempDir } from './helpers/cluster.js';
import { startTestMaster } from './helpers/test-master.js';

const login = (url: string, username: string, password: string) => api(url, 'POST', '/auth/login', { body: { username, password } });
const HTPASSWD = '/usr/bin/htpasswd';

/** One line as Apache's htpasswd writes it: -B bcrypt, -m apr1, -s {SHA}, -d crypt, -p plain text. */
const htpasswdLine = (flag: string, user: string, password: string) =>
  execFileSync(HTPASSWD, [`-nb${flag}`, user, password], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();

async function fileMaster(t: { teardown(fn: () => Promise<void>): void }, lines: string[]) {
  const dir = tempDir('yard-file-');
  const file = path.join(dir, 'htpasswd');
  writeFileSync(file, `${lines.join('\n')}\n`);
  const m = await startTestMaster({ auth: { file: { path: file } } });
  t.teardown(() => m.stop());
  const admin = await loginToken(m.url, 'admin');
  return { m, file, admin };
}

async function createFileUsers(url: string, admin: string, names: string[]) {
  for (const username of names) {
    const created = await api(url, 'POST', '/users', { token: admin, body: { username, auth: 'file' } });
    if (created.status !== 201) throw new Error(JSON.stringify(created.body));
  }
}

if (!existsSync(HTPASSWD)) {
  console.error("\n!!! NO htpasswd: the password-file tests are NOT running (Debian's apache2-utils; `npm test` installs it: scripts/auth-servers.sh).\n");
  test.skip('password-file tests (htpasswd is not installed)', () => {});
} else {
  registerTests();
}

function registerTests() {
  test('bcrypt ($2a$, $2b$, $2y$), apr1 and {SHA} lines log in; plain-text and crypt lines never do', async (t) => {
    const bcrypt = htpasswdLine('B', 'bea', 'bea-pw');
    const { m, admin } = await fileMaster(t, [
      '# made with htpasswd',
      bcrypt,
      bcrypt.replace(/^bea:\$2y\$/, 'amy:$2a$').replace('bea', 'amy'),
      bcrypt.replace(/^bea:\$2y\$/, 'bo:$2b$'),
      htpasswdLine('m', 'april', 'april-pw'),
      htpasswdLine('s', 'shay', 'shay-pw'),
      htpasswdLine('p', 'pete', 'pete-pw'),
      htpasswdLine('d', 'cris', 'cris-pw'),
    ]);
    await createFileUsers(m.url, admin, ['bea', 'amy', 'bo', 'april', 'shay', 'pete', 'cris']);

    for (const [username, password] of [['bea', 'bea-pw'], ['amy', 'bea-pw'], ['bo', 'bea-pw'], ['april', 'april-pw'], ['shay', 'shay-pw']]) {
      t.is((await login(m.url, username!, password!)).status, 200, `${username} logs in`);
      t.is((await login(m.url, username!, `${password}x`)).status, 401, `${username} with a wrong password`);
    }
    const unknown = await login(m.url, 'nobody', 'pete-pw');
    for (const [username, password] of [['pete', 'pete-pw'], ['cris', 'cris-pw'], ['ghost', 'x'], ['bea', '']]) {
      const refused = await login(m.url, username!, password!);
      t.is(refused.status, 401, `${username} is refused`);
      t.deepEqual(refused.body, unknown.body);
    }
    t.regex(readFileSync(m.logFile, 'utf8'), /"lines":\[7,8\].*never log in/, 'the admin is told which lines are ignored');

    const term = new Terminal(m.url);
    t.is((await term.run(['user', 'login', 'april', '--password-stdin'], { input: 'april-pw\n' })).code, 0);
    const change = await term.run(['user', 'change-password', '--password-stdin'], { input: 'new\n' });
    t.is(change.code, 1);
    t.regex(change.stderr, /^Error: april's password lives in the password file \/.*htpasswd on the master: change it there/);
  });

  test('editing the password file takes effect at the next login, without a restart', async (t) => {
    const { m, file, admin } = await fileMaster(t, [htpasswdLine('B', 'fay', 'first-pw'), htpasswdLine('m', 'gus', 'gus-pw')]);
    await createFileUsers(m.url, admin, ['fay', 'gus']);
    t.is((await login(m.url, 'fay', 'first-pw')).status, 200);

    execFileSync(HTPASSWD, ['-b', '-B', file, 'fay', 'second-pw'], { stdio: 'ignore' });
    t.is((await login(m.url, 'fay', 'first-pw')).status, 401);
    t.is((await login(m.url, 'fay', 'second-pw')).status, 200);

    // An editor that writes a new file and renames it over the old one.
    writeFileSync(`${file}.new`, `${htpasswdLine('s', 'fay', 'third-pw')}\n${htpasswdLine('m', 'gus', 'gus-pw')}\n`);
    renameSync(`${file}.new`, file);
    t.is((await login(m.url, 'fay', 'third-pw')).status, 200);

    execFileSync(HTPASSWD, ['-D', file, 'fay'], { stdio: 'ignore' });
    t.is((await login(m.url, 'fay', 'third-pw')).status, 401, 'a removed line logs in no more');
    t.is((await login(m.url, 'gus', 'gus-pw')).status, 200);
  });

  test('an unreadable password file is an outage for its users only', async (t) => {
    const { m, file, admin } = await fileMaster(t, [htpasswdLine('s', 'hal', 'hal-pw')]);
    await createFileUsers(m.url, admin, ['hal']);
    renameSync(file, `${file}.away`);
    const down = await login(m.url, 'hal', 'hal-pw');
    t.is(down.status, 503);
    t.deepEqual(down.body.error, { code: 'AUTH_BACKEND_UNAVAILABLE', message: "the master's password file cannot be read: tell an admin" });
    t.is((await login(m.url, 'admin', '')).status, 200);
    renameSync(`${file}.away`, file);
    t.is((await login(m.url, 'hal', 'hal-pw')).status, 200);
  });

  test('yard user set --auth moves a user between backends: sessions end, the Trainyard password is forgotten', async (t) => {
    const { m, admin: adminToken } = await fileMaster(t, [htpasswdLine('s', 'ivy', 'file-pw')]);
    t.is((await api(m.url, 'POST', '/users', { token: adminToken, body: { username: 'ivy', password: 'own-pw' } })).status, 201);
    const ivyToken = await loginToken(m.url, 'ivy', 'own-pw');
    const admin = new Terminal(m.url);
    t.is((await admin.run(['user', 'login', 'admin', '--password-stdin'], { input: '\n' })).code, 0);

    const moved = await admin.run(['user', 'set', 'ivy', '--auth', 'file']);
    t.is(moved.code, 0, moved.stderr);
    t.regex(moved.stdout, /ivy now signs in through file/);
    t.is((await api(m.url, 'GET', '/me', { token: ivyToken })).status, 401, 'her sessions ended');
    t.is((await login(m.url, 'ivy', 'own-pw')).status, 401);
    t.is((await login(m.url, 'ivy', 'file-pw')).status, 200);

    const back = await admin.run(['user', 'set', 'ivy', '--auth', 'internal']);
    t.regex(back.stdout, /set one with `yard user change-password ivy`/);
    t.is((await login(m.url, 'ivy', 'own-pw')).status, 401, 'the old Trainyard password does not come back');
    t.is((await login(m.url, 'ivy', 'file-pw')).status, 401);
    t.is((await api(m.url, 'POST', '/users/ivy/password', { token: adminToken, body: { password: 'new-pw' } })).status, 204);
    t.is((await login(m.url, 'ivy', 'new-pw')).status, 200);

    const unconfigured = await admin.run(['user', 'set', 'ivy', '--auth', 'ldap']);
    t.is(unconfigured.code, 1);
    t.is(unconfigured.stderr.trim(), 'Error: auth: ldap is not configured on this master: add auth.ldap to master.yaml first');
    const nothing = await admin.run(['user', 'set', 'ivy']);
    t.is(nothing.code, 2);
    t.regex(nothing.stderr, /nothing to change: give a setting such as --auth/);
    const bogus = await api(m.url, 'PATCH', '/users/ivy', { token: adminToken, body: { auth: 'kerberos' } });
    t.is(bogus.body.error.message, 'auth: auth must be one of "internal", "ldap", "pam", "file"');
    const withPassword = await api(m.url, 'POST', '/users', { token: adminToken, body: { username: 'jo', auth: 'file', password: 'pw' } });
    t.is(withPassword.status, 400);
    t.regex(withPassword.body.error.message, /only internal users have a password in Trainyard/);
    const notAdmin = await api(m.url, 'PATCH', '/users/ivy', { token: await loginToken(m.url, 'ivy', 'new-pw'), body: { auth: 'file' } });
    t.is(notAdmin.status, 403);
  });

  test('a user of a backend master.yaml no longer configures gets AUTH_BACKEND_UNAVAILABLE, never in', async (t) => {
    const { m, admin } = await fileMaster(t, [htpasswdLine('s', 'kim', 'kim-pw')]);
    await createFileUsers(m.url, admin, ['kim']);
    await m.master.close();
    const again = await startTestMaster({}, m.dir);
    t.teardown(() => again.stop());
    const answer = await login(again.url, 'kim', 'kim-pw');
    t.is(answer.status, 503);
    t.is(answer.body.error.message, 'password-file sign-in is not configured on this master: tell an admin (auth.file in master.yaml)');
  });

  test('a database from before auth backends upgrades in place: every user is internal and keeps their password', async (t) => {
    const m = await startTestMaster();
    const admin = await loginToken(m.url, 'admin');
    await api(m.url, 'POST', '/users', { token: admin, body: { username: 'old', password: 'old-pw' } });
    await m.master.close();
    // Back to the schema of release 0.1 (before 0006-auth-backends).
    const store = await openDatabase(m.store, { migrate: false });
    await store.db.schema.alterTable('users').dropColumn('auth').execute();
    // Kysely's own table, not in the master's schema type.
    await (store.db as any).deleteFrom('kysely_migration').where('name', '=', '0006-auth-backends').execute();
    await store.close();

    const upgraded = await startTestMaster({}, m.dir);
    t.teardown(async () => {
      await upgraded.stop();
    });
    const token = await loginToken(upgraded.url, 'old', 'old-pw');
    const users = (await api<{ items: User[] }>(upgraded.url, 'GET', '/users', { token })).body.items;
    t.deepEqual(users.map((u) => [u.username, u.auth]), [['admin', 'internal'], ['yard', 'internal'], ['old', 'internal']]);
  });
}
