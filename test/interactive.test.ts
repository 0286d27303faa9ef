import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { spawn as spawnPty } from 'node-pty';
import { WebSocket } from 'ws';
import type { ServiceStatus, Task } from '@trainyard/shared';
import { api, loginToken } from './helpers/api.js';
import { CHROMIUM, failOnConsoleErrors, haveChromium, launchBrowser } from './helpers/browser.js';
import { ROOT, Terminal } from './helpers/cli.js';
import { createUsers } from './helpers/fixtures.js';
import { FAST_AGENTS, freePort, startAgent, tempDir, waitFor, type AgentProcess } from './helpers/cluster.js';
import { startTestMaster, type TestMaster } from './helpers/test-master.js';

// Notebooks and shells that open (issue 16): a real master, a real agent (Docker with the locally
// built web-service image where an engine answers, else the process executor running the same
// script), the real CLI; the service reports what it received.
const WEB_IMAGE = process.env.YARD_TEST_WEB_IMAGE;
const executor = WEB_IMAGE ? 'docker' : 'process';
if (!WEB_IMAGE) console.error('\n!!! NO WEB SERVICE IMAGE (YARD_TEST_WEB_IMAGE): the proxy and shell tests run on the process executor only.\n');
const SERVER = path.join(ROOT, 'test', 'fixtures', 'web-service', 'server.mjs');
const YARD = path.join(ROOT, 'packages', 'cli', 'bin', 'run.js');
const AGENT = `interactive-${executor}`;
const LINKED_UID = 2345;

let m: TestMaster;
let agent: AgentProcess;
let dir: string;
let tokens: Record<string, string>;
let nora: Terminal;
let notebook: number;
/** What `yard notebook start` printed. */
let startOutput: { stdout: string; stderr: string };
/** Where tasks' services are served: an origin of their own (listen.services_port, by default). */
let services: string;

test.before(async () => {
  dir = tempDir('yard-interactive-');
  // The process executor serves on this machine's loopback: a free port, not 8888, which another test may hold.
  const port = executor === 'docker' ? 8888 : await freePort();
  m = await startTestMaster(
    {
      // Lost only after 2 h (of the injected clock), so that the idle test can move the clock past tasks.idle_timeout at once.
      agents: { ...FAST_AGENTS, lost_timeout: '2h', token_file: path.join(dir, 'agent.token') },
      policy: { system: { ports: { allow: ['1024-65535'] } } },
      tasks: { idle_timeout: '1h' },
    },
    dir,
  );
  tokens = await createUsers(m.url, ['nora', 'olga']);
  await api(m.url, 'PUT', '/users/nora/agent-user', { token: tokens.admin, body: { uid: LINKED_UID, user: 'nora', gid: LINKED_UID + 1, group: 'nora' } });
  agent = startAgent({ url: m.url, tokenFile: path.join(dir, 'agent.token') }, { name: AGENT, executor });
  await waitFor(`the agent to register\n${agent.output()}`, async () => {
    const agents = await api(m.url, 'GET', '/agents', { token: tokens.admin });
    return agents.body.items.some((a: { id: string; state: string }) => a.id === AGENT && a.state === 'alive');
  });
  nora = new Terminal(m.url);
  const login = await nora.run(['user', 'login', 'nora'], { env: { YARD_PASSWORD: 'pw' } });
  if (login.code !== 0) throw new Error(`login: ${login.stderr}`);
  const config = path.join(dir, 'notebook.yaml');
  writeFileSync(
    config,
    executor === 'docker'
      ? `image: ${WEB_IMAGE}\nentrypoint: ["/bin/node", "/srv/server.mjs"]\nport: ${port}\n`
      : `entrypoint: ["${process.execPath}", "${SERVER}"]\nport: ${port}\n`,
  );
  writeFileSync(path.join(dir, 'shell.yaml'), executor === 'docker' ? `image: ${WEB_IMAGE}\nentrypoint: ["sleep", "3600"]\n` : 'entrypoint: ["sleep", "3600"]\n');
  const started = await nora.run(['notebook', 'start', '-c', config, '--timeout', '120'], { timeoutMs: 150_000 });
  if (started.code !== 0) throw new Error(`notebook start failed (${started.code}): ${started.stderr}${started.stdout}\n${agent.output()}`);
  notebook = Number(/Created notebook (\d+)/.exec(started.stdout)?.[1]);
  startOutput = started;
  const status = await nora.json<ServiceStatus>(['notebook', 'open', String(notebook), '--no-browser']);
  if (!status.origin) throw new Error('the services are on the master\'s own origin: listen.services_port should give them one by default');
  services = status.origin;
});

