import net from 'node:net';
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import test from 'ava';
import { ServiceConnections } from './service-connections.js';

/** A TCP server that keeps every connection (and can close them); connections dialled to it count. */
async function service() {
  const accepted: net.Socket[] = [];
  const server = net.createServer((socket) => accepted.push(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  let dialled = 0;
  const dial = async (): Promise<Duplex> => {
    dialled++;
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    return socket;
  };
  return { accepted, dial, dialled: () => dialled, close: () => server.close() };
}

test('16 connections are lent at once; the 17th request waits for one to be given back, and gets it', async (t) => {
  const s = await service();
  const connections = new ServiceConnections(s.dial);
  const lent = await Promise.all(Array.from({ length: 16 }, () => connections.acquire()));
  let seventeenth: Duplex | undefined;
  const waiting = connections.acquire().then((stream) => (seventeenth = stream));
  await new Promise((r) => setTimeout(r, 50));
  t.is(seventeenth, undefined, 'no 17th connection while 16 are out');
  t.is(s.dialled(), 16);
  connections.release(lent[3]!, true);
  await waiting;
  t.is(seventeenth, lent[3], 'the one given back, kept alive');
  t.is(s.dialled(), 16, 'no new dial-back');
  connections.close();
  for (const stream of [...lent, seventeenth!]) stream.destroy();
  s.close();
});

test('a connection given back unfit is closed; an idle one the service closes is dropped; the next request dials anew', async (t) => {
  const s = await service();
  const connections = new ServiceConnections(s.dial);
  const first = await connections.acquire();
  connections.release(first, false);
  t.true(first.destroyed, 'closed when given back unfit');

  const second = await connections.acquire();
  t.is(s.dialled(), 2);
  connections.release(second, true);
  // The service ends the idle connection (its keep-alive timeout).
  await new Promise((r) => setTimeout(r, 20));
  s.accepted.at(-1)!.end();
  await once(second, 'close');
  const third = await connections.acquire();
  t.not(third, second);
  t.is(s.dialled(), 3);
  connections.release(third, true);

  // Closing the pool closes idle connections and refuses (and fails the waiters of) new requests.
  connections.close();
  await once(third, 'close');
  await t.throwsAsync(connections.acquire(), { message: 'the task ended' });
  s.close();
});

test('a dial-back that fails fails its request and frees its place', async (t) => {
  let fail = true;
  const s = await service();
  const connections = new ServiceConnections(() => (fail ? Promise.reject(new Error('agent gone')) : s.dial()));
  await t.throwsAsync(Promise.all(Array.from({ length: 20 }, () => connections.acquire())), { message: 'agent gone' });
  fail = false;
  const lent = await Promise.all(Array.from({ length: 16 }, () => connections.acquire()));
  t.is(lent.length, 16, 'all 16 places free again');
  connections.close();
  for (const stream of lent) stream.destroy();
  s.close();
});
