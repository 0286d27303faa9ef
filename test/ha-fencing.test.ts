// The lease and its fencing, in process against a real PostgreSQL (issue 23): a leader whose database
// connection is blocked stops leading by its own clock before another master can take the lease; and
// a leader whose clock stalled (as a process frozen between its own check and its write would be)
// has its write refused by the database, by the fencing number, once another master took over.
// Each master is the real `Leadership` on its own connections; master A reaches PostgreSQL through a
// relay this test can hold, as a network would.
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import test from 'ava';
import pino from 'pino';
import { Leadership, openDatabase, type OpenedDatabase } from '@trainyard/master';
import { waitFor } from './helpers/cluster.js';
import { createDatabase, dropDatabase, onPostgres } from './helpers/store.js';

const FAILOVER_MS = 2000;
const quiet = pino({ level: 'silent' });

/** A TCP relay to PostgreSQL that can be held: bytes wait in it (both ways) until it is let go. */
async function relay(target: URL): Promise<{ url: string; hold(): void; release(): void; close(): void }> {
  let held = false;
  const waiting: Array<() => void> = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    sockets.add(client).add(upstream);
    const forward = (from: net.Socket, to: net.Socket) =>
      from.on('data', (chunk) => (held ? waiting.push(() => to.write(chunk)) : to.write(chunk)));
    forward(client, upstream);
    forward(upstream, client);
    const end = () => (client.destroy(), upstream.destroy());
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = new URL(target.href);
  url.port = String((server.address() as net.AddressInfo).port);
  return {
    url: url.toString(),
    hold: () => (held = true),
    release: () => {
      held = false;
      for (const send of waiting.splice(0)) send();
    },
    close: () => {
      server.close();
      for (const socket of sockets) socket.destroy();
    },
  };
}

if (!onPostgres) {
  test.skip('the lease and its fencing: run with YARD_TEST_DB=postgres (the PostgreSQL pass of npm test)', () => {});
} else {
  let name: string;
  let url: string;
  const opened: OpenedDatabase[] = [];
  const leaders: Leadership[] = [];

  test.before(async () => {
    ({ name, url } = await createDatabase('yard_fence'));
    // Migrated once, by a store of its own.
    opened.push(await openDatabase({ url }));
  });
  test.after.always(async () => {
    for (const leader of leaders) await leader.stop().catch(() => undefined);
    for (const db of opened) await db.close().catch(() => undefined);
    if (name) await dropDatabase(name);
  });

  async function master(where: string, now?: () => number) {
    const database = await openDatabase({ url: where }, { migrate: false, poolSize: 2 });
    opened.push(database);
    const leadership = new Leadership({ db: database.db, logger: quiet, failoverTimeoutMs: FAILOVER_MS, ...(now ? { now } : {}) });
    leaders.push(leadership);
    return { db: database.db, leadership };
  }

  test.serial('a leader cut off from the database stops leading before another can take the lease; its late renewal changes nothing', async (t) => {
    const link = await relay(new URL(url));
    t.teardown(() => link.close());
    const a = await master(link.url);
    const b = await master(url);
    let aLedWhenBWasElected: boolean | undefined;
    let aDeposedAt: number | undefined;
    let bElectedAt: number | undefined;
    // a's deposition is timed by its own clock; b's election by the database's lease.
    const deposed = new Promise<void>((resolve) => {
      void a.leadership.start('http://a', { elected: () => {}, deposed: () => ((aDeposedAt = performance.now()), resolve()) });
    });
    await waitFor('a to lead', () => a.leadership.isLeader());
    link.hold();
    await b.leadership.start('http://b', {
      elected: () => {
        bElectedAt = performance.now();
        aLedWhenBWasElected = a.leadership.isLeader();
      },
      deposed: () => {},
    });
    await waitFor('b to take the lease', () => b.leadership.isLeader(), 10_000);
    await deposed;
    t.false(aLedWhenBWasElected, 'a no longer led when b was elected');
    t.true(aDeposedAt! < bElectedAt!, 'a stopped before b began');
    t.is(b.leadership.status().fencing, 2);
    // The connection comes back: what a sent meanwhile (renewals) arrives late and changes nothing.
    link.release();
    await new Promise((resolve) => setTimeout(resolve, 500));
    t.true(b.leadership.isLeader());
    t.false(a.leadership.isLeader());
    t.is(a.leadership.leaderUrl(), 'http://b');
    await a.leadership.stop();
    await b.leadership.stop();
  });

  test.serial('a leader whose clock stalled writes nothing once another took over: the fencing number refuses it in the database', async (t) => {
    const link = await relay(new URL(url));
    t.teardown(() => link.close());
    // a's own clock stops (a process frozen between its check and its write): it believes it leads.
    let frozenAt: number | undefined;
    const clock = () => frozenAt ?? performance.now();
    const a = await master(link.url, clock);
    const b = await master(url);
    let deposedBecause: string | undefined;
    // The last test's masters handed the lease back: a takes it at once.
    await a.leadership.start('http://a', { elected: () => {}, deposed: (why) => (deposedBecause = why) });
    t.true(a.leadership.isLeader());
    frozenAt = performance.now();
    link.hold();
    await b.leadership.start('http://b', { elected: () => {}, deposed: () => {} });
    await waitFor('b to take the lease', () => b.leadership.isLeader(), 10_000);
    t.true(a.leadership.isLeader(), 'a, its clock stalled, still believes it leads');
    // a's dispatching write reaches the database (on a connection of its own: its renewal stays held in
    // the relay, so a has heard nothing): the transaction holds the lease's row first, and finds
    // another fencing number.
    const late = await openDatabase({ url }, { migrate: false, poolSize: 2 });
    opened.push(late);
    const write = late.db.transaction().execute(async (trx) => {
      await a.leadership.hold(trx);
      return 'written';
    });
    const refused = await t.throwsAsync(write);
    t.is((refused as { code?: string }).code, 'NOT_LEADER');
    t.regex(String(refused?.message), /the leader is http:\/\/b/);
    t.false(a.leadership.isLeader(), 'and it stepped down');
    t.regex(deposedBecause ?? '', /another master (took|holds) the lease/);
    // b's writes go through.
    await b.db.transaction().execute((trx) => b.leadership.hold(trx));
    link.release();
  });
}
