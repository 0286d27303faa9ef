import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import test from 'ava';
import { CHROMIUM, failOnConsoleErrors, haveChromium, launchBrowser } from './helpers/browser.js';
import { Terminal } from './helpers/cli.js';
import { FAST_AGENTS, startAgent, tempDir, waitFor } from './helpers/cluster.js';
import { createUsers } from './helpers/fixtures.js';
import { httpRequest, type RawResponse } from './helpers/raw-http.js';
import { startTestMaster } from './helpers/test-master.js';
import { makeSelfSignedCertificate } from './helpers/tls.js';

const dir = tempDir('yard-tls-');
const certificate = makeSelfSignedCertificate(dir);
// The CLI and the agent this file starts trust the test certificate as a user's would: through
// NODE_EXTRA_CA_CERTS, which Node reads at start (so it changes nothing in this process).
process.env.NODE_EXTRA_CA_CERTS = certificate.cert;

const cookieOf = (response: RawResponse) => (response.headers['set-cookie'] ?? []).find((c) => c.startsWith('yard_session='));

test('TLS end to end: the CLI and an agent work against https with the certificate in NODE_EXTRA_CA_CERTS', async (t) => {
  const masterDir = tempDir('yard-tls-master-');
  const m = await startTestMaster(
    { listen: { tls: { cert: certificate.cert, key: certificate.key } }, agents: { ...FAST_AGENTS, token_file: path.join(masterDir, 'agent.token') } },
    masterDir,
  );
  // Master.close() answers the killed agent's held long poll, so this file does not linger on its timer.
  t.teardown(() => m.stop());
  t.regex(m.url, /^https:\/\/127\.0\.0\.1:\d+$/);

  const term = new Terminal(m.url);
  const login = await term.run(['user', 'login', 'admin', '--password-stdin'], { input: '\n' });
  t.is(login.code, 0, login.stderr);
  t.regex((await term.run(['user', 'list'])).stdout, /^admin +yes/m);
  const untrusted = await term.run(['user', 'whoami'], { env: { NODE_EXTRA_CA_CERTS: undefined } });
  t.is(untrusted.code, 1);
  t.regex(untrusted.stderr, /^Error: the certificate of the master at https:\/\/127\.0\.0\.1:\d+ is not trusted here \(\w+\): .*NODE_EXTRA_CA_CERTS/m);

  const agent = startAgent({ url: m.url, tokenFile: path.join(masterDir, 'agent.token') }, { name: 'tls-agent', executor: 'process' });
  t.teardown(() => agent.kill('SIGKILL'));
  const run = await term.run(['command', 'run', '-f', '--', 'sh', '-c', 'echo over-tls'], { timeoutMs: 60_000 });
  t.is(run.code, 0, `${run.stderr}\n${agent.output()}`);
  t.regex(run.stdout, /^over-tls$/m);

  // Agents' routine requests are debug lines in the master's log; a person's are info.
  const lines = await waitFor('a heartbeat in the master log', () => {
    const parsed = readFileSync(m.logFile, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { msg: string; path?: string; level: number });
    return parsed.some((l) => l.path?.endsWith('/heartbeat')) && parsed;
  });
  const requests = lines.filter((l) => l.msg === 'request');
  const routine = requests.filter((l) => /\/agents\/tls-agent\/(heartbeat|work)$/.test(l.path!));
  const people = requests.filter((l) => l.path === '/api/v1/users');
  t.true(routine.length > 0 && people.length > 0);
  t.deepEqual([...new Set(routine.map((l) => l.level))], [20], 'debug');
  t.deepEqual([...new Set(people.map((l) => l.level))], [30], 'info');
});

/**
 * A TLS-terminating reverse proxy in front of `target.url` (read per request, so that a master
 * configured with the proxy's URL can be started after it), as nginx would be.
 */
async function startProxy(target: { url: string }, mode: 'forwarding' | 'bare'): Promise<{ url: string; close(): Promise<void> }> {
  const server = https.createServer({ cert: certificate.pem, key: readFileSync(certificate.key) }, (req, res) => {
    const upstream = new URL(target.url);
    const headers = { ...req.headers };
    if (mode === 'forwarding') {
      // nginx: proxy_set_header Host $host; X-Forwarded-For $proxy_add_x_forwarded_for; X-Forwarded-Proto $scheme.
      headers['x-forwarded-for'] = [req.headers['x-forwarded-for'], req.socket.remoteAddress].filter(Boolean).join(', ');
      headers['x-forwarded-proto'] = 'https';
      headers['x-forwarded-host'] = req.headers.host;
    } else {
      // The least a proxy does: the upstream's own Host, and nothing said about the client.
      headers.host = upstream.host;
    }
    const proxied = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers }, (answer) => {
      res.writeHead(answer.statusCode!, answer.headers);
      answer.pipe(res);
    });
    proxied.on('error', () => res.writeHead(502).end());
    req.pipe(proxied);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://localhost:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function webLogin(base: string, username: string) {
  return httpRequest(`${base}/api/v1/auth/login`, {
    method: 'POST',
    headers: { origin: base },
    body: { username, password: 'pw', cookie: true },
    ca: certificate.pem,
  });
}