test.after.always(async () => {
  await agent?.kill('SIGTERM');
  if (executor === 'docker') {
    const left = execFileSync('docker', ['ps', '-aq', '--filter', `label=trainyard.agent=${AGENT}`], { encoding: 'utf8' }).split('\n').filter(Boolean);
    if (left.length > 0) execFileSync('docker', ['rm', '-f', ...left]);
  }
  await m?.stop();
});

const proxied = (id: number, rest = '') => `${services}/proxy/${id}/${rest}`;

test.serial('yard notebook start waits with progress lines until the service answers, then prints its URL; open prints it again', async (t) => {
  t.true(Number.isInteger(notebook) && notebook > 0);
  t.regex(startOutput.stderr, /waiting for (an agent|the service to answer)|starting/);
  t.true(startOutput.stdout.includes(`notebook ${notebook} is ready: ${proxied(notebook)}`), startOutput.stdout);
  const opened = await nora.run(['notebook', 'open', String(notebook), '--no-browser']);
  t.is(opened.code, 0, opened.stderr);
  t.is(opened.stdout.trim(), proxied(notebook));
  const status = await nora.json<ServiceStatus & { url: string }>(['notebook', 'open', String(notebook), '--no-browser']);
  t.true(status.ready);
  t.is(status.path, `/proxy/${notebook}/`);
  const described = await nora.json<Task & { service: ServiceStatus & { url: string } }>(['notebook', 'describe', String(notebook)]);
  t.like(described.service, { ready: true, url: proxied(notebook), port: described.runSpec.ports[0]!.container });
});

test.serial('a service that never answers: notebook start ends with a clear error after --timeout, non-zero; the task keeps running', async (t) => {
  const silent = path.join(dir, 'silent.yaml');
  writeFileSync(silent, executor === 'docker' ? `image: ${WEB_IMAGE}\nentrypoint: ["sleep", "3600"]\nport: 8888\n` : `entrypoint: ["sleep", "3600"]\nport: ${await freePort()}\n`);
  const result = await nora.run(['notebook', 'start', '-c', silent, '--timeout', '3'], { timeoutMs: 120_000 });
  t.is(result.code, 124, `a wait that timed out (timeout(1)'s status): ${result.stderr}`);
  const id = Number(/Created notebook (\d+)/.exec(result.stdout)?.[1]);
  t.regex(result.stderr, new RegExp(`^Error: notebook ${id} did not answer within 3 s \\(\\w+: .*\\); it keeps running: see \`yard notebook logs ${id}\``, 'm'));
  t.is((await api(m.url, 'POST', `/tasks/${id}/kill`, { token: tokens.nora })).status, 200);
});

