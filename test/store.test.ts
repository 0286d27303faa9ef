// The store itself: one migration history on SQLite and PostgreSQL, case-insensitive names on both,
// and moving and keeping data (`yard-master db copy`, `yard-master db backup`).
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import Database from 'better-sqlite3';
import { loadConfig, openDatabase } from '@trainyard/master';
import type { AuditEntry, Page, Task, TaskLogPage } from '@trainyard/shared';
import { stringify } from 'yaml';
import { api, loginToken } from './helpers/api.js';
import { ROOT, runProcess } from './helpers/cli.js';
import { createUsers } from './helpers/fixtures.js';
import { createDatabase, dropDatabase, onPostgres, queryPostgres, TEST_STORE } from './helpers/store.js';
import { startTestMaster, type TestMaster } from './helpers/test-master.js';

const MASTER_BIN = path.join(ROOT, 'packages', 'master', 'bin', 'yard-master.js');
const yardMaster = (args: string[]) => runProcess(process.execPath, [MASTER_BIN, ...args], { timeoutMs: 120_000 });
const tempDir = () => mkdtempSync(path.join(os.tmpdir(), 'yard-store-'));
const pgUrl = process.env.YARD_TEST_PG_URL;

if (!pgUrl) {
  console.error(
    '\n!!! NO POSTGRESQL: the migration test on PostgreSQL and the db copy tests are NOT running. `npm test` starts one where it can (scripts/postgres.sh up); export the YARD_TEST_PG_URL it prints to run them by hand.\n',
  );
  test.skip('every migration on PostgreSQL, db copy (PostgreSQL is not available)', () => {});
} else {
  test('every migration runs on a fresh SQLite file and a fresh PostgreSQL database; PostgreSQL gets no SQLite-only type', async (t) => {
    const file = path.join(tempDir(), 'fresh.db');
    const pg = await createDatabase();
    t.teardown(() => dropDatabase(pg.name));
    for (const target of [{ path: file }, { url: pg.url }]) {
      const store = await openDatabase(target);
      const history = (await (store.db as any).selectFrom('kysely_migration').select('name').orderBy('name').execute()) as Array<{ name: string }>;
      await store.close();
      t.true(history.length >= 8, `${store.label}: ${history.map((h) => h.name).join(' ')}`);
      t.is(history[0]!.name, '0001-users-and-sessions');
    }
    // Column by column: every integer is a bigint (epoch milliseconds and byte counts overflow int4),
    // every real a double, and nothing is spelled the SQLite way. column-types.ts is the rule.
    const columns = await queryPostgres<{ table_name: string; column_name: string; data_type: string }>(
      pg.url,
      `select table_name, column_name, data_type from information_schema.columns
       where table_schema = 'public' and table_name not like 'kysely%' order by table_name, column_name`,
    );
    const wrong = columns.filter((c) => ['integer', 'smallint', 'real', 'numeric'].includes(c.data_type));
    t.deepEqual(wrong.map((c) => `${c.table_name}.${c.column_name} ${c.data_type}`), [], 'take column types from db/column-types.ts');
    const typeOf = (table: string, column: string) => columns.find((c) => c.table_name === table && c.column_name === column)?.data_type;
    for (const [table, column] of [['users', 'username'], ['roles', 'name'], ['agent_tokens', 'name'], ['api_tokens', 'name']]) {
      t.is(typeOf(table!, column!), 'USER-DEFINED', `${table}.${column} is citext: names are one without regard to case`);
    }
    for (const [table, column] of [['users', 'active'], ['agents', 'enabled'], ['roles', 'builtin'], ['quotas', 'deny_on_limit'], ['groups', 'shared_dir']]) {
      t.is(typeOf(table!, column!), 'boolean', `${table}.${column}`);
    }
    t.true(columns.filter((c) => /(^|_)at$/.test(c.column_name)).every((c) => c.data_type === 'bigint'), 'times are epoch milliseconds in bigint');
  });
}

