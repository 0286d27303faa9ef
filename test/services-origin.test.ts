import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { WebSocket } from 'ws';
import type { ServiceStatus, Task } from '@trainyard/shared';
import { api, loginToken } from './helpers/api.js';
import { CHROMIUM, haveChromium, launchBrowser, type TestBrowser } from './helpers/browser.js';
import { ROOT, Terminal } from './helpers/cli.js';
import { createUsers } from './helpers/fixtures.js';
import { FAST_AGENTS, freePort, startAgent, tempDir, waitFor, type AgentProcess } from './helpers/cluster.js';
import { startTestMaster, type TestMaster } from './helpers/test-master.js';

// Tasks' services on an origin of their own, by default (issue 21: with the services origin off by
// default, a notebook's script could create an admin with the session of the admin who opened it):
// the master's origin sends /proxy/ on to it, it serves nothing else, and a notebook's scripts there
// cannot use the session of whoever opened it on the master's API. The real master in its default
// configuration (listen.services_port unset: port + 1, any free port next to port 0), a real agent
// (process executor: the origins are the master's business), the real CLI, and Chromium for what
// only a browser enforces, driving a page whose own script tries the attack.
const SERVER = path.join(ROOT, 'test', 'fixtures', 'web-service', 'server.mjs');

/**
 * A notebook's page whose own script, once loaded, tries what a hostile notebook would with the
 * session of whoever opened it: make `mallory` an admin through the API, on the origin it was
 * served from and on the master's (named in `?master=`), and read who is signed in. It shows what
 * each attempt got in `#result`.
 */
const ATTACK_SERVER = `
import http from 'node:http';
const page = \`<!doctype html><meta charset="utf-8"><title>a notebook</title><h1 id="service">a notebook</h1><pre id="result">running</pre>
<script>
(async () => {
  const params = new URLSearchParams(location.search);
  const master = params.get('master') || location.origin;
  if (params.get('toss')) {
    // Cookies are per host, not per port: a cookie for a narrower path is sent to the master first.
    document.cookie = 'yard_session=' + params.get('toss') + '; path=/api';
    document.getElementById('result').textContent = JSON.stringify({ tossed: true });
    return;
  }
  const body = JSON.stringify({ username: 'mallory', password: 'pw', admin: true });
  const send = (url, type) => fetch(url, { method: 'POST', credentials: 'include', headers: { 'content-type': type }, body })
    .then((r) => 'answered ' + r.status, (e) => 'blocked: ' + e.name);
  const result = {
    here: await send('/api/v1/users', 'application/json'),
    masterJson: await send(master + '/api/v1/users', 'application/json'),
    masterSimple: await send(master + '/api/v1/users', 'text/plain'),
    readMe: await fetch(master + '/api/v1/me', { credentials: 'include' }).then((r) => r.text(), (e) => 'blocked: ' + e.name),
  };
  document.getElementById('result').textContent = JSON.stringify(result);
})();
</script>\`;
http.createServer((req, res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page)).listen(Number(process.env.TRAINYARD_PORT), '127.0.0.1');
`;

interface Cluster {
  m: TestMaster;
  agent: AgentProcess;
  tokens: Record<string, string>;
  nora: Terminal;
  dir: string;
  stop(): Promise<void>;
}

/** A master (`config` beside the test's own), a process agent, and nora logged in with the CLI. */
async function cluster(name: string, config: Parameters<typeof startTestMaster>[0] = {}): Promise<Cluster> {
  const dir = tempDir(`yard-${name}-`);
  const m = await startTestMaster({ ...config, agents: { ...FAST_AGENTS, token_file: path.join(dir, 'agent.token') }, policy: { system: { ports: { allow: ['1024-65535'] } } } }, dir);
  const tokens = await createUsers(m.url, ['nora']);
  const agent = startAgent({ url: m.url, tokenFile: path.join(dir, 'agent.token') }, { name, executor: 'process' });
  await waitFor(`the agent to register\n${agent.output()}`, async () => {
    const agents = await api(m.url, 'GET', '/agents', { token: tokens.admin });
    return agents.body.items.some((a: { id: string; state: string }) => a.id === name && a.state === 'alive');
  });
  const nora = new Terminal(m.url);
  const login = await nora.run(['user', 'login', 'nora'], { env: { YARD_PASSWORD: 'pw' } });
  if (login.code !== 0) throw new Error(`login: ${login.stderr}`);
  return {
    m,
    agent,
    tokens,
    nora,
    dir,
    async stop() {
      // The agent leaves running tasks running (a restarted agent adopts them): end them first.
      const running = (await api<{ items: Task[] }>(m.url, 'GET', '/tasks?all=true', { token: tokens.admin })).body.items.filter((task) => task.state === 'RUNNING');
      for (const task of running) await api(m.url, 'POST', `/tasks/${task.id}/kill`, { token: tokens.admin });
      for (const task of running) {
        await waitFor('the notebook to end', async () => (await api(m.url, 'GET', `/tasks/${task.id}`, { token: tokens.admin })).body.state === 'KILLED').catch(() => undefined);
      }
      await agent.kill('SIGTERM');
      await m.stop();
    },
  };
}