test.serial('through /proxy/<id>/ the owner gets the page, and the service never sees the Trainyard cookie or Authorization', async (t) => {
  const page = await fetch(proxied(notebook), { headers: { authorization: `Bearer ${tokens.nora}` } });
  t.is(page.status, 200);
  t.regex(await page.text(), /yard test service/);

  const echo = await fetch(proxied(notebook, 'echo?x=1'), { headers: { cookie: `theme=dark; yard_session=${tokens.nora}; _xsrf=abc` } });
  t.is(echo.status, 200);
  const seen = (await echo.json()) as { url: string; headers: Record<string, string> };
  t.is(seen.url, `/proxy/${notebook}/echo?x=1`, 'the service is served under its base URL, the path as it came');
  t.is(seen.headers.cookie, 'theme=dark; _xsrf=abc', "the service's own cookies stay, the session cookie is gone");
  t.false('authorization' in seen.headers);
  t.false(JSON.stringify(seen.headers).includes(tokens.nora!));
  // Nor may the service set the master's session cookie.
  const cookies = echo.headers.getSetCookie();
  t.true(cookies.some((c) => c.startsWith('service_cookie=kept')));
  t.false(cookies.some((c) => c.startsWith('yard_session=')));

  const viaBearer = (await (await fetch(proxied(notebook, 'echo'), { headers: { authorization: `Bearer ${tokens.nora}` } })).json()) as { headers: Record<string, string> };
  t.false('authorization' in viaBearer.headers);

  // Request bodies stream to the service (5 MB, never held whole).
  const body = Buffer.alloc(5_000_000, 7);
  const counted = await fetch(proxied(notebook, 'count'), { method: 'POST', body, headers: { authorization: `Bearer ${tokens.nora}` } });
  t.deepEqual(await counted.json(), { bytes: body.length });
});

test.serial('HTTP through the proxy as the service framed it (chunks, HEAD, 304, a body to the end of the connection, chunked uploads), on kept-alive connections; a broken answer is a 502 or a cut connection', async (t) => {
  const auth = { authorization: `Bearer ${tokens.nora}` };
  const chunked = await fetch(proxied(notebook, 'chunked'), { headers: auth });
  t.is(chunked.status, 200);
  t.is(await chunked.text(), 'one,two,three');

  const head = await fetch(proxied(notebook, 'bytes?n=12345'), { method: 'HEAD', headers: auth });
  t.is(head.status, 200);
  t.is(head.headers.get('content-length'), '12345', 'HEAD: the length of the body GET would have, and no body');
  t.is(await head.text(), '');

  const notModified = await fetch(proxied(notebook, 'not-modified'), { headers: auth });
  t.is(notModified.status, 304);
  t.is(notModified.headers.get('etag'), '"v1"');

  const untilClose = await fetch(proxied(notebook, 'until-close'), { headers: auth });
  t.is(untilClose.status, 200);
  t.is(await untilClose.text(), 'the body ends where the connection does');

  // A chunked upload (no length): Node decodes it, the proxy chunks it again for the service.
  const parts = [Buffer.alloc(100_000, 1), Buffer.alloc(3, 2)];
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      const part = parts.shift();
      if (part) controller.enqueue(part);
      else controller.close();
    },
  });
  const upload = await fetch(proxied(notebook, 'count'), { method: 'POST', headers: auth, body: stream, duplex: 'half' } as RequestInit);
  t.deepEqual(await upload.json(), { bytes: 100_003 });

  // One request after another goes over one connection to the service (dialled back once), and
  // each of the service's cookies stays a header of its own.
  const connections: number[] = [];
  for (let i = 0; i < 3; i++) {
    const echo = await fetch(proxied(notebook, 'echo'), { headers: auth });
    t.deepEqual(
      echo.headers.getSetCookie().map((c) => c.split('=')[0]),
      ['service_cookie', 'second'],
    );
    connections.push(((await echo.json()) as { connection: number }).connection);
  }
  t.is(new Set(connections).size, 1, `the service saw connections ${connections.join(', ')}`);

  const notHttp = await fetch(proxied(notebook, 'not-http'), { headers: auth });
  t.is(notHttp.status, 502);
  const error = (await notHttp.json()) as { error: { code: string; message: string } };
  t.is(error.error.code, 'BAD_GATEWAY');
  t.regex(error.error.message, /not HTTP/);

  // The head went out before the service broke off: the user's connection is cut, so that the
  // truncated body cannot pass for the whole one.
  const truncated = await fetch(proxied(notebook, 'truncated'), { headers: auth });
  t.is(truncated.status, 200);
  await t.throwsAsync(truncated.text());
});

