// Runs inside Chromium's network namespace (test/helpers/browser.ts): listens on loopback ports
// there and carries each connection over a Unix socket to the test's relay outside, which dials
// the real server. Arguments: the file to create once listening, then HOST:PORT=SOCKET pairs.
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { pathToFileURL } from 'node:url';

/** Carries one connection both ways; either side's end or error ends both (the test's relay uses it too). */
export function splice(a, b) {
  a.pipe(b).pipe(a);
  const end = () => {
    a.destroy();
    b.destroy();
  };
  for (const side of [a, b]) {
    side.on('error', end);
    side.on('close', end);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) relay(process.argv.slice(2));

function relay([ready, ...pairs]) {
  const parent = process.ppid;
  // Chromium (this process's parent) is gone: so is the namespace's reason to exist.
  setInterval(() => {
    if (process.ppid !== parent) process.exit(0);
  }, 500);

  const listening = pairs.flatMap((pair) => {
    const at = pair.indexOf('=');
    const [host, port] = splitHostPort(pair.slice(0, at));
    const socketPath = pair.slice(at + 1);
    return (host === 'localhost' ? ['127.0.0.1', '::1'] : [host]).map(
      (listenHost) =>
        new Promise((resolve, reject) => {
          const server = net.createServer((client) => splice(client, net.connect(socketPath)));
          // A namespace without IPv6 has no ::1: localhost is 127.0.0.1 then.
          server.once('error', (error) => (listenHost === '::1' ? resolve(undefined) : reject(error)));
          server.listen(Number(port), listenHost, () => resolve(undefined));
        }),
    );
  });
  Promise.all(listening).then(
    () => writeFileSync(ready, 'ready'),
    (error) => {
      console.error(`netns relay: ${error.message}`);
      process.exit(1);
    },
  );
}

function splitHostPort(hostPort) {
  const at = hostPort.lastIndexOf(':');
  const host = hostPort.slice(0, at);
  return [host.startsWith('[') ? host.slice(1, -1) : host, hostPort.slice(at + 1)];
}
