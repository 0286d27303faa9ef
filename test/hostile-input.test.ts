import { mkdtempSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import Database from 'better-sqlite3';
import { api, loginToken } from './helpers/api.js';
import { Terminal } from './helpers/cli.js';
import { httpRequest, rawExchange } from './helpers/raw-http.js';
import { countRows, onPostgres } from './helpers/store.js';
import { startTestMaster, type TestMaster } from './helpers/test-master.js';

let m: TestMaster;
let admin: string;
// Every answer to a hostile request, to show at the end that none was a 5xx.
const statuses: Array<{ what: string; status: number }> = [];
const dir = mkdtempSync(path.join(os.tmpdir(), 'yard-hostile-'));
// A directory the master must create itself, to see the mode it gets.
const dbPath = path.join(dir, 'private', 'trainyard.db');

test.before(async () => {
  m = await startTestMaster({ http: { body_limit: '256KiB' }, db: { path: dbPath } }, dir);
  admin = await loginToken(m.url, 'admin');
});
test.after.always(() => m?.stop());

const userCount = () => countRows(m, 'users');
const taskCount = () => countRows(m, 'tasks');

async function expectError(
  t: import('ava').ExecutionContext,
  promise: Promise<{ status: number; body: any; headers?: unknown }>,
  status: number,
  code: string,
) {
  const result = await promise;
  statuses.push({ what: `${code} ${JSON.stringify(result.body)}`, status: result.status });
  t.is(result.status, status, JSON.stringify(result.body));
  t.is(result.body?.error?.code, code);
  t.is(typeof result.body.error.message, 'string');
  t.true(result.body.error.message.length > 0);
  t.notRegex(JSON.stringify(result.body), /SQLITE|at \w+ \(|\.js:\d+/, 'no SQL or stack trace leaks');
  return result.body.error.message as string;
}

test.serial('malformed JSON, a body over the limit, and a non-JSON body are clear 4xx', async (t) => {
  const before = await userCount();
  await expectError(t, api(m.url, 'POST', '/users', { token: admin, rawBody: '{"username": "x",' }), 400, 'INVALID_JSON');
  await expectError(
    t,
    api(m.url, 'POST', '/users', { token: admin, rawBody: JSON.stringify({ username: 'big', password: 'x'.repeat(300_000) }) }),
    413,
    'PAYLOAD_TOO_LARGE',
  );
  await expectError(
    t,
    api(m.url, 'POST', '/users', { token: admin, rawBody: 'username=x', contentType: 'application/x-www-form-urlencoded' }),
    415,
    'UNSUPPORTED_MEDIA_TYPE',
  );
  t.is(await userCount(), before);
  t.is((await fetch(`${m.url}/healthz`)).status, 200, 'the master still serves');
});

test.serial('bad usernames are refused with a message that says what a name may hold', async (t) => {
  const before = await userCount();
  for (const username of ['a/b', 'with space', 'x'.repeat(200), "bob'; drop table users; --", '', '-leading', 42, null]) {
    const message = await expectError(t, api(m.url, 'POST', '/users', { token: admin, body: { username } }), 400, 'INVALID_INPUT');
    t.regex(message, /username/);
  }
  await expectError(t, api(m.url, 'POST', '/users', { token: admin, body: { username: 'ok', extra: 1 } }), 400, 'INVALID_INPUT');
  t.is(await userCount(), before, 'nothing was written');
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
  const db = m.master.database.db;
  const rows = await db.selectFrom('sessions').select('token_hash').execute();
  t.true(rows.length > 0);
  t.false(rows.some((r) => r.token_hash === admin || r.token_hash.startsWith('yard_')));
  const hashes = await db.selectFrom('users').select('password_hash').execute();
  t.true(hashes.every((r) => r.password_hash.startsWith('$argon2id$')));
});

const command = (config: Record<string, unknown> | string) => ({ kind: 'command', config });

test.serial('names and descriptions refuse control characters and bidirectional overrides, naming the rule', async (t) => {
  const before = await taskCount();
  for (const name of ['\u001b[2J\u001b]0;pwned\u0007', 'nul\u0000byte', 'line\nbreak', 'tab\there', 'c1\u009bcsi', 'evil\u202etxt.exe', 'iso\u2066late', 'del\u007f']) {
    const message = await expectError(t, api(m.url, 'POST', '/tasks', { token: admin, body: command({ name, entrypoint: ['true'] }) }), 400, 'INVALID_TASK_CONFIG');
    t.regex(message, /name must not contain control characters/);
    const yaml = `name: ${JSON.stringify(name)}\nentrypoint: ["true"]\n`;
    await expectError(t, api(m.url, 'POST', '/tasks', { token: admin, body: command(yaml) }), 400, 'INVALID_TASK_CONFIG');
  }
  const described = await api(m.url, 'POST', '/tasks', { token: admin, body: command({ description: 'one\u001b[31m', entrypoint: ['true'] }) });
  t.regex((await expectError(t, Promise.resolve(described), 400, 'INVALID_TASK_CONFIG')), /description must not contain control characters/);
  const mount = { host_path: '/tmp/x\u001b', container_path: '/data' };
  await expectError(t, api(m.url, 'POST', '/tasks', { token: admin, body: command({ entrypoint: ['true'], bind_mounts: [mount] }) }), 400, 'INVALID_TASK_CONFIG');
  t.is(await taskCount(), before, 'nothing was stored');

  const created = await api(m.url, 'POST', '/tasks', { token: admin, body: command({ name: 'plain', entrypoint: ['printf', '\u001b[31m'] }) });
  t.is(created.status, 201);
  await expectError(t, api(m.url, 'PATCH', `/tasks/${created.body.id}`, { token: admin, body: { name: 'x\u001by' } }), 400, 'INVALID_INPUT');
  await expectError(t, api(m.url, 'PATCH', `/tasks/${created.body.id}`, { token: admin, body: { description: 'x\u202ey' } }), 400, 'INVALID_INPUT');
  const unnamed = await api(m.url, 'POST', '/tasks', { token: admin, body: command({ entrypoint: ['printf', '\u001b[31mred'] }) });
  t.is(unnamed.body.name, 'printf ?[31mred', "a command's default name shows its control characters as ?");
});

test.serial('the CLI escapes control characters in what it prints: tables, describe, errors; logs keep colours only', async (t) => {
  // A name stored before names were checked, and log lines a task wrote.
  const created = await api(m.url, 'POST', '/tasks', { token: admin, body: command({ name: 'old', entrypoint: ['true'] }) });
  const db = m.master.database.db;
  await db.updateTable('tasks').set({ name: '\u001b]0;pwned\u0007\u001b[2Jevil\u202etxt' }).where('id', '=', created.body.id).execute();
  await db
    .insertInto('task_logs')
    .values([
      { task_id: created.body.id, seq: 1, stream: 'stdout', line: '\u001b[31mred\u001b[0m 50%\r100%\tdone', created_at: 0 },
      { task_id: created.body.id, seq: 2, stream: 'stdout', line: 'title\u001b]0;pwned\u0007 clear\u001b[2J bidi\u202e', created_at: 0 },
    ])
    .execute();
  const term = new Terminal(m.url);
  const list = await term.run(['task', 'list', '-a']);
  t.is(list.code, 0, list.stderr);
  t.false(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e]/.test(list.stdout), JSON.stringify(list.stdout));
  t.true(list.stdout.includes('\\x1b]0;pwned\\x07\\x1b[2Jevil\\u202etxt'), list.stdout);

  const describe = await term.run(['-u', 'admin', 'task', 'describe', String(created.body.id)], { env: { YARD_PASSWORD: '' } });
  t.is(describe.code, 0, describe.stderr);
  t.regex(describe.stdout, /^Name: +\\x1b\]0;pwned\\x07\\x1b\[2Jevil\\u202etxt$/m);

  const logs = await term.run(['-u', 'admin', 'task', 'logs', String(created.body.id)], { env: { YARD_PASSWORD: '' } });
  t.is(logs.code, 0, logs.stderr);
  t.is(logs.stdout, '\u001b[31mred\u001b[0m 50%\r100%\tdone\ntitle\\x1b]0;pwned\\x07 clear\\x1b[2J bidi\\u202e\n');
  const raw = await term.run(['-u', 'admin', 'task', 'logs', String(created.body.id), '--raw'], { env: { YARD_PASSWORD: '' } });
  t.is(raw.stdout, '\u001b[31mred\u001b[0m 50%\r100%\tdone\ntitle\u001b]0;pwned\u0007 clear\u001b[2J bidi\u202e\n', '--raw prints the bytes as written');
});

test.serial('YAML: self-referencing aliases, alias bombs and duplicate keys are 400s, and master.yaml refuses them too', async (t) => {
  const before = await taskCount();
  const circular = await expectError(t, api(m.url, 'POST', '/tasks', { token: admin, body: command('name: &a [*a]\nentrypoint: ["true"]\n') }), 400, 'INVALID_TASK_CONFIG');
  t.regex(circular, /refers to itself/);
  await expectError(t, api(m.url, 'POST', '/tasks', { token: admin, body: command('environment: &e {A: *e}\nentrypoint: ["true"]\n') }), 400, 'INVALID_TASK_CONFIG');
  const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
  for (const level of 'bcdefghi') bomb.push(`${level}: &${level} [${Array(9).fill(`*${String.fromCharCode(level.charCodeAt(0) - 1)}`).join(',')}]`);
  await expectError(t, api(m.url, 'POST', '/tasks', { token: admin, body: command(`${bomb.join('\n')}\nentrypoint: ["true"]\n`) }), 400, 'INVALID_TASK_CONFIG');
  await expectError(t, api(m.url, 'POST', '/tasks', { token: admin, body: command('name: a\nname: b\nentrypoint: ["true"]\n') }), 400, 'INVALID_TASK_CONFIG');
  await expectError(t, api(m.url, 'POST', '/tasks', { token: admin, body: command('__proto__: {x: 1}\nentrypoint: ["true"]\n') }), 400, 'INVALID_TASK_CONFIG');
  t.is(await taskCount(), before);

  const { loadConfig, ConfigError } = await import('@trainyard/master');
  const { writeFileSync } = await import('node:fs');
  const file = path.join(dir, 'circular.yaml');
  writeFileSync(file, 'listen: &l {host: *l}\n');
  const error = t.throws(() => loadConfig(file), { instanceOf: ConfigError });
  t.regex(error!.message, /not usable YAML: it refers to itself/);
});

test.serial('sizes read the same in task configs and master.yaml: K/M/G decimal, Ki/Mi/Gi binary', async (t) => {
  for (const [memory, bytes] of [['5Mi', 5 * 1024 ** 2], ['5MiB', 5 * 1024 ** 2], ['5M', 5e6], ['5mb', 5e6], ['1.5Gi', 1.5 * 1024 ** 3], [8_000_000, 8e6]] as const) {
    const created = await api(m.url, 'POST', '/tasks', { token: admin, body: command({ entrypoint: ['true'], resources: { memory } }) });
    t.is(created.status, 201, JSON.stringify(created.body));
    t.is(created.body.config.resources.memory, bytes, String(memory));
  }
  const { parseConfig } = await import('@trainyard/master');
  t.is(parseConfig({ http: { body_limit: '1MiB' } }).http.body_limit, 1024 ** 2);
  t.is(parseConfig({ http: { body_limit: '1mb' } }).http.body_limit, 1e6);
  t.is(parseConfig({}).http.body_limit, 1024 ** 2, 'the default stays 1 MiB');
  await expectError(t, api(m.url, 'POST', '/tasks', { token: admin, body: command({ entrypoint: ['true'], resources: { memory: '5 parsecs' } }) }), 400, 'INVALID_TASK_CONFIG');
});

test.serial('a 100k-deep JSON body is a 400, and __proto__, constructor and prototype keys are refused, not dropped', async (t) => {
  const before = await userCount();
  const deep = '['.repeat(100_000) + ']'.repeat(100_000);
  const message = await expectError(t, api(m.url, 'POST', '/tasks', { token: admin, rawBody: deep }), 400, 'INVALID_INPUT');
  t.regex(message, /nests deeper than 64 levels/);
  const deepObject = '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000);
  await expectError(t, api(m.url, 'POST', '/users', { token: admin, rawBody: deepObject }), 400, 'INVALID_INPUT');
  for (const key of ['__proto__', 'constructor', 'prototype']) {
    const refused = await expectError(
      t,
      api(m.url, 'POST', '/users', { token: admin, rawBody: `{"username": "sneaky", "${key}": {"admin": true}}` }),
      400,
      'INVALID_INPUT',
    );
    t.regex(refused, new RegExp(`key named "${key}"`));
    await expectError(
      t,
      api(m.url, 'POST', '/tasks', { token: admin, rawBody: `{"kind": "command", "config": {"entrypoint": ["true"], "environment": {"${key}": "x"}}}` }),
      400,
      'INVALID_INPUT',
    );
  }
  t.is(await userCount(), before);
});

test.serial('a wrong method on a known path is 405 with Allow; unknown paths are JSON 404s; page paths serve the UI', async (t) => {
  const wrong = await api(m.url, 'DELETE', '/tasks', { token: admin });
  await expectError(t, Promise.resolve(wrong), 405, 'METHOD_NOT_ALLOWED');
  t.is(wrong.headers.get('allow'), 'GET, HEAD, POST');
  const agentRoute = await api(m.url, 'GET', '/agents/a1/heartbeat');
  await expectError(t, Promise.resolve(agentRoute), 405, 'METHOD_NOT_ALLOWED');
  t.is(agentRoute.headers.get('allow'), 'POST');
  const health = await fetch(`${m.url}/healthz`, { method: 'POST' });
  t.is(health.status, 405);
  t.is(health.headers.get('allow'), 'GET, HEAD');
  const page = await fetch(`${m.url}/experiments/12`, { method: 'POST' });
  t.is(page.status, 405);
  t.is(((await page.json()) as any).error.code, 'METHOD_NOT_ALLOWED');
  const options = await fetch(`${m.url}/api/v1/tasks/12`, { method: 'OPTIONS' });
  t.is(options.status, 204);
  // DELETE /tasks/:id deletes an ended task (delete_tasks).
  t.is(options.headers.get('allow'), 'DELETE, GET, HEAD, PATCH');

  // /metrics is the master's own (Prometheus text, tested in metrics.test.ts); what lies below it is not.
  t.regex((await fetch(`${m.url}/metrics`)).headers.get('content-type') ?? '', /^text\/plain/);
  for (const path of ['/metrics/x', '/foo.php', '/readyz/x', '/experiments/abc', '/users/admin', '/agents/a1', '/groups/Research', '/roles/a/b', '/api', '/api/v1', '/api/v2/tasks', '/.env']) {
    const response = await fetch(`${m.url}${path}`);
    statuses.push({ what: path, status: response.status });
    t.is(response.status, 404, path);
    t.regex(response.headers.get('content-type') ?? '', /application\/json/, path);
    t.is(((await response.json()) as any).error.code, 'NOT_FOUND', path);
  }
  for (const path of ['/', '/login', '/experiments', '/shells/3', '/users', '/account/password', '/agents', '/groups', '/groups/research/vision', '/roles', '/roles/operator', '/quotas', '/account/usage']) {
    const response = await fetch(`${m.url}${path}`);
    t.is(response.status, 200, path);
    t.regex(response.headers.get('content-type') ?? '', /text\/html/, path);
  }
  t.deepEqual((await (await fetch(`${m.url}/readyz`)).json()) as any, { status: 'ready' });
});

test.serial('oversized headers get 431, broken HTTP 400 and a missing Host 421, each with the error body', async (t) => {
  const url = new URL(m.url);
  const huge = await rawExchange(m.url, `GET /api/v1/me HTTP/1.1\r\nHost: ${url.host}\r\nX-Filler: ${'x'.repeat(20 * 1024)}\r\nConnection: close\r\n\r\n`);
  await expectError(t, Promise.resolve(huge), 431, 'HEADER_TOO_LARGE');
  const broken = await rawExchange(m.url, 'GET / HTTP/1.1\r\nHost x\r\n\r\n');
  await expectError(t, Promise.resolve(broken), 400, 'INVALID_INPUT');
  const noHost = await rawExchange(m.url, 'GET /api/v1/me HTTP/1.1\r\nConnection: close\r\n\r\n');
  await expectError(t, Promise.resolve(noHost), 421, 'HOST_NOT_ALLOWED');
  t.is((await fetch(`${m.url}/healthz`)).status, 200, 'the master still serves');
});

test.serial('ambiguous requests are 400 with the error body, never "the first one wins": two Hosts, two Authorizations, two lengths, a length with chunks, an unknown transfer coding', async (t) => {
  const { host } = new URL(m.url);
  const exchange = (text: string) => rawExchange(m.url, text);
  const before = await userCount();
  const create = (headers: string) => {
    const body = JSON.stringify({ username: 'smuggled', password: 'pw' });
    return `POST /api/v1/users HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${admin}\r\nContent-Type: application/json\r\n${headers}Connection: close\r\n\r\n${body}`;
  };
  const cases: Array<[string, string, RegExp]> = [
    // RFC 9112 3.2: "A server MUST respond with a 400 to any HTTP/1.1 request message that lacks a Host header field and to any
    // request message that contains more than one Host header field line or a Host header field with an invalid field value."
    ['two Hosts, the first ours', `GET /api/v1/me HTTP/1.1\r\nHost: ${host}\r\nHost: rebind.attacker.example\r\nAuthorization: Bearer ${admin}\r\nConnection: close\r\n\r\n`, /2 Host headers/],
    ['two Hosts, the same', `GET /healthz HTTP/1.1\r\nHost: ${host}\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, /2 Host headers/],
    ['an empty Host and ours', `GET /api/v1/me HTTP/1.1\r\nHost:\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, /2 Host headers/],
    ['a Host that is no host', `GET /api/v1/me HTTP/1.1\r\nHost: 127.0.0.1, evil.example\r\nConnection: close\r\n\r\n`, /Host header .* is not a host/],
    ['two Authorizations', `GET /api/v1/me HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${admin}\r\nAuthorization: Bearer yard_forged\r\nConnection: close\r\n\r\n`, /2 Authorization headers/],
    ['two Content-Types', create('Content-Type: text/plain\r\nContent-Length: 41\r\n'), /2 Content-Type headers/],
    ['two Content-Lengths', create('Content-Length: 41\r\nContent-Length: 10\r\n'), /not valid HTTP\/1\.1 \(HPE_UNEXPECTED_CONTENT_LENGTH\)/],
    ['a list as the length', create('Content-Length: 41, 41\r\n'), /not valid HTTP\/1\.1 \(HPE_INVALID_CONTENT_LENGTH\)/],
    ['a length and chunks', create('Content-Length: 41\r\nTransfer-Encoding: chunked\r\n'), /not valid HTTP\/1\.1 \(HPE_INVALID_TRANSFER_ENCODING\)/],
    ['a coding other than chunked', create('Transfer-Encoding: gzip\r\n'), /not valid HTTP\/1\.1 \(HPE_INVALID_TRANSFER_ENCODING\)/],
    ['chunked twice', create('Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n'), /not valid HTTP\/1\.1 \(HPE_INVALID_TRANSFER_ENCODING\)/],
    ['a folded header', `GET /api/v1/me HTTP/1.1\r\nHost: ${host}\r\nX-A: b\r\n c\r\nConnection: close\r\n\r\n`, /not valid HTTP\/1\.1/],
  ];
  for (const [what, text, reason] of cases) {
    const answer = await exchange(text);
    const message = await expectError(t, Promise.resolve(answer), 400, 'INVALID_INPUT');
    t.regex(message, reason, what);
    t.regex(answer.raw, /\r\nconnection: close\r\n/i, `${what}: the connection is closed after it`);
  }
  // Two session cookies: one a page on another port of this host set for a narrower path (sent first). Neither is taken,
  // and the narrower ones are cleared with the refusal.
  const twoSessions = await httpRequest(`${m.url}/api/v1/me`, { headers: { cookie: `yard_session=yard_planted; theme=dark; yard_session=${admin}` } });
  t.regex(await expectError(t, Promise.resolve(twoSessions), 400, 'INVALID_INPUT'), /2 yard_session cookies/);
  const cleared = (twoSessions.headers['set-cookie'] ?? []).map((c) => /path=([^;]*)/.exec(c)?.[1]).sort();
  t.deepEqual(cleared, ['/api', '/api/', '/api/v1', '/api/v1/', '/api/v1/me', '/api/v1/me/'], 'every narrower path the planted cookie may have');
  t.true((twoSessions.headers['set-cookie'] ?? []).every((c) => /^yard_session=;/.test(c) && /expires=Thu, 01 Jan 1970/i.test(c)));
  // A WebSocket upgrade is a request like any other.
  const upgrade = await exchange(`GET /api/v1/tasks/1/shell HTTP/1.1\r\nHost: ${host}\r\nHost: evil.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`);
  await expectError(t, Promise.resolve(upgrade), 400, 'INVALID_INPUT');
  t.is(await userCount(), before, 'nothing was created');

  // An absolute URI names the host (RFC 9112 3.2.2: the Host header is then ignored), so it is the one checked.
  const absolute = await exchange(`GET http://rebind.attacker.example/api/v1/me HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${admin}\r\nConnection: close\r\n\r\n`);
  t.regex(await expectError(t, Promise.resolve(absolute), 421, 'HOST_NOT_ALLOWED'), /rebind\.attacker\.example/);
  const ours = await exchange(`GET http://${host}/api/v1/me HTTP/1.1\r\nHost: rebind.attacker.example\r\nAuthorization: Bearer ${admin}\r\nConnection: close\r\n\r\n`);
  t.is(ours.status, 200, ours.raw);
  t.is(ours.body.user.username, 'admin');
  const notHttp = await exchange(`GET ftp://${host}/api/v1/me HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  await expectError(t, Promise.resolve(notHttp), 400, 'INVALID_INPUT');
  t.is((await fetch(`${m.url}/healthz`)).status, 200, 'the master still serves');
});

test.serial('a Host that is not this master (DNS rebinding) is refused; loopback names and IP addresses are fine', async (t) => {
  const { port } = new URL(m.url);
  const login = { username: 'yard', password: '', cookie: true };
  const rebound = await httpRequest(`${m.url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { host: `rebind.attacker.example:${port}`, origin: `http://rebind.attacker.example:${port}` },
    body: login,
  });
  const message = await expectError(t, Promise.resolve(rebound), 421, 'HOST_NOT_ALLOWED');
  t.regex(message, /rebind\.attacker\.example.*http\.public_url/);
  t.is(rebound.headers['set-cookie'], undefined, 'no session cookie');
  for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, `app.localhost:${port}`, `10.1.2.3:${port}`]) {
    const ok = await httpRequest(`${m.url}/api/v1/auth/login`, { method: 'POST', headers: { host, origin: `http://${host}` }, body: login });
    t.is(ok.status, 200, `${host}: ${JSON.stringify(ok.body)}`);
    t.truthy(ok.headers['set-cookie'], host);
  }
  // A page of the attacker's that posts to this master by its address: same Host, foreign Origin.
  const crossSite = await httpRequest(`${m.url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { host: `127.0.0.1:${port}`, origin: `http://rebind.attacker.example:${port}` },
    body: login,
  });
  await expectError(t, Promise.resolve(crossSite), 403, 'FORBIDDEN');
  t.is(crossSite.headers['set-cookie'], undefined);
  t.is((await httpRequest(`${m.url}/healthz`, { headers: { host: 'anything.example' } })).status, 200, 'health checks answer any Host');
});

test.serial('last: no hostile request got a 5xx; the database is intact and private (0600 file, 0700 directory)', async (t) => {
  t.true(statuses.length > 50, `${statuses.length} hostile requests`);
  t.deepEqual(statuses.filter((s) => s.status >= 500 || s.status < 400), []);
  await m.master.database.check();
  // The file's integrity and modes: a SQLite store's (PostgreSQL keeps its files itself).
  if (onPostgres) return;
  const db = new Database(m.dbPath, { readonly: true });
  try {
    t.is(db.pragma('integrity_check', { simple: true }), 'ok');
  } finally {
    db.close();
  }
  const mode = (file: string) => (statSync(file).mode & 0o777).toString(8);
  t.is(mode(m.dbPath), '600');
  t.is(mode(`${m.dbPath}-wal`), '600');
  t.is(mode(`${m.dbPath}-shm`), '600');
  t.is(mode(path.dirname(m.dbPath)), '700');
});