test.serial('a WebSocket through the proxy: round trip for the owner (cookie session), its upgrade stripped of the cookie; 403 for another user', async (t) => {
  const login = await fetch(`${m.url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: m.url },
    body: JSON.stringify({ username: 'nora', password: 'pw', cookie: true }),
  });
  const session = /yard_session=([^;]*)/.exec(login.headers.get('set-cookie') ?? '')?.[1];
  // As a page of the services origin opens it (Jupyter's kernels).
  const ws = new WebSocket(proxied(notebook, 'api/kernels/1/channels').replace('http', 'ws'), {
    headers: { cookie: `yard_session=${session}; kernel=k1`, origin: services },
  });
  const messages: string[] = [];
  ws.on('message', (data) => messages.push(data.toString()));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  await waitFor('the hello', () => messages.length >= 1);
  const hello = JSON.parse(messages[0]!) as { headers: Record<string, string> };
  t.is(hello.headers.cookie, 'kernel=k1');
  ws.send('ping through the tunnel');
  await waitFor('the echo', () => messages.length >= 2);
  t.is(messages[1], 'ping through the tunnel');
  ws.close();

  // Another user, and a page of another site using the owner's cookie.
  for (const [who, headers] of [
    ['olga', { authorization: `Bearer ${tokens.olga}` }],
    ['a foreign page', { cookie: `yard_session=${session}`, origin: 'https://evil.example' }],
  ] as const) {
    const status = await new Promise<number>((resolve, reject) => {
      const refused = new WebSocket(proxied(notebook).replace('http', 'ws'), { headers });
      refused.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      refused.once('open', () => reject(new Error(`${who} got through`)));
      refused.once('error', reject);
    });
    t.is(status, 403, who);
  }
});

test.serial('another user gets 403 in the error shape; no session: API clients 401, browsers go to the login page and back', async (t) => {
  const other = await fetch(proxied(notebook), { headers: { authorization: `Bearer ${tokens.olga}` } });
  t.is(other.status, 403);
  const body = (await other.json()) as { error: { code: string; message: string } };
  t.is(body.error.code, 'FORBIDDEN');
  t.regex(body.error.message, new RegExp(`olga may not open the service or a shell of task ${notebook}: it belongs to nora`));
  // An admin gets through.
  t.is((await fetch(proxied(notebook), { headers: { authorization: `Bearer ${tokens.admin}` } })).status, 200);

  const anonymous = await fetch(proxied(notebook, 'tree?x=1'));
  t.is(anonymous.status, 401);
  const browserLike = await fetch(proxied(notebook, 'tree?x=1'), { headers: { accept: 'text/html,*/*;q=0.8' }, redirect: 'manual' });
  t.is(browserLike.status, 302);
  t.is(browserLike.headers.get('location'), `${m.url}/login?redirect=${encodeURIComponent(`/proxy/${notebook}/tree?x=1`)}`, "the master's login page");
  // The master's own origin sends every /proxy/ path on to the services origin.
  const onMaster = await fetch(`${m.url}/proxy/${notebook}/tree?x=1`, { headers: { authorization: `Bearer ${tokens.nora}` }, redirect: 'manual' });
  t.is(onMaster.status, 307);
  t.is(onMaster.headers.get('location'), proxied(notebook, 'tree?x=1'));
  // The entry without the trailing slash leads to the service's base URL.
  const entry = await fetch(`${services}/proxy/${notebook}`, { headers: { authorization: `Bearer ${tokens.nora}` }, redirect: 'manual' });
  t.is(entry.status, 302);
  t.is(entry.headers.get('location'), `/proxy/${notebook}/`);

  if (!haveChromium) {
    console.error(`\n!!! NO CHROMIUM at ${CHROMIUM}: the browser round trip through the login page did NOT run\n`);
    return;
  }
  const chrome = await launchBrowser([m.url, services]);
  try {
    const page = await chrome.browser.newPage();
    await page.goto(proxied(notebook, 'tree'));
    await page.waitForURL(/\/login\?redirect=/);
    await page.getByLabel('Username').fill('nora');
    await page.getByLabel('Password').fill('pw');
    await page.getByRole('button', { name: /sign in/i }).click();
    await page.waitForURL(proxied(notebook, 'tree'));
    t.is(await page.locator('#service').textContent(), 'yard test service');
    // The web UI: an Open button on the notebook's row and on its page (once it answers), and its URL.
    await page.goto(`${m.url}/notebooks`);
    const rowOpen = page.locator(`tr[data-task-id="${notebook}"] a.button`, { hasText: 'Open' });
    await rowOpen.waitFor();
    t.is(await rowOpen.getAttribute('href'), `/proxy/${notebook}/`);
    await page.goto(`${m.url}/notebooks/${notebook}`);
    const pageOpen = page.locator('a.button', { hasText: 'Open' });
    await pageOpen.waitFor();
    t.is(await pageOpen.getAttribute('href'), proxied(notebook));
    t.is((await page.locator('.service-url').textContent())?.trim(), proxied(notebook));
    failOnConsoleErrors(t, chrome);
  } finally {
    await chrome.close();
  }
});

test.serial('the agent reaches the master only outbound: it listens on no port, and the container publishes none', async (t) => {
  const pid = agent.child.pid!;
  const sockets = new Set(
    readdirSync(`/proc/${pid}/fd`)
      .map((fd) => {
        try {
          return /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
        } catch {
          return undefined;
        }
      })
      .filter((inode): inode is string => inode !== undefined),
  );
  t.true(sockets.size > 0, 'the agent has its connections to the master');
  const listening = ['tcp', 'tcp6'].flatMap((table) =>
    readFileSync(`/proc/${pid}/net/${table}`, 'utf8')
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(/\s+/))
      // st 0A: LISTEN; field 9: the socket's inode.
      .filter((fields) => fields[3] === '0A' && sockets.has(fields[9]!)),
  );
  t.deepEqual(listening, [], 'no listening socket belongs to the agent');
  if (executor === 'docker') {
    const container = execFileSync('docker', ['ps', '-q', '--filter', `label=trainyard.task=${notebook}`, '--filter', `label=trainyard.agent=${AGENT}`], { encoding: 'utf8' }).trim();
    t.truthy(container);
    const inspected = JSON.parse(execFileSync('docker', ['inspect', container], { encoding: 'utf8' }))[0];
    t.deepEqual(inspected.HostConfig.PortBindings ?? {}, {});
    t.false(inspected.HostConfig.PublishAllPorts);
    t.true(Object.values(inspected.NetworkSettings.Ports ?? {}).every((bindings) => bindings === null), JSON.stringify(inspected.NetworkSettings.Ports));
  }
});

test.serial('yard shell open: a real terminal as the task uid (id -u), stty size follows a resize, exit 3 exits 3; -- CMD runs one command', async (t) => {
  const shell = await nora.json<Task>(['shell', 'start', '-c', path.join(dir, 'shell.yaml')]);
  await waitFor('the shell task to run', async () => (await api(m.url, 'GET', `/tasks/${shell.id}`, { token: tokens.nora })).body.state === 'RUNNING', 60_000);

  const oneCommand = await nora.run(['shell', 'open', String(shell.id), '--', 'id', '-u']);
  t.is(oneCommand.code, 0, oneCommand.stderr);
  t.is(oneCommand.stdout.trim(), String(LINKED_UID));
  const failing = await nora.run(['shell', 'open', String(shell.id), '--', 'sh', '-c', 'echo oops >&2; exit 7']);
  t.is(failing.code, 7);
  t.is(failing.stderr.trim(), 'oops');
  const refused = new Terminal(m.url);
  await refused.run(['user', 'login', 'olga'], { env: { YARD_PASSWORD: 'pw' } });
  const olga = await refused.run(['shell', 'open', String(shell.id), '--', 'id']);
  t.is(olga.code, 1);
  t.regex(olga.stderr, /^Error: olga may not open the service or a shell of task \d+/);

  const term = spawnPty(process.execPath, [YARD, 'shell', 'open', String(shell.id)], {
    cols: 80,
    rows: 24,
    cwd: ROOT,
    env: { ...process.env, HOME: nora.home, XDG_CONFIG_HOME: nora.configDir, YARD_MASTER: m.url, YARD_TOKEN_STORE: 'file', DEBUG: '' } as Record<string, string>,
  });
  let screen = '';
  term.onData((data) => (screen += data));
  const exited = new Promise<number>((resolve) => term.onExit(({ exitCode }) => resolve(exitCode)));
  const typed = async (line: string, expect: RegExp) => {
    const from = screen.length;
    term.write(`${line}\r`);
    return waitFor(`"${expect}" after ${line}`, () => expect.exec(screen.slice(from)), 30_000).catch((error: Error) => {
      throw new Error(`${error.message}; the screen:\n${screen}`);
    });
  };
  // The remote's answer, not the local echo of what was typed before the CLI took the terminal.
  await typed('echo READY', /[\r\n]READY\r*\n/);
  t.truthy(await typed('id -u', new RegExp(`[\\r\\n]${LINKED_UID}\\r*\\n`)));
  t.truthy(await typed('stty size', /[\r\n]24 80\r*\n/));
  term.resize(120, 40);
  t.truthy(await waitFor('the resize to arrive', async () => {
    const from = screen.length;
    term.write('stty size\r');
    await new Promise((resolve) => setTimeout(resolve, 300));
    return /[\r\n]40 120\r*\n/.test(screen.slice(from));
  }, 30_000));
  term.write('exit 3\r');
  t.is(await exited, 3);
  await api(m.url, 'POST', `/tasks/${shell.id}/kill`, { token: tokens.nora });
});

test.serial('after kill the service is gone: 410 through the proxy and for shells', async (t) => {
  await api(m.url, 'POST', `/tasks/${notebook}/kill`, { token: tokens.nora });
  await waitFor('the notebook to end', async () => (await api(m.url, 'GET', `/tasks/${notebook}`, { token: tokens.nora })).body.state === 'KILLED', 60_000);
  const gone = await fetch(proxied(notebook), { headers: { authorization: `Bearer ${tokens.nora}` } });
  t.is(gone.status, 410);
  t.is(((await gone.json()) as { error: { code: string } }).error.code, 'GONE');
  t.is((await fetch(proxied(999_999), { headers: { authorization: `Bearer ${tokens.nora}` } })).status, 404);
  const shell = await nora.run(['shell', 'open', String(notebook), '--', 'true']);
  t.is(shell.code, 1);
  t.regex(shell.stderr, /has ended \(KILLED\)/);
  const opened = await nora.run(['notebook', 'open', String(notebook), '--no-browser']);
  t.is(opened.code, 1);
});

test.serial('idle shutdown: a shell with no session for tasks.idle_timeout is stopped, KILLED with the reason (by the injected clock)', async (t) => {
  const shell = await nora.json<Task>(['shell', 'start', '-c', path.join(dir, 'shell.yaml')]);
  await waitFor('the shell task to run', async () => (await api(m.url, 'GET', `/tasks/${shell.id}`, { token: tokens.nora })).body.state === 'RUNNING', 60_000);
  m.clock.advance(61 * 60_000);
  const ended = await waitFor('the idle shell to be stopped', async () => {
    const task = (await api<Task>(m.url, 'GET', `/tasks/${shell.id}`, { token: tokens.nora })).body;
    return task.state === 'KILLED' && task;
  }, 60_000);
  t.regex(ended.message ?? '', /^idle for 1 hour \(no proxied traffic and no shell session; tasks.idle_timeout\)$/);
  const logs = (await api(m.url, 'GET', `/tasks/${shell.id}/logs`, { token: tokens.nora })).body;
  t.true(logs.items.some((l: { line: string }) => l.line.startsWith('[trainyard] stopping: idle for 1 hour')));
});
