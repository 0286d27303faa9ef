// The login throttle's budget is the store's, not a master's (issue 23): its counters live in
// `login_failures`, so parallel guesses over a pool of connections are each counted once, a master
// restarted on the store still refuses, the window is the store's clock-free arithmetic over the
// master's (injected) clock, and with several masters (PostgreSQL) the master that takes over from
// a leader keeps what the old one counted. Elsewhere: operations.test.ts (20 parallel guesses, and
// how many passwords were checked), sessions.test.ts (per user and per address), tls-and-proxies
// (the address behind a trusted proxy), metrics.test.ts (the throttled outcome).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { api, type ApiResult } from './helpers/api.js';
import { waitFor } from './helpers/cluster.js';
import { dropDatabase, onPostgres, storeFor, TEST_STORE } from './helpers/store.js';
import { startTestMaster, type TestMaster } from './helpers/test-master.js';

const WINDOW_MS = 10 * 60_000;
const throttle = { login_throttle: { max_failures_per_user: 5, max_failures_per_address: 1000, window: '10m' } };

const guess = (m: TestMaster, username = 'admin') => api(m.url, 'POST', '/auth/login', { body: { username, password: 'guess' } });
const statuses = (answers: ApiResult[]) => answers.map((a) => a.status).sort().join(' ');
const count = (answers: ApiResult[], status: number) => answers.filter((a) => a.status === status).length;

/** A directory whose store outlives the masters started on it (dropped at the end). */
async function sharedStore(t: import('ava').ExecutionContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'yard-throttle-'));
  const store = await storeFor(dir);
  t.teardown(async () => {
    if (store) await dropDatabase(store.name);
    await rm(dir, { recursive: true, force: true });
  });
  return dir;
}

test(`${TEST_STORE}: 30 parallel guesses over a pool of 20 connections: exactly 5 counted and refused 401, 25 throttled; a restarted master still refuses`, async (t) => {
  const dir = await sharedStore(t);
  let m = await startTestMaster({ db: { pool_size: 20 }, security: throttle }, dir);
  let running = true;
  t.teardown(() => (running ? m.stop() : undefined));
  const answers = await Promise.all(Array.from({ length: 30 }, () => guess(m)));
  t.is(count(answers, 401), 5, statuses(answers));
  t.is(count(answers, 429), 25, statuses(answers));
  const counters = await m.master.database.db.selectFrom('login_failures').selectAll().where('key', '=', 'user:admin').execute();
  t.is(counters.length, 1);
  t.is(Number(counters[0]!.attempts), 5, 'refused attempts are not counted');

  // A restart hands no one a fresh budget: the count is the store's.
  running = false;
  await m.stop();
  m = await startTestMaster({ db: { pool_size: 20 }, security: throttle }, dir);
  running = true;
  const after = await guess(m);
  t.is(after.status, 429);
  t.is(after.body.error.code, 'TOO_MANY_REQUESTS');
  t.regex(after.body.error.message, /try again in \d+ seconds/);
  const retryAfter = Number(after.headers.get('retry-after'));
  t.true(retryAfter > 0 && retryAfter <= WINDOW_MS / 1000, `Retry-After ${retryAfter}`);
  // The right password too waits out the window.
  t.is((await api(m.url, 'POST', '/auth/login', { body: { username: 'admin', password: '' } })).status, 429);

  // Once the window has passed (the master's clock), the user may try again: a new window.
  m.clock.advance(WINDOW_MS + 1000);
  t.is((await guess(m)).status, 401);
  t.is((await api(m.url, 'POST', '/auth/login', { body: { username: 'admin', password: '' } })).status, 200);
  const left = await m.master.database.db.selectFrom('login_failures').selectAll().where('key', '=', 'user:admin').execute();
  t.deepEqual(left, [], 'the right password forgives the failures before it');
});

test(`${TEST_STORE}: guesses spread over many names from one address spend the address's budget, counted once each in parallel`, async (t) => {
  const dir = await sharedStore(t);
  const m = await startTestMaster({ db: { pool_size: 20 }, security: { login_throttle: { max_failures_per_user: 1000, max_failures_per_address: 7 } } }, dir);
  t.teardown(() => m.stop());
  const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => guess(m, `nobody${i}`)));
  t.is(count(answers, 401), 7, statuses(answers));
  t.is(count(answers, 429), 13, statuses(answers));
  const address = await m.master.database.db.selectFrom('login_failures').select('attempts').where('key', 'like', 'addr:%').execute();
  t.deepEqual(address.map((r) => Number(r.attempts)), [7]);
  // Names refused by the address's limit were not counted against those names either.
  const names = await m.master.database.db.selectFrom('login_failures').select('attempts').where('key', 'like', 'user:%').execute();
  t.is(names.length, 7);
});

if (onPostgres) {
  test('postgres: several masters share one budget: guesses at the leader, then at the master that took over from it', async (t) => {
    const dir = await sharedStore(t);
    const ha = { enabled: true, failover_timeout: '2s' };
    const stopped = new Set<TestMaster>();
    const stop = async (m: TestMaster) => {
      if (!stopped.has(m)) stopped.add(m), await m.stop();
    };
    const first = await startTestMaster({ ha, security: throttle }, dir);
    t.teardown(() => stop(first));
    const second = await startTestMaster({ ha, security: throttle }, dir);
    t.teardown(() => stop(second));
    const role = async (m: TestMaster) => ((await (await fetch(`${m.url}/readyz`)).json()) as { role?: string }).role;
    await waitFor('a leader', async () => (await role(first)) === 'leader' || (await role(second)) === 'leader', 30_000);
    const [leader, standby] = (await role(first)) === 'leader' ? [first, second] : [second, first];

    // Three of five at the leader, in parallel.
    const before = await Promise.all(Array.from({ length: 3 }, () => guess(leader)));
    t.is(count(before, 401), 3, statuses(before));
    t.is((await guess(standby)).status, 503, 'a standby answers no login');

    // The leader goes; the standby leads, and has two guesses left, not five.
    await stop(leader);
    await waitFor('the standby to lead', async () => (await role(standby)) === 'leader', 30_000);
    const after = await Promise.all(Array.from({ length: 6 }, () => guess(standby)));
    t.is(count(after, 401), 2, statuses(after));
    t.is(count(after, 429), 4, statuses(after));
  });
}