/** Starts a notebook running `script` (a file in the cluster's dir) as nora; its id and what the CLI printed. */
async function startNotebook(c: Cluster, entrypoint: string[]): Promise<{ id: number; stdout: string }> {
  const config = path.join(c.dir, `notebook-${Date.now()}.yaml`);
  writeFileSync(config, `entrypoint: ${JSON.stringify(entrypoint)}\nport: ${await freePort()}\n`);
  const started = await c.nora.run(['notebook', 'start', '-c', config, '--timeout', '120'], { timeoutMs: 150_000 });
  if (started.code !== 0) throw new Error(`notebook start failed (${started.code}): ${started.stderr}${started.stdout}\n${c.agent.output()}`);
  return { id: Number(/Created notebook (\d+)/.exec(started.stdout)?.[1]), stdout: started.stdout };
}

let c: Cluster;
let notebook: number;
let services: string;
let started: { id: number; stdout: string };

test.before(async () => {
  // The default configuration: nothing about services at all.
  c = await cluster('services-origin');
  started = await startNotebook(c, [process.execPath, SERVER]);
  notebook = started.id;
  const status = await c.nora.json<ServiceStatus>(['notebook', 'open', String(notebook), '--no-browser']);
  // Null: served on the master's own origin (what the tests below must show is not the default).
  services = status.origin ?? c.m.url;
});

test.after.always(async () => {
  await c?.stop();
});

test.serial('by default the CLI prints the services origin URL (the master\'s port + 1, any free one next to port 0); the master sends /proxy/ there (307) and the services origin serves nothing else', async (t) => {
  const { m, nora, tokens } = c;
  t.truthy(services, 'the service status names an origin of its own');
  t.not(new URL(services).port, new URL(m.url).port);
  t.regex(readFileSync(m.logFile, 'utf8'), new RegExp(`"services":"${services}"`), 'the master logs where the services are');
  const url = `${services}/proxy/${notebook}/`;
  t.true(started.stdout.includes(`notebook ${notebook} is ready: ${url}`), started.stdout);
  const status = await nora.json<ServiceStatus & { url: string }>(['notebook', 'open', String(notebook), '--no-browser']);
  t.like(status, { origin: services, path: `/proxy/${notebook}/`, url, ready: true });

  const bearer = { authorization: `Bearer ${tokens.nora}` };
  for (const method of ['GET', 'POST']) {
    const sent = await fetch(`${m.url}/proxy/${notebook}/tree?x=1`, { method, headers: bearer, redirect: 'manual' });
    t.is(sent.status, 307, `${method}: the master's origin never serves a task's content`);
    t.is(sent.headers.get('location'), `${services}/proxy/${notebook}/tree?x=1`);
  }
  const page = await fetch(`${services}/proxy/${notebook}/`, { headers: bearer });
  t.is(page.status, 200);
  t.regex(await page.text(), /yard test service/);

  for (const elsewhere of ['/api/v1/me', '/api/v1/users', '/', '/login', '/proxy/']) {
    const refused = await fetch(`${services}${elsewhere}`, { headers: bearer, redirect: 'manual' });
    t.is(refused.status, 404, elsewhere);
    const body = (await refused.json()) as { error: { code: string; message: string } };
    t.is(body.error.code, 'NOT_FOUND');
    t.is(body.error.message, `this origin serves only tasks' services (/proxy/<task id>/); Trainyard itself is at ${m.url}`);
  }
  // A page of the services origin opens its WebSockets there (Jupyter's kernels).
  const ws = new WebSocket(`${services.replace('http', 'ws')}/proxy/${notebook}/api/kernels/1/channels`, { headers: { ...bearer, origin: services } });
  const hello = await new Promise<string>((resolve, reject) => {
    ws.once('message', (data) => resolve(data.toString()));
    ws.once('error', reject);
  });
  t.regex(hello, /"type":"hello"/);
  ws.close();

  // Still only for the owner (and those allowed): the same check as on the master's origin.
  const other = await createUsers(m.url, ['olga']);
  t.is((await fetch(`${services}/proxy/${notebook}/`, { headers: { authorization: `Bearer ${other.olga}` } })).status, 403);
  const browserLike = await fetch(`${services}/proxy/${notebook}/tree`, { headers: { accept: 'text/html' }, redirect: 'manual' });
  t.is(browserLike.status, 302);
  t.is(browserLike.headers.get('location'), `${m.url}/login?redirect=${encodeURIComponent(`/proxy/${notebook}/tree`)}`);
});