test('db.url and YARD_DB_URL choose PostgreSQL; a bad URL or a server that does not answer stops the start with one line', async (t) => {
  const dir = tempDir();
  const file = path.join(dir, 'master.yaml');
  writeFileSync(file, stringify({ db: { path: './here.db' } }));
  t.is(loadConfig(file, {}).db.url, undefined);
  t.is(loadConfig(file, {}).db.path, path.join(dir, 'here.db'));
  t.is(loadConfig(file, { YARD_DB_URL: 'postgres://yard@db.example.org/yard' }).db.url, 'postgres://yard@db.example.org/yard');
  writeFileSync(file, stringify({ db: { url: 'postgres://yard@db.example.org/yard' } }));
  t.is(loadConfig(file, { YARD_DB: '/srv/yard.db' }).db.url, undefined, 'a file named in the environment wins over the URL');
  writeFileSync(file, stringify({ db: { url: 'mysql://yard@db.example.org/yard' } }));
  t.throws(() => loadConfig(file, {}), { message: /db\.url: must be a postgres:\/\/user:password@host:port\/database URL/ });

  writeFileSync(file, stringify({ listen: { port: 0 }, db: { url: 'postgres://yard:secret@127.0.0.1:1/yard' } }));
  const start = await yardMaster(['--config', file]);
  t.is(start.code, 1);
  t.regex(start.stderr, /^yard-master: refusing to start: cannot open the database postgres:\/\/yard@127\.0\.0\.1:1\/yard \(db\.url\): connect ECONNREFUSED/m);
  t.notRegex(start.stderr, /secret/, 'the password is never printed');
});

test(`${TEST_STORE}: user, role and token names are one without regard to case`, async (t) => {
  const m = await startTestMaster();
  t.teardown(() => m.stop());
  const admin = await loginToken(m.url, 'admin');
  t.is((await api(m.url, 'POST', '/users', { token: admin, body: { username: 'casey', password: 'pw' } })).status, 201);
  const again = await api(m.url, 'POST', '/users', { token: admin, body: { username: 'CASEY', password: 'pw' } });
  t.is(again.status, 409);
  t.is(again.body.error.code, 'USER_EXISTS');
  t.is((await api(m.url, 'POST', '/auth/login', { body: { username: 'Casey', password: 'pw' } })).status, 200);
  t.is((await api(m.url, 'POST', '/roles', { token: admin, body: { name: 'ops', capabilities: ['access_api'] } })).status, 201);
  t.is((await api(m.url, 'POST', '/roles', { token: admin, body: { name: 'OPS' } })).body.error.code, 'ROLE_EXISTS');
  t.is((await api(m.url, 'POST', '/tokens', { token: admin, body: { name: 'ci' } })).status, 201);
  t.is((await api(m.url, 'POST', '/tokens', { token: admin, body: { name: 'CI' } })).body.error.code, 'TOKEN_EXISTS');
});

/**
 * An installation that has been used: users with passwords and links, groups with a uid range and
 * members, roles given, a quota, personal and agent tokens, tasks that ran (through a simulated agent,
 * with logs) and the audit log of all of it.
 */
