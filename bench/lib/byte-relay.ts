// The ceiling for P9: a plain byte relay, what the master and the agent would be if they parsed
// nothing and checked nothing. Two chained relays stand for the proxy's two hops. Relays
// 127.0.0.1:<target> on a free port, prints the port, serves until killed.
import net from 'node:net';

const target = Number(process.argv[2]);
const server = net.createServer((client) => {
  const upstream = net.connect(target, '127.0.0.1');
  client.pipe(upstream).pipe(client);
  const end = () => {
    client.destroy();
    upstream.destroy();
  };
  for (const side of [client, upstream]) side.on('error', end).on('close', end);
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: (server.address() as net.AddressInfo).port })));
