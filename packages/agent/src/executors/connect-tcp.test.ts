import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { Writable } from 'node:stream';
import test from 'ava';
import { connectTcp } from './connect-tcp.js';

// connectTcp reads into one buffer it reuses: what it hands on must still be every byte, in order,
// whether the writer takes them at once or slowly (its writes then still hold the buffer).
for (const slow of [false, true]) {
  test(`every byte arrives in order, the greeting sent before pipeTo included (${slow ? 'a slow' : 'a fast'} writer)`, async (t) => {
    const data = randomBytes(8_000_000);
    const server = net.createServer((socket) => {
      socket.write('greeting:');
      // The rest only once the greeting was surely read ahead of pipeTo.
      setTimeout(() => socket.end(data), 100);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.teardown(() => server.close());
    const connection = await connectTcp('127.0.0.1', (server.address() as net.AddressInfo).port);
    await new Promise((r) => setTimeout(r, 50));
    const hash = createHash('sha256');
    let length = 0;
    const dest = new Writable({
      highWaterMark: 16 * 1024,
      // A slow writer reads the bytes later, as a socket's pending write does.
      write(chunk: Buffer, _encoding, callback) {
        const take = () => {
          hash.update(chunk);
          length += chunk.length;
          callback();
        };
        if (slow) setTimeout(take, 1);
        else take();
      },
    });
    connection.pipeTo(dest);
    await once(dest, 'finish');
    t.is(length, 'greeting:'.length + data.length);
    t.is(hash.digest('hex'), createHash('sha256').update('greeting:').update(data).digest('hex'));
  });
}
