import test from 'ava';
import { api, loginToken } from './helpers/api.js';
import { Terminal } from './helpers/cli.js';
import { startTestMaster } from './helpers/test-master.js';

const DAY = 24 * 3600 * 1000;

test('a login session expires after 30 days (injected clock)', async (t) => {
  const m = await startTestMaster();
  t.teardown(() => m.stop());
  const term = new Terminal(m.url);
  const login = await term.run(['user', 'login', 'admin', '--password-stdin'], { input: '\n' });
  t.is(login.code, 0, login.stderr);
  const me = await term.json<{ session: { expiresAt: string; kind: string } }>(['user', 'whoami']);
  t.is(me.session.kind, 'login');
  const ttl = Date.parse(me.session.expiresAt) - Date.now();
  t.true(Math.abs(ttl - 30 * DAY) < 60_000, `expires in ${ttl} ms`);

  m.clock.advance(29 * DAY);
  t.is((await term.run(['user', 'whoami'])).stdout.trim(), 'admin', 'still valid on day 29');
  m.clock.advance(1 * DAY + 1000);
  const expired = await term.run(['user', 'whoami']);
  t.is(expired.code, 1);
  t.regex(expired.stderr, /session as 'admin' has ended/);
});

test('session_ttl from master.yaml sets the lifetime', async (t) => {
  const m = await startTestMaster({ security: { session_ttl: '2h' } });
  t.teardown(() => m.stop());
  const token = await loginToken(m.url, 'admin');
  m.clock.advance(2 * 3600 * 1000 - 1000);
  t.is((await api(m.url, 'GET', '/me', { token })).status, 200);
  m.clock.advance(2000);
  const after = await api(m.url, 'GET', '/me', { token });
  t.is(after.status, 401);
  t.is(after.body.error.code, 'UNAUTHENTICATED');
});

test('repeated bad logins for one user get 429 with Retry-After; other users are unaffected', async (t) => {
  const m = await startTestMaster({ security: { login_throttle: { max_failures_per_user: 3 } } });
  t.teardown(() => m.stop());
  for (let i = 0; i < 3; i++) {
    t.is((await api(m.url, 'POST', '/auth/login', { body: { username: 'admin', password: 'wrong' } })).status, 401);
  }
  const blocked = await api(m.url, 'POST', '/auth/login', { body: { username: 'admin', password: '' } });
  t.is(blocked.status, 429, 'even the right password waits');
  t.is(blocked.body.error.code, 'TOO_MANY_REQUESTS');
  const retryAfter = Number(blocked.headers.get('retry-after'));
  t.true(retryAfter > 0 && retryAfter <= 15 * 60, `Retry-After: ${retryAfter}`);
  t.is((await api(m.url, 'POST', '/auth/login', { body: { username: 'yard', password: '' } })).status, 200);

  const term = new Terminal(m.url);
  const cli = await term.run(['-u', 'admin', 'user', 'list'], { env: { YARD_PASSWORD: '' } });
  t.is(cli.code, 1);
  t.regex(cli.stderr, /^Error: too many failed logins: try again in \d+ seconds$/m);
});

test('repeated bad logins from one address get 429 across usernames', async (t) => {
  const m = await startTestMaster({ security: { login_throttle: { max_failures_per_address: 4 } } });
  t.teardown(() => m.stop());
  for (const username of ['a1', 'a2', 'a3', 'a4']) {
    t.is((await api(m.url, 'POST', '/auth/login', { body: { username, password: 'x' } })).status, 401);
  }
  const blocked = await api(m.url, 'POST', '/auth/login', { body: { username: 'a5', password: 'x' } });
  t.is(blocked.status, 429);
  t.truthy(blocked.headers.get('retry-after'));
});

test('the password policy from master.yaml is enforced on create and change', async (t) => {
  const m = await startTestMaster({ security: { password_policy: { min_length: 8 }, initial_admin_password: 'admin-initial' } });
  t.teardown(() => m.stop());
  t.is((await api(m.url, 'POST', '/auth/login', { body: { username: 'admin', password: '' } })).status, 401);
  const admin = await loginToken(m.url, 'admin', 'admin-initial');
  const short = await api(m.url, 'POST', '/users', { token: admin, body: { username: 'al', password: 'short' } });
  t.is(short.status, 400);
  t.is(short.body.error.code, 'PASSWORD_POLICY');
  t.regex(short.body.error.message, /at least 8 characters/);
  t.is((await api(m.url, 'GET', '/users/al', { token: admin })).status, 404);
  t.is((await api(m.url, 'POST', '/users', { token: admin, body: { username: 'al', password: 'long enough' } })).status, 201);
  const change = await api(m.url, 'POST', '/users/al/password', { token: admin, body: { password: '1234567' } });
  t.is(change.body.error.code, 'PASSWORD_POLICY');
});
