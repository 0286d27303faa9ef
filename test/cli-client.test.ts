import http from 'node:http';
import net from 'node:net';
import test from 'ava';
import { spawn as spawnPty } from 'node-pty';
import { API_VERSION } from '@trainyard/shared';
import { api } from './helpers/api.js';
import { ROOT, Terminal, terminalEnv, YARD, type RunResult } from './helpers/cli.js';
import { startTestMaster } from './helpers/test-master.js';

// A client that never hangs or crashes. The masters that misbehave here are tiny node:http servers:
// the peer of the thing under test (the CLI, run for real), answering what a stuck master or a
// master of another version would.

/** A server on 127.0.0.1 answering with `handle`; closed at the end of the test. */
async function fakeMaster(t: { teardown(fn: () => void): void }, handle: http.RequestListener): Promise<string> {
  const server = http.createServer(handle);
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket) => (sockets.add(socket), socket.on('close', () => sockets.delete(socket))));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

/** What a master of another version might answer: logins work, lists have another shape. */
const otherVersion = (versionHeaders: Record<string, string>, versionEndpoint: boolean): http.RequestListener => (req, res) => {
  const send = (status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json', ...versionHeaders });
    res.end(JSON.stringify(body));
  };
  if (req.url?.startsWith('/api/v1/auth/login')) return send(200, { token: 'yard_fake', user: { username: 'yard' } });
  if (req.url?.startsWith('/api/v1/version')) {
    return versionEndpoint ? send(200, { version: '9.1.0', apiVersion: 9 }) : send(404, { error: { code: 'NOT_FOUND', message: 'no such route' } });
  }
  // `tasks` instead of `items`, as a later API might call it.
  return send(200, { tasks: [{ id: 1 }], cursor: null });
};

const noStack = (t: { notRegex(s: string, r: RegExp, m?: string): void }, result: RunResult) => {
  t.notRegex(result.stderr + result.stdout, /\n\s+at \S+|TypeError|Cannot read properties/, 'no stack trace');
};

test('a master that accepts the connection and never answers: a clear error naming the master and the timeout, exit 1', async (t) => {
  const silent = await fakeMaster(t, () => undefined);
  const term = new Terminal(silent);
  const flag = await term.run(['task', 'list', '--request-timeout', '1s'], { timeoutMs: 30_000 });
  t.is(flag.code, 1);
  t.is(flag.stderr.trim(), `Error: the master at ${silent} accepted the request but did not answer within 1 s: is it overloaded or stuck? Allow longer with --request-timeout or YARD_REQUEST_TIMEOUT`);
  noStack(t, flag);
  const env = await term.run(['-m', silent, 'experiment', 'list', '--json'], { env: { YARD_REQUEST_TIMEOUT: '500ms' }, timeoutMs: 30_000 });
  t.is(env.code, 1);
  t.deepEqual(JSON.parse(env.stdout), {
    error: { code: 'TIMEOUT', message: `the master at ${silent} accepted the request but did not answer within 0.5 s: is it overloaded or stuck? Allow longer with --request-timeout or YARD_REQUEST_TIMEOUT` },
  });
  const bad = await term.run(['task', 'list', '--request-timeout', 'soon']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--request-timeout: 'soon' is not a duration such as 30s, 2m or 500ms/);
});

test('an answer of a shape yard does not understand names both versions, never a TypeError; a master of another API version is said once', async (t) => {
  const newer = await fakeMaster(t, otherVersion({ 'x-trainyard-version': '9.1.0', 'x-trainyard-api-version': '9' }, true));
  const result = await new Terminal(newer).run(['task', 'list']);
  t.is(result.code, 1);
  t.regex(result.stderr, new RegExp(`^Warning: this yard is 0\\.1\\.0 \\(API ${API_VERSION}\\) and the master at ${newer} is 9\\.1\\.0 \\(API 9\\): some answers may not be understood`, 'm'));
  t.regex(
    result.stderr,
    new RegExp(`^Error: the master at ${newer} answered GET /api/v1/tasks in a shape this yard \\(0\\.1\\.0, API ${API_VERSION}\\) does not understand; the master is 9\\.1\\.0 \\(API 9\\)$`, 'm'),
  );
  t.is(result.stderr.match(/^Warning: this yard/gm)?.length, 1, 'said once');
  noStack(t, result);

  // No version headers: yard asks GET /api/v1/version.
  const quiet = await fakeMaster(t, otherVersion({}, true));
  const asked = await new Terminal(quiet).run(['experiment', 'list', '--json']);
  t.is(asked.code, 1);
  t.regex(JSON.parse(asked.stdout).error.message, /in a shape this yard \(0\.1\.0, API 1\) does not understand; the master is 9\.1\.0 \(API 9\)$/);
  noStack(t, asked);

  // A master from before the version endpoint.
  const older = await fakeMaster(t, otherVersion({}, false));
  const old = await new Terminal(older).run(['task', 'list']);
  t.is(old.code, 1);
  t.regex(old.stderr, /does not understand; the master does not say its version \(it is older than GET \/api\/v1\/version, or not a Trainyard master\)/);
  noStack(t, old);
});

test('the real master: GET /api/v1/version needs no login and names the release and API version, as every answer\'s headers do; yard warns of nothing', async (t) => {
  const m = await startTestMaster();
  t.teardown(() => m.stop());
  const version = await api(m.url, 'GET', '/version');
  t.is(version.status, 200);
  t.deepEqual(Object.keys(version.body).sort(), ['apiVersion', 'version']);
  t.is(version.body.apiVersion, API_VERSION);
  t.regex(version.body.version, /^\d+\.\d+\.\d+/);
  const refused = await api(m.url, 'GET', '/users');
  t.is(refused.status, 401);
  t.is(refused.headers.get('x-trainyard-version'), version.body.version, 'errors carry it too');
  t.is(refused.headers.get('x-trainyard-api-version'), String(API_VERSION));
  const listed = await new Terminal(m.url).run(['task', 'list']);
  t.is(listed.code, 0, listed.stderr);
  t.is(listed.stderr, '', 'the same versions: nothing to say');
});

test('Ctrl-C at a password prompt exits 130 with no stack (a real terminal)', async (t) => {
  const term = new Terminal('http://127.0.0.1:1');
  for (const args of [['-u', 'admin', 'user', 'list'], ['user', 'login']]) {
    const pty = spawnPty(process.execPath, [YARD, ...args], { cols: 100, rows: 24, cwd: ROOT, env: terminalEnv(term) });
    let output = '';
    let sent = false;
    const exited = new Promise<number>((resolve) => pty.onExit(({ exitCode }) => resolve(exitCode)));
    pty.onData((data) => {
      output += data;
      // The prompt is up: Ctrl-C, as a person would press it.
      if (!sent && /Password for admin:|Username:/.test(output)) {
        sent = true;
        setTimeout(() => pty.write('\x03'), 100);
      }
    });
    const limit = setTimeout(() => pty.kill('SIGKILL'), 30_000);
    const code = await exited;
    clearTimeout(limit);
    t.true(sent, `${args.join(' ')}: the prompt appeared: ${output}`);
    t.is(code, 130, `${args.join(' ')}: ${output}`);
    t.notRegex(output, /ExitPromptError|force closed|\n\s+at \S+/, 'no stack, no internal error name');
  }
});
