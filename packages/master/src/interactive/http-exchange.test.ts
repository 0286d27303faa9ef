import net from 'node:net';
import { once } from 'node:events';
import test, { type ExecutionContext } from 'ava';
import { exchange, type AnswerSink } from './http-exchange.js';

/** A TCP server that answers the first request on each connection with `answer` (raw bytes), then does `after`. */
async function rawService(t: ExecutionContext, answer: string | Buffer, after: 'keep' | 'end' = 'keep') {
  const requests: string[] = [];
  const server = net.createServer((socket) => {
    socket.once('data', (data) => {
      requests.push(data.toString('latin1'));
      if (after === 'end') socket.end(answer);
      else socket.write(answer);
    });
    socket.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const socket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await once(socket, 'connect');
  t.teardown(() => {
    socket.destroy();
    server.close();
  });
  return { socket, requests };
}

/** Collects what the exchange hands on; `slow`: every piece of the body fills the sink for a moment. */
function collector(slow = false) {
  const got = { heads: [] as Array<{ status: number; message: string; headers: string[] }>, body: [] as Buffer[], ended: false };
  const sink: AnswerSink = {
    head: (status, message, headers) => void got.heads.push({ status, message, headers }),
    body: (chunk) => {
      got.body.push(Buffer.from(chunk));
      return slow ? new Promise((r) => setTimeout(r, 1)) : undefined;
    },
    end: () => void (got.ended = true),
  };
  return { got, sink };
}

const get = { method: 'GET', path: '/proxy/1/x', headers: { host: 'localhost' } };

test('an answer under a length: relayed, the connection fit for the next request; 1xx answers are skipped', async (t) => {
  const s = await rawService(t, 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\nhello');
  const { got, sink } = collector();
  const { reusable } = await exchange(s.socket, get, sink);
  t.true(reusable);
  t.is(got.heads.length, 1);
  t.is(got.heads[0]!.status, 200);
  t.deepEqual(got.heads[0]!.headers, ['Content-Length', '5', 'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2']);
  t.is(Buffer.concat(got.body).toString(), 'hello');
  t.true(got.ended);
  t.regex(s.requests[0]!, /^GET \/proxy\/1\/x HTTP\/1\.1\r\nhost: localhost\r\n\r\n$/);
});

test('chunks decoded; a slow sink pauses the stream and misses nothing', async (t) => {
  const big = Buffer.alloc(300_000, 'x');
  const answer = Buffer.concat([
    Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'),
    Buffer.from(`${big.length.toString(16)};ext=1\r\n`),
    big,
    Buffer.from('\r\n3\r\nend\r\n0\r\nTrailer: x\r\n\r\n'),
  ]);
  const s = await rawService(t, answer);
  const { got, sink } = collector(true);
  const { reusable } = await exchange(s.socket, get, sink);
  t.true(reusable);
  t.is(Buffer.concat(got.body).length, big.length + 3);
  t.is(Buffer.concat(got.body).subarray(-3).toString(), 'end');
});

test('not fit for another request: bytes past the answer, Connection: close, a body to the end of the connection', async (t) => {
  for (const [answer, after] of [
    ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n', 'keep'],
    ['HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n', 'keep'],
    ['HTTP/1.0 200 OK\r\n\r\nto the end', 'end'],
  ] as const) {
    const s = await rawService(t, answer, after);
    const { got, sink } = collector();
    const { reusable } = await exchange(s.socket, get, sink);
    t.false(reusable, answer);
    t.true(got.ended);
    t.is(got.heads.length, 1, 'one answer handed on, whatever follows it');
  }
});

test('HEAD: the head only, though it names a length', async (t) => {
  const s = await rawService(t, 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n');
  const { got, sink } = collector();
  const { reusable } = await exchange(s.socket, { ...get, method: 'HEAD' }, sink);
  t.true(reusable);
  t.is(got.body.length, 0);
  t.true(got.ended);
});

test('no answer, half an answer, or no HTTP: the exchange fails, saying so', async (t) => {
  const none = await rawService(t, '', 'end');
  await t.throwsAsync(exchange(none.socket, get, collector().sink), { message: /before its answer ended/ });
  const half = await rawService(t, 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345', 'end');
  const { got, sink } = collector();
  await t.throwsAsync(exchange(half.socket, get, sink), { message: /before its answer ended/ });
  t.is(got.heads.length, 1, 'the head had been handed on');
  t.false(got.ended);
  const ssh = await rawService(t, 'SSH-2.0-OpenSSH_9.6\r\n\r\n');
  await t.throwsAsync(exchange(ssh.socket, get, collector().sink), { message: /not HTTP\/1\.1/ });
});

test('an answer whose length could be read two ways never reaches the user: a length with chunks, two lengths, a length that is no number, a coding other than chunked', async (t) => {
  // Relayed, each would let a service put bytes of its choosing on the user's kept-alive
  // connection as the answer to their next request (the master re-frames the body it parsed).
  for (const [answer, reason] of [
    ['HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n', /both Content-Length and Transfer-Encoding/],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n5\r\nhello\r\n0\r\n\r\n', /both Content-Length and Transfer-Encoding/],
    ['HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello', /2 Content-Length headers/],
    ['HTTP/1.1 200 OK\r\nContent-Length: 5, 3\r\n\r\nhello', /Content-Length "5, 3" is not a number/],
    ['HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello', /Content-Length "\+5" is not a number/],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n', /Transfer-Encoding "gzip, chunked"/],
    ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n', /2 Transfer-Encoding headers/],
    ['HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nhello', /not HTTP\/1\.1/],
  ] as const) {
    const s = await rawService(t, answer);
    const { got, sink } = collector();
    await t.throwsAsync(exchange(s.socket, get, sink), { message: reason }, answer);
    t.is(got.heads.length, 0, `nothing was handed on: ${answer}`);
  }
});