async function useInstallation(m: TestMaster): Promise<{ admin: string; tasks: number[] }> {
  const tokens = await createUsers(m.url, ['uma', 'vic'], 'secret-pw');
  const admin = tokens.admin!;
  const must = async (answer: Promise<{ status: number; body: any }>) => {
    const result = await answer;
    if (result.status >= 300) throw new Error(JSON.stringify(result.body));
    return result.body;
  };
  await must(api(m.url, 'PUT', '/users/vic/agent-user', { token: admin, body: { uid: 2001, user: 'vic', gid: 2001, group: 'vic' } }));
  await must(api(m.url, 'POST', '/groups', { token: admin, body: { path: 'lab' } }));
  await must(api(m.url, 'POST', '/groups', { token: admin, body: { path: 'lab/vision' } }));
  await must(api(m.url, 'PATCH', '/groups/lab/unix', { token: admin, body: { gid: 5500, uidRange: 'auto' } }));
  await must(api(m.url, 'POST', '/groups/lab/members', { token: admin, body: { username: 'uma' } }));
  await must(api(m.url, 'POST', '/roles', { token: admin, body: { name: 'scripts', capabilities: ['access_api'] } }));
  await must(api(m.url, 'POST', '/roles/scripts/assignments', { token: admin, body: { user: 'uma' } }));
  await must(api(m.url, 'POST', '/quotas', { token: admin, body: { name: 'lab-quota', maxRunning: 4, maxSubmitted: 50 } }));
  await must(api(m.url, 'POST', '/quotas/lab-quota/assignments', { token: admin, body: { group: 'lab' } }));
  await must(api(m.url, 'POST', '/tokens', { token: tokens.uma, body: { name: 'nightly' } }));
  const { token: agentToken } = await must(api(m.url, 'POST', '/agent-tokens', { token: admin, body: { name: 'rack-1' } }));
  const agent = (suffix: string, body?: unknown, method = 'POST') => must(api(m.url, method, `/agents/sim-1${suffix}`, { token: agentToken, ...(body === undefined ? {} : { body }) }));
  await agent('/register', { executor: 'process', resources: { cpus: 4, memoryBytes: 2 ** 32, gpus: [] } });
  const tasks: number[] = [];
  for (const [i, owner] of (['uma', 'vic', 'uma'] as const).entries()) {
    const created = await must(api<Task>(m.url, 'POST', '/tasks', { token: tokens[owner], body: { kind: 'command', config: { entrypoint: ['echo', `hello ${i}`], ...(owner === 'uma' ? { group: 'lab' } : {}) } } }));
    tasks.push(created.id);
    const { actions } = await agent('/work?wait=5', undefined, 'GET');
    const { leaseId } = actions.find((a: { spec?: { taskId: number } }) => a.spec?.taskId === created.id).spec;
    await agent(`/tasks/${created.id}/ack`, { leaseId });
    await agent(`/tasks/${created.id}/state`, { leaseId, state: 'RUNNING' });
    const lines = Array.from({ length: 50 }, (_, n) => ({ stream: n % 7 === 0 ? 'stderr' : 'stdout', line: `task ${created.id} line ${n} \u00e9\u00e8 \u2603` }));
    await agent(`/tasks/${created.id}/logs`, { leaseId, offset: 0, lines });
    await agent(`/tasks/${created.id}/state`, { leaseId, state: i === 1 ? 'FAILED' : 'COMPLETED', exitCode: i === 1 ? 3 : 0 });
  }
  // A deleted task: its id is never handed out again, on either side of the copy.
  const deleted = await must(api<Task>(m.url, 'POST', '/tasks', { token: admin, body: { kind: 'command', config: { entrypoint: ['true'] } } }));
  await must(api(m.url, 'POST', `/tasks/${deleted.id}/kill`, { token: admin }));
  await must(api(m.url, 'DELETE', `/tasks/${deleted.id}`, { token: admin }));
  return { admin, tasks };
}

/** What a person sees of the installation, through the API: the same before and after a copy. */
async function observe(m: TestMaster, admin: string, tasks: number[]) {
  const get = async (path: string) => (await api(m.url, 'GET', path, { token: admin })).body;
  const strip = <T extends Record<string, unknown>>(item: T) => ({ ...item, lastUsedAt: undefined });
  return {
    users: (await get('/users?limit=500')).items,
    groups: await get('/groups/lab'),
    roles: (await get('/roles')).items ?? (await get('/roles')),
    quotas: await get('/quotas'),
    agentTokens: ((await get('/agent-tokens')).items as Array<Record<string, unknown>>).map(strip),
    tasks: await Promise.all(tasks.map((id) => get(`/tasks/${id}`))),
    logs: await Promise.all(tasks.map(async (id) => ((await get(`/tasks/${id}/logs?limit=500`)) as TaskLogPage).items)),
    audit: ((await get('/audit?limit=500')) as Page<AuditEntry>).items,
  };
}

