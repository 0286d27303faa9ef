import test from 'ava';
import Database from 'better-sqlite3';
import { api, loginToken } from './helpers/api.js';
import { startTestMaster, type TestMaster } from './helpers/test-master.js';

let m: TestMaster;
let admin: string;

test.before(async () => {
  m = await startTestMaster({ http: { body_limit: '64kb' } });
  admin = await loginToken(m.url, 'admin');
});
test.after.always(() => m?.stop());

function userCount(): number {
  const db = new Database(m.dbPath, { readonly: true });
  try {
    return (db.prepare('select count(*) as n from users').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

async function expectError(
  t: import('ava').ExecutionContext,
  promise: Promise<{ status: number; body: any }>,
  status: number,
  code: string,
) {
  const result = await promise;
  t.is(result.status, status, JSON.stringify(result.body));
  t.is(result.body?.error?.code, code);
  t.is(typeof result.body.error.message, 'string');
  t.true(result.body.error.message.length > 0);
  t.notRegex(JSON.stringify(result.body), /SQLITE|at \w+ \(|\.js:\d+/, 'no SQL or stack trace leaks');
  return result.body.error.message as string;
}

test.serial('malformed JSON, a body over the limit, and a non-JSON body are clear 4xx', async (t) => {
  const before = userCount();
  await expectError(t, api(m.url, 'POST', '/users', { token: admin, rawBody: '{"username": "x",' }), 400, 'INVALID_JSON');
  await expectError(
    t,
    api(m.url, 'POST', '/users', { token: admin, rawBody: JSON.stringify({ username: 'big', password: 'x'.repeat(100_000) }) }),
    413,
    'PAYLOAD_TOO_LARGE',
  );
  await expectError(
    t,
    api(m.url, 'POST', '/users', { token: admin, rawBody: 'username=x', contentType: 'application/x-www-form-urlencoded' }),
    415,
    'UNSUPPORTED_MEDIA_TYPE',
  );
  t.is(userCount(), before);
  t.is((await fetch(`${m.url}/healthz`)).status, 200, 'the master still serves');
});

test.serial('bad usernames are refused with a message that says what a name may hold', async (t) => {
  const before = userCount();
  for (const username of ['a/b', 'with space', 'x'.repeat(200), "bob'; drop table users; --", '', '-leading', 42, null]) {
    const message = await expectError(t, api(m.url, 'POST', '/users', { token: admin, body: { username } }), 400, 'INVALID_INPUT');
    t.regex(message, /username/);
  }
  await expectError(t, api(m.url, 'POST', '/users', { token: admin, body: { username: 'ok', extra: 1 } }), 400, 'INVALID_INPUT');
  t.is(userCount(), before, 'nothing was written');
});

test.serial('uids and gids must be integers in 0..4294967294', async (t) => {
  const good = { uid: 1000, user: 'alice', gid: 1000, group: 'alice' };
  for (const uid of [-1, 4294967295, 1.5, '12', '1e3', null, true]) {
    const message = await expectError(
      t,
      api(m.url, 'PUT', '/users/yard/agent-user', { token: admin, body: { ...good, uid } }),
      400,
      'INVALID_INPUT',
    );
    t.regex(message, /uid must be an integer between 0 and 4294967294/);
  }
  for (const missing of ['uid', 'user', 'gid', 'group']) {
    const body: Record<string, unknown> = { ...good };
    delete body[missing];
    await expectError(t, api(m.url, 'PUT', '/users/yard/agent-user', { token: admin, body }), 400, 'INVALID_INPUT');
  }
  await expectError(
    t,
    api(m.url, 'PUT', '/users/yard/agent-user', { token: admin, body: { ...good, user: 'root:0:0' } }),
    400,
    'INVALID_INPUT',
  );
  const yard = await api(m.url, 'GET', '/users/yard', { token: admin });
  t.is(yard.body.agentUser, null, 'no half-written link');
});

test.serial('duplicate user is 409 (case-insensitively), unknown user 404', async (t) => {
  t.is((await api(m.url, 'POST', '/users', { token: admin, body: { username: 'dup' } })).status, 201);
  await expectError(t, api(m.url, 'POST', '/users', { token: admin, body: { username: 'dup' } }), 409, 'USER_EXISTS');
  await expectError(t, api(m.url, 'POST', '/users', { token: admin, body: { username: 'DUP' } }), 409, 'USER_EXISTS');
  const message = await expectError(t, api(m.url, 'GET', '/users/nobody', { token: admin }), 404, 'USER_NOT_FOUND');
  t.is(message, "user 'nobody' does not exist");
  await expectError(t, api(m.url, 'PATCH', '/users/nobody', { token: admin, body: { active: false } }), 404, 'USER_NOT_FOUND');
  await expectError(t, api(m.url, 'GET', '/no/such/thing', { token: admin }), 404, 'NOT_FOUND');
});

test.serial('forged, malformed and missing tokens are 401', async (t) => {
  for (const token of ['yard_forged', `yard_${'A'.repeat(43)}`, 'not-even-close', `${admin}x`]) {
    await expectError(t, api(m.url, 'GET', '/users', { token }), 401, 'UNAUTHENTICATED');
  }
  await expectError(t, api(m.url, 'GET', '/users'), 401, 'UNAUTHENTICATED');
  const raw = await fetch(`${m.url}/api/v1/users`, { headers: { authorization: 'Basic YWRtaW46' } });
  t.is(raw.status, 401);
});

test.serial('login failures say the same thing whether or not the user exists', async (t) => {
  const unknown = await expectError(
    t,
    api(m.url, 'POST', '/auth/login', { body: { username: 'ghost', password: 'x' } }),
    401,
    'INVALID_CREDENTIALS',
  );
  const wrong = await expectError(
    t,
    api(m.url, 'POST', '/auth/login', { body: { username: 'admin', password: 'x' } }),
    401,
    'INVALID_CREDENTIALS',
  );
  const malformed = await expectError(
    t,
    api(m.url, 'POST', '/auth/login', { body: { username: 'a/b', password: 'x' } }),
    401,
    'INVALID_CREDENTIALS',
  );
  t.is(unknown, 'invalid username or password');
  t.is(wrong, unknown);
  t.is(malformed, unknown);
});

test.serial('the last active admin cannot be deactivated or demoted', async (t) => {
  await expectError(t, api(m.url, 'PATCH', '/users/admin', { token: admin, body: { active: false } }), 409, 'LAST_ADMIN');
  await expectError(t, api(m.url, 'PATCH', '/users/admin', { token: admin, body: { admin: false } }), 409, 'LAST_ADMIN');
  await expectError(t, api(m.url, 'PATCH', '/users/admin', { token: admin, body: {} }), 400, 'INVALID_INPUT');
});

test.serial('tokens are stored only as hashes', async (t) => {
  const db = new Database(m.dbPath, { readonly: true });
  try {
    const rows = db.prepare('select token_hash from sessions').all() as Array<{ token_hash: string }>;
    t.true(rows.length > 0);
    t.false(rows.some((r) => r.token_hash === admin || r.token_hash.startsWith('yard_')));
    const hashes = db.prepare('select password_hash from users').all() as Array<{ password_hash: string }>;
    t.true(hashes.every((r) => r.password_hash.startsWith('$argon2id$')));
  } finally {
    db.close();
  }
});