test.serial("the API refuses what a notebook's script would send with the opener's cookie: a change from the services origin, read or written from there", async (t) => {
  const { m } = c;
  const login = await fetch(`${m.url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: m.url },
    body: JSON.stringify({ username: 'admin', password: '', cookie: true }),
  });
  const cookie = `yard_session=${/yard_session=([^;]*)/.exec(login.headers.get('set-cookie') ?? '')?.[1]}`;
  const planted = JSON.stringify({ username: 'mallory', password: 'pw', admin: true });
  // What the browser sends for a notebook's script: the admin's cookie (same host, so same site), the services Origin.
  for (const [type, status, reason] of [
    ['application/json', 403, /cross-site request refused/],
    // The kind of body a script may send cross-origin without asking first: never even read.
    ['text/plain', 415, /application\/json/],
  ] as const) {
    const refused = await fetch(`${m.url}/api/v1/users`, { method: 'POST', headers: { cookie, origin: services, 'content-type': type }, body: planted });
    t.is(refused.status, status, type);
    t.regex(((await refused.json()) as { error: { message: string } }).error.message, reason);
    t.is(refused.headers.get('access-control-allow-origin'), null, 'no CORS: a script could not read the answer either');
  }
  const onServices = await fetch(`${services}/api/v1/users`, { method: 'POST', headers: { cookie, origin: services, 'content-type': 'application/json' }, body: planted });
  t.is(onServices.status, 404, 'the services origin has no API');
  t.is((await api(m.url, 'GET', '/users/mallory', { token: c.tokens.admin })).status, 404, 'no user was made');
});

if (!haveChromium) {
  console.error(`\n!!! NO CHROMIUM at ${CHROMIUM}: the browser checks of the services origin do NOT run (npm test installs Debian's chromium where it can).\n`);
}
const inBrowser = haveChromium ? test.serial : test.skip;

/**
 * An admin signs in through the master's login page on the way to a notebook's page, which the
 * task serves through the proxy; the page's own script tries to make `mallory` an admin. What it
 * got, the console errors the page logged, and whether mallory exists.
 */
async function adminOpens(cl: Cluster, chrome: TestBrowser, origin: string, id: number) {
  const page = await (await chrome.browser.newContext()).newPage();
  await page.goto(`${origin}/proxy/${id}/?master=${encodeURIComponent(cl.m.url)}`);
  await page.waitForURL(/\/login\?redirect=/);
  const loginUrl = page.url();
  await page.getByLabel('Username').fill('admin');
  await page.getByRole('button', { name: /sign in/i }).click();
  await page.waitForURL((url) => url.pathname === `/proxy/${id}/`);
  await page.locator('#result', { hasNotText: 'running' }).waitFor();
  const result = JSON.parse((await page.locator('#result').textContent())!) as Record<string, string>;
  const mallory = await api(cl.m.url, 'GET', '/users/mallory', { token: cl.tokens.admin });
  return { page, loginUrl, result, mallory, errors: chrome.takeErrors() };
}

/** nora's notebook serving the attack page, and a browser that reaches `origins`. */
async function attackPage(t: import('ava').ExecutionContext, cl: Cluster, origins: string[]): Promise<{ id: number; chrome: TestBrowser }> {
  const attack = path.join(cl.dir, `attack-${Date.now()}.mjs`);
  writeFileSync(attack, ATTACK_SERVER);
  const { id } = await startNotebook(cl, [process.execPath, attack]);
  const chrome = await launchBrowser(origins);
  t.teardown(() => chrome.close());
  return { id, chrome };
}

inBrowser("in a browser, default config: a notebook's own script cannot act with the session of the admin who opens it", async (t) => {
  const { id, chrome } = await attackPage(t, c, [c.m.url, services]);
  // The admin follows a link to the notebook on the master's own origin: the master sends it on.
  const opened = await adminOpens(c, chrome, c.m.url, id);
  t.true(opened.loginUrl.startsWith(`${c.m.url}/login`));
  t.is(new URL(opened.page.url()).origin, services, 'the page runs on the services origin');
  t.is(opened.mallory.status, 404, `no user was made: ${JSON.stringify(opened.result)}`);
  t.deepEqual(opened.result, {
    here: 'answered 404',
    masterJson: 'blocked: TypeError',
    masterSimple: 'blocked: TypeError',
    readMe: 'blocked: TypeError',
  });
  // The only console errors are the browser's own refusals of the cross-origin requests (CORS, and the failed loads they make).
  t.true(opened.errors.length > 0 && opened.errors.every((e) => /blocked by CORS policy|Failed to load resource: net::ERR_FAILED$/.test(e)), opened.errors.join('\n'));

  // The same session works on the master's own pages (the cookie is the master's, not the service's).
  const own = await opened.page.context().newPage();
  await own.goto(`${c.m.url}/`);
  const me = await own.evaluate(async () => (await fetch('/api/v1/me', { credentials: 'include' })).json());
  t.is((me as { user?: { username: string } }).user?.username, 'admin', JSON.stringify(me));
  t.deepEqual(chrome.takeErrors(), []);
});

inBrowser('in a browser, what http.unsafe_services_on_master_origin risks: the same page creates an admin with the session of the admin who opens it', async (t) => {
  const unsafe = await cluster('services-unsafe', { http: { unsafe_services_on_master_origin: true } });
  t.teardown(() => unsafe.stop());
  const { id, chrome } = await attackPage(t, unsafe, [unsafe.m.url]);
  t.is((await unsafe.nora.json<ServiceStatus>(['notebook', 'open', String(id), '--no-browser'])).origin, null, 'served on the master\'s own origin');
  t.regex(readFileSync(unsafe.m.logFile, 'utf8'), /http\.unsafe_services_on_master_origin: tasks' services are served on the master's own origin/);
  const opened = await adminOpens(unsafe, chrome, unsafe.m.url, id);
  t.is(opened.result.here, 'answered 201', JSON.stringify(opened.result));
  t.is(opened.mallory.status, 200);
  t.true(opened.mallory.body.admin, 'mallory is an admin: this is the attack the services origin stops');
});

inBrowser("in a browser: a notebook's script cannot make the master take a session of its choosing (a yard_session cookie of its own, for a narrower path)", async (t) => {
  const { id, chrome } = await attackPage(t, c, [c.m.url, services]);
  const opened = await adminOpens(c, chrome, services, id);
  // nora's own session: with it planted, the admin's pages would act as nora (and show nora's data as the admin's).
  const noraSession = await loginToken(c.m.url, 'nora', 'pw');
  await opened.page.goto(`${services}/proxy/${id}/?toss=${encodeURIComponent(noraSession)}`);
  await opened.page.locator('#result', { hasText: 'tossed' }).waitFor();
  const own = await opened.page.context().newPage();
  await own.goto(`${c.m.url}/login`);
  const me = () => own.evaluate(async () => {
    const response = await fetch('/api/v1/me', { credentials: 'include' });
    return { status: response.status, body: (await response.json()) as { user?: { username: string }; error?: { code: string; message: string } } };
  });
  const first = await me();
  t.is(first.status, 400, JSON.stringify(first.body));
  t.is(first.body.error?.code, 'INVALID_INPUT');
  t.regex(first.body.error?.message ?? '', /2 yard_session cookies/);
  t.not(first.body.user?.username, 'nora', 'never as the planted session');
  // The master cleared the planted cookie as it refused it: the admin's own session goes on.
  const after = await me();
  t.is(after.status, 200);
  t.is(after.body.user?.username, 'admin');
  chrome.takeErrors();
});