test('behind a trusted TLS proxy the web login works, cookies are Secure, and cookie changes pass the cross-site check', async (t) => {
  const m = await startTestMaster({ http: { trust_proxy: ['127.0.0.1'] } });
  t.teardown(() => m.stop());
  await createUsers(m.url, ['alice']);
  const proxy = await startProxy(m, 'forwarding');
  t.teardown(() => proxy.close());

  const login = await webLogin(proxy.url, 'alice');
  t.is(login.status, 200, JSON.stringify(login.body));
  const cookie = cookieOf(login);
  t.regex(cookie ?? '', /; secure/i);
  t.regex(cookie ?? '', /; httponly/i);
  const session = cookie!.split(';')[0]!;
  const me = await httpRequest(`${proxy.url}/api/v1/me`, { headers: { cookie: session }, ca: certificate.pem });
  t.is(me.body.user.username, 'alice');
  const created = await httpRequest(`${proxy.url}/api/v1/tasks`, {
    method: 'POST',
    headers: { cookie: session, origin: proxy.url },
    body: { kind: 'command', config: { entrypoint: ['true'] } },
    ca: certificate.pem,
  });
  t.is(created.status, 201, JSON.stringify(created.body));

  // The same forwarded headers straight to the master, from an address it does not trust.
  const forged = await httpRequest(`${m.url}/api/v1/auth/login`, {
    method: 'POST',
    localAddress: '127.0.0.2',
    headers: { origin: proxy.url, 'x-forwarded-proto': 'https', 'x-forwarded-host': new URL(proxy.url).host },
    body: { username: 'alice', password: 'pw', cookie: true },
  });
  t.is(forged.status, 403, 'X-Forwarded-* from an untrusted peer are ignored');

  if (!haveChromium) {
    console.error(`\n!!! NO CHROMIUM at ${CHROMIUM}: the browser login through the proxy is NOT tested\n`);
    return;
  }
  const chrome = await launchBrowser([proxy.url]);
  t.teardown(() => chrome.close());
  const context = await chrome.browser.newContext({ baseURL: proxy.url, ignoreHTTPSErrors: true });
  const page = await context.newPage();
  await page.goto('/login');
  await page.getByLabel('Username').fill('alice');
  await page.getByLabel('Password').fill('pw');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/experiments$/);
  t.is(await page.getByLabel('User menu').innerText(), 'alice');
  const [browserCookie] = (await context.cookies()).filter((c) => c.name === 'yard_session');
  t.true(browserCookie?.secure, 'the browser holds a Secure cookie');
  failOnConsoleErrors(t, chrome);
});

test('behind a bare proxy, http.public_url makes the web login work and its cookies Secure', async (t) => {
  const target = { url: '' };
  const proxy = await startProxy(target, 'bare');
  t.teardown(() => proxy.close());
  const m = await startTestMaster({ http: { public_url: [proxy.url, 'https://yard.example.com'] } });
  t.teardown(() => m.stop());
  target.url = m.url;
  await createUsers(m.url, ['alice']);

  const login = await webLogin(proxy.url, 'alice');
  t.is(login.status, 200, JSON.stringify(login.body));
  t.regex(cookieOf(login) ?? '', /; secure/i);
  const elsewhere = await httpRequest(`${proxy.url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { origin: 'https://other.example' },
    body: { username: 'alice', password: 'pw', cookie: true },
    ca: certificate.pem,
  });
  t.is(elsewhere.status, 403);
  t.is(cookieOf(elsewhere), undefined);
});

test('the login throttle counts the client behind a trusted proxy, and believes X-Forwarded-For from no one else', async (t) => {
  const m = await startTestMaster({
    http: { trust_proxy: '127.0.0.1' },
    security: { login_throttle: { max_failures_per_address: 3, max_failures_per_user: 1000 } },
  });
  t.teardown(() => m.stop());
  // 127.0.0.1 is the trusted proxy; 127.0.0.2 is a client on this machine that is not one.
  const attempt = (from: string, client: string) =>
    httpRequest(`${m.url}/api/v1/auth/login`, {
      method: 'POST',
      localAddress: from,
      headers: { 'x-forwarded-for': client },
      body: { username: 'admin', password: 'wrong' },
    }).then((r) => r.status);

  for (let i = 0; i < 3; i++) t.is(await attempt('127.0.0.1', '203.0.113.7'), 401);
  t.is(await attempt('127.0.0.1', '203.0.113.7'), 429, 'the client behind the proxy is throttled');
  t.is(await attempt('127.0.0.1', '203.0.113.8'), 401, 'another client behind the same proxy is not');

  for (const client of ['198.51.100.1', '198.51.100.2', '198.51.100.3']) t.is(await attempt('127.0.0.2', client), 401);
  t.is(await attempt('127.0.0.2', '198.51.100.4'), 429, 'an untrusted peer is counted by its own address, whatever it forwards');
});
