// Runs inside Chromium's network namespace (test/helpers/browser.ts): listens on loopback ports
// there and carries each connection over a Unix socket to the test's relay outside, which dials
// the real server. Arguments: the file to create once listening, then HOST:PORT=SOCKET pairs.
import { writeFileSync } from 'node:fs';
import net from 'node:net';

const [ready, ...pairs] = process.argv.slice(2);
const parent = process.ppid;
// Chromium (this process's parent) is gone: so is the namespace's reason to exist.
setInterval(() => {
  if (process.ppid !== parent) process.exit(0);
}, 500).unref();
setInterval(() => undefined, 60_000);

const listening = pairs.map((pair) => {
  const at = pair.indexOf('=');
  const [host, port] = splitHostPort(pair.slice(0, at));
  const socketPath = pair.slice(at + 1);
  const hosts = host === 'localhost' ? ['127.0.0.1', '::1'] : [host];
  return Promise.all(
    hosts.map(
      (listenHost) =>
        new Promise((resolve, reject) => {
          const server = net.createServer((client) => {
            const upstream = net.connect(socketPath);
            client.pipe(upstream).pipe(client);
            const end = () => {
              client.destroy();
              upstream.destroy();
            };
            client.on('error', end);
            upstream.on('error', end);
            client.on('close', end);
            upstream.on('close', end);
          });
          server.once('error', (error) => (listenHost === '::1' ? resolve(undefined) : reject(error)));
          server.listen(Number(port), listenHost, () => resolve(undefined));
        }),
    ),
  );
});

Promise.all(listening).then(
  () => writeFileSync(ready, 'ready'),
  (error) => {
    console.error(`netns relay: ${error.message}`);
    process.exit(1);
  },
);

function splitHostPort(hostPort) {
  const at = hostPort.lastIndexOf(':');
  const host = hostPort.slice(0, at);
  return [host.startsWith('[') ? host.slice(1, -1) : host, hostPort.slice(at + 1)];
}
