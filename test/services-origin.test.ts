import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { chromium } from 'playwright-core';
import { WebSocket } from 'ws';
import type { ServiceStatus } from '@trainyard/shared';
import { api } from './helpers/api.js';
import { ROOT, Terminal } from './helpers/cli.js';
import { createUsers } from './helpers/fixtures.js';
import { FAST_AGENTS, freePort, startAgent, tempDir, waitFor, type AgentProcess } from './helpers/cluster.js';
import { startTestMaster, type TestMaster } from './helpers/test-master.js';

// Tasks' services on an origin of their own (listen.services_port): the master's origin sends
// /proxy/ on to it, it serves nothing else, and a notebook's scripts there cannot use the session
// of whoever opened it on the master's API. The real master, a real agent (process executor: the
// origins are the master's business), the real CLI, and Chromium for what only a browser enforces.
const CHROMIUM = process.env.YARD_CHROMIUM ?? '/usr/bin/chromium';
const SERVER = path.join(ROOT, 'test', 'fixtures', 'web-service', 'server.mjs');

let m: TestMaster;
let agent: AgentProcess;
let tokens: Record<string, string>;
let nora: Terminal;
let notebook: number;
let services: string;
let started: { stdout: string; stderr: string };

test.before(async () => {
  const dir = tempDir('yard-services-origin-');
  const servicesPort = await freePort();
  services = `http://127.0.0.1:${servicesPort}`;
  m = await startTestMaster(
    {
      listen: { services_port: servicesPort },
      agents: { ...FAST_AGENTS, token_file: path.join(dir, 'agent.token') },
      policy: { system: { ports: { allow: ['1024-65535'] } } },
    },
    dir,
  );
  tokens = await createUsers(m.url, ['nora']);
  agent = startAgent({ url: m.url, tokenFile: path.join(dir, 'agent.token') }, { name: 'services-origin', executor: 'process' });
  await waitFor(`the agent to register\n${agent.output()}`, async () => {
    const agents = await api(m.url, 'GET', '/agents', { token: tokens.admin });
    return agents.body.items.some((a: { id: string; state: string }) => a.id === 'services-origin' && a.state === 'alive');
  });
  nora = new Terminal(m.url);
  const login = await nora.run(['user', 'login', 'nora'], { env: { YARD_PASSWORD: 'pw' } });
  if (login.code !== 0) throw new Error(`login: ${login.stderr}`);
  const config = path.join(dir, 'notebook.yaml');
  writeFileSync(config, `entrypoint: ["${process.execPath}", "${SERVER}"]\nport: ${await freePort()}\n`);
  started = await nora.run(['notebook', 'start', '-c', config, '--timeout', '120'], { timeoutMs: 150_000 });
  if (started.code !== 0) throw new Error(`notebook start failed (${started.code}): ${started.stderr}${started.stdout}\n${agent.output()}`);
  notebook = Number(/Created notebook (\d+)/.exec(started.stdout)?.[1]);
});

test.after.always(async () => {
  // The agent leaves running tasks running (a restarted agent adopts them): end the notebook first.
  if (notebook) {
    await api(m.url, 'POST', `/tasks/${notebook}/kill`, { token: tokens.admin });
    await waitFor('the notebook to end', async () => (await api(m.url, 'GET', `/tasks/${notebook}`, { token: tokens.admin })).body.state === 'KILLED').catch(() => undefined);
  }
  await agent?.kill('SIGTERM');
  await m?.stop();
});

test.serial('the CLI prints the services origin URL; the master sends /proxy/ there (307) and the services origin serves nothing else', async (t) => {
  const url = `${services}/proxy/${notebook}/`;
  t.true(started.stdout.includes(`notebook ${notebook} is ready: ${url}`), started.stdout);
  const status = await nora.json<ServiceStatus & { url: string }>(['notebook', 'open', String(notebook), '--no-browser']);
  t.like(status, { origin: services, path: `/proxy/${notebook}/`, url, ready: true });

  const bearer = { authorization: `Bearer ${tokens.nora}` };
  const sent = await fetch(`${m.url}/proxy/${notebook}/tree?x=1`, { headers: bearer, redirect: 'manual' });
  t.is(sent.status, 307);
  t.is(sent.headers.get('location'), `${services}/proxy/${notebook}/tree?x=1`);
  const page = await fetch(`${services}/proxy/${notebook}/`, { headers: bearer });
  t.is(page.status, 200);
  t.regex(await page.text(), /yard test service/);

  for (const elsewhere of ['/api/v1/me', '/', '/login', '/proxy/']) {
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

const BROWSER_TEST = "in a browser: the login page leads back to the services origin; a notebook's script there cannot use the viewer's session on the API";
if (!existsSync(CHROMIUM)) {
  console.error(`\n!!! NO CHROMIUM at ${CHROMIUM}: the browser checks of the services origin do NOT run (npm test installs Debian's chromium where it can).\n`);
  test.skip(BROWSER_TEST, () => {});
} else test.serial(BROWSER_TEST, async (t) => {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] });
  try {
    // An admin opens nora's notebook: signs in through the master's login page and comes back to it.
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${services}/proxy/${notebook}/tree`);
    await page.waitForURL(/\/login\?redirect=/);
    t.true(page.url().startsWith(`${m.url}/login`));
    await page.getByLabel('Username').fill('admin');
    await page.getByRole('button', { name: /sign in/i }).click();
    await page.waitForURL(`${services}/proxy/${notebook}/tree`);
    t.is(await page.locator('#service').textContent(), 'yard test service');

    // What the notebook's own scripts could try with the admin's session, from the services origin.
    const attempt = await page.evaluate(async (master) => {
      const read = await fetch(`${master}/api/v1/me`, { credentials: 'include' }).then(
        async (response) => `read ${response.status} ${await response.text()}`,
        (error: Error) => `blocked: ${error.name}`,
      );
      const write = await fetch(`${master}/api/v1/users`, {
        method: 'POST',
        credentials: 'include',
        headers: { 'content-type': 'text/plain' },
        body: JSON.stringify({ username: 'planted', password: 'pw', admin: true }),
      }).then(
        (response) => `wrote ${response.status}`,
        (error: Error) => `blocked: ${error.name}`,
      );
      return { read, write };
    }, m.url);
    t.is(attempt.read, 'blocked: TypeError', 'no CORS: the answer cannot be read');
    t.is(attempt.write, 'blocked: TypeError');
    t.is((await api(m.url, 'GET', '/users/planted', { token: tokens.admin })).status, 404, 'the master refused the foreign Origin: no user was made');

    // The same session works on the master's own pages (the cookie is the master's, not the service's).
    const own = await context.newPage();
    await own.goto(`${m.url}/`);
    const me = await own.evaluate(async () => (await fetch('/api/v1/me', { credentials: 'include' })).json());
    t.is((me as { user?: { username: string } }).user?.username, 'admin', JSON.stringify(me));
  } finally {
    await browser.close();
  }
});