if (onPostgres) {
  test('postgres: a column another master adds to sessions (a rolling upgrade) does not break the prepared session lookup of a running one', async (t) => {
    // Two connections (the least a pool has), each used by requests before and after the change.
    const m = await startTestMaster({ db: { pool_size: 2 } });
    t.teardown(() => m.stop());
    const admin = await loginToken(m.url, 'admin');
    const lookups = () => Promise.all(Array.from({ length: 6 }, () => api(m.url, 'GET', '/me', { token: admin })));
    t.deepEqual((await lookups()).map((a) => a.status), [200, 200, 200, 200, 200, 200]);
    await queryPostgres(m.dbUrl!, 'alter table sessions add column from_a_newer_master text');
    const after = await lookups();
    t.deepEqual(after.map((a) => a.status), [200, 200, 200, 200, 200, 200], JSON.stringify(after.map((a) => a.body)));
    t.is(after[0]!.body.user.username, 'admin');
  });

  test('db copy: a used SQLite installation moves to PostgreSQL whole: counts match, old passwords log in, logs and audit intact', async (t) => {
    const dir = tempDir();
    const file = path.join(dir, 'used.db');
    const used = await startTestMaster({ db: { path: file, url: undefined } }, dir);
    t.false(used.dbUrl !== undefined, 'a SQLite installation');
    const { admin, tasks } = await useInstallation(used);
    const before = await observe(used, admin, tasks);
    await used.master.close();

    const target = await createDatabase();
    t.teardown(() => dropDatabase(target.name));
    const copy = await yardMaster(['db', 'copy', '--from', file, '--to', target.url]);
    t.is(copy.code, 0, copy.stderr);
    t.regex(copy.stdout, /every table's rows match/);
    const source = new Database(file, { readonly: true });
    t.teardown(() => source.close());
    for (const table of ['users', 'groups', 'group_members', 'roles', 'role_assignments', 'quotas', 'quota_assignments', 'api_tokens', 'agent_tokens', 'agents', 'tasks', 'task_logs', 'audit_log', 'sessions', 'uid_ranges']) {
      const rows = (source.prepare(`select count(*) as n from ${table}`).get() as { n: number }).n;
      t.true(rows > 0, table);
      t.regex(copy.stdout, new RegExp(`^${table}\\s+${rows}$`, 'm'), table);
      const [copied] = await queryPostgres<{ n: string }>(target.url, `select count(*) as n from ${table}`);
      t.is(Number(copied!.n), rows, table);
    }

    const moved = await startTestMaster({ db: { url: target.url } });
    t.teardown(() => moved.stop());
    // The same sessions (stored hashed) still work, and the old passwords log in.
    t.deepEqual(await observe(moved, admin, tasks), before);
    for (const name of ['uma', 'vic']) t.is((await api(moved.url, 'POST', '/auth/login', { body: { username: name, password: 'secret-pw' } })).status, 200, name);
    t.is((await api(moved.url, 'POST', '/auth/login', { body: { username: 'uma', password: 'wrong' } })).status, 401);
    // Ids go on after the source's, the deleted task's included.
    const next = await api<Task>(moved.url, 'POST', '/tasks', { token: admin, body: { kind: 'command', config: { entrypoint: ['true'] } } });
    t.is(next.body.id, Math.max(...tasks) + 2);
  });

  test('db copy refuses a target that holds data, a source from an older version, and one database as both', async (t) => {
    const m = await startTestMaster();
    t.teardown(() => m.stop());
    await createUsers(m.url, ['wes']);
    const dir = tempDir();
    const file = path.join(dir, 'small.db');
    const small = await openDatabase({ path: file });
    await small.close();
    const full = await yardMaster(['db', 'copy', '--from', file, '--to', m.dbUrl!]);
    t.is(full.code, 1);
    t.regex(full.stderr, /^yard-master db: postgres:\/\/.* already holds data \(.*in users.*\): copy only into an empty database/m);
    t.notRegex(full.stderr, /at \w+ \(|\.js:\d+/, 'no stack trace');

    // The committed fixture itself: a copy only reads its source, and must leave every byte of it as it was.
    const old = path.join(ROOT, 'test', 'fixtures', 'release-0.1.0.db');
    const bytes = readFileSync(old);
    const empty = await createDatabase();
    t.teardown(() => dropDatabase(empty.name));
    const outdated = await yardMaster(['db', 'copy', '--from', old, '--to', empty.url]);
    t.is(outdated.code, 1);
    t.regex(outdated.stderr, /is from an older Trainyard \(it lacks migrations 0005-access-model, .*\): start this version's master on it once/);
    t.true(readFileSync(old).equals(bytes), 'the source is untouched');
    const same = await yardMaster(['db', 'copy', '--from', m.dbUrl!, '--to', m.dbUrl!]);
    t.is(same.code, 1);
    t.regex(same.stderr, /--from and --to name the same database/);
    t.is((await yardMaster(['db', 'copy', '--from', file])).code, 2, 'no --to');
  });

  test('db copy goes back too: PostgreSQL to a new SQLite file, whole', async (t) => {
    const m = await startTestMaster();
    const { admin, tasks } = await useInstallation(m);
    const before = await observe(m, admin, tasks);
    await m.master.close();
    const file = path.join(tempDir(), 'back.db');
    const copy = await yardMaster(['db', 'copy', '--from', m.dbUrl!, '--to', file]);
    t.is(copy.code, 0, copy.stderr);
    const back = await startTestMaster({ db: { path: file, url: undefined } });
    t.teardown(() => back.stop());
    t.is(back.dbUrl, undefined);
    t.deepEqual(await observe(back, admin, tasks), before);
  });

  test('db backup of a PostgreSQL store says to use pg_dump', async (t) => {
    const backup = await runProcess(process.execPath, [MASTER_BIN, 'db', 'backup', path.join(tempDir(), 'x.db'), '--from', pgUrl!]);
    t.is(backup.code, 1);
    t.regex(backup.stderr, /the store is PostgreSQL .*: back it up with pg_dump, e\.g\. pg_dump -Fc -f FILE/);
  });
} else {
  test('db backup of a master under load: the file opens, passes PRAGMA integrity_check and holds what was there before', async (t) => {
    const m = await startTestMaster();
    t.teardown(() => m.stop());
    const tokens = await createUsers(m.url, ['loader']);
    const submit = () => api(m.url, 'POST', '/tasks', { token: tokens.loader, body: { kind: 'command', config: { entrypoint: ['echo', 'x'.repeat(200)] } } });
    for (let i = 0; i < 200; i++) await submit();
    const before = (await m.master.database.db.selectFrom('tasks').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n;
    // Load while the backup runs: submissions and logins, each a write, from many clients at once.
    let loading = true;
    let written = 0;
    const load = Array.from({ length: 8 }, async () => {
      while (loading) {
        await submit();
        await api(m.url, 'POST', '/auth/login', { body: { username: 'loader', password: 'pw' } });
        written += 2;
      }
    });
    const file = path.join(tempDir(), 'backup.db');
    const backups = [];
    for (let i = 0; i < 3; i++) {
      const target = `${file}.${i}`;
      backups.push(await yardMaster(['db', 'backup', target, '--from', m.dbPath]));
      t.true(existsSync(target));
    }
    loading = false;
    await Promise.all(load);
    t.true(written > 0, 'the master was written to while it was backed up');
    for (const [i, backup] of backups.entries()) {
      t.is(backup.code, 0, backup.stderr);
      t.regex(backup.stdout, /^backed up .* \(\d+ bytes, integrity ok\)$/m);
      const copy = new Database(`${file}.${i}`, { readonly: true });
      t.is(copy.pragma('integrity_check', { simple: true }), 'ok');
      t.true((copy.prepare('select count(*) as n from tasks').get() as { n: number }).n >= Number(before));
      copy.close();
    }
    const again = await yardMaster(['db', 'backup', `${file}.0`, '--from', m.dbPath]);
    t.is(again.code, 1);
    t.regex(again.stderr, /already exists: name a new file/);
    // And a master starts on a backup as on the original.
    const restored = await startTestMaster({ db: { path: `${file}.0` } });
    t.teardown(() => restored.stop());
    t.is((await api(restored.url, 'POST', '/auth/login', { body: { username: 'loader', password: 'pw' } })).status, 200);
  });
}
