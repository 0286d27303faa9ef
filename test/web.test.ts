import { mkdirSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import test from 'ava';
import type { Page } from 'playwright-core';
import type { Task } from '@trainyard/shared';
import { api, loginToken } from './helpers/api.js';
import { CHROMIUM, failOnConsoleErrors, haveChromium, launchBrowser, namespaceUnavailable, type TestBrowser } from './helpers/browser.js';
import { ROOT } from './helpers/cli.js';
import { createUsers } from './helpers/fixtures.js';
import { rawExchange } from './helpers/raw-http.js';
import { startTestMaster, type TestMaster } from './helpers/test-master.js';

const SCREENSHOTS = path.join(ROOT, 'test-results', 'screenshots');
const haveBrowser = haveChromium;
if (!haveBrowser) {
  console.error(`\n!!! NO CHROMIUM at ${CHROMIUM}: the browser tests of the web UI are NOT running (npm test installs Debian's chromium where it can).\n`);
}

let m: TestMaster;
let chrome: TestBrowser | undefined;

test.before(async () => {
  m = await startTestMaster();
  await createUsers(m.url, ['alice', 'bob', 'carol']);
  if (haveBrowser) chrome = await launchBrowser([m.url]);
  mkdirSync(SCREENSHOTS, { recursive: true });
});
// A page that logs a console error (its own CSP refusing something, a script error) fails its test.
test.afterEach((t) => failOnConsoleErrors(t, chrome));
test.after.always(async () => {
  await chrome?.close();
  await m?.stop();
});

const origin = () => m.url;
const cookieOf = (response: Response) => /yard_session=([^;]*)/.exec(response.headers.get('set-cookie') ?? '')?.[1];

async function cookieLogin(username: string, password = 'pw') {
  return fetch(`${m.url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: origin() },
    body: JSON.stringify({ username, password, cookie: true }),
  });
}

test.serial('browser sessions live in an HttpOnly SameSite=Strict cookie, and cross-site changes are refused', async (t) => {
  const login = await cookieLogin('alice');
  t.is(login.status, 200);
  const setCookie = login.headers.get('set-cookie') ?? '';
  t.regex(setCookie, /yard_session=yard_/);
  t.regex(setCookie, /httponly/i);
  t.regex(setCookie, /samesite=strict/i);
  const body = (await login.json()) as Record<string, unknown>;
  t.false('token' in body, 'the page never sees the token');
  const cookie = `yard_session=${cookieOf(login)}`;

  const me = await fetch(`${m.url}/api/v1/me`, { headers: { cookie } });
  t.is(((await me.json()) as { user: { username: string } }).user.username, 'alice');

  const task = { kind: 'command', config: { image: 'busybox:latest', entrypoint: ['true'] } };
  const crossSite = await fetch(`${m.url}/api/v1/tasks`, {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/json', origin: 'https://evil.example' },
    body: JSON.stringify(task),
  });
  t.is(crossSite.status, 403);
  t.regex(((await crossSite.json()) as { error: { message: string } }).error.message, /cross-site request refused/);
  const noOrigin = await fetch(`${m.url}/api/v1/tasks`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: JSON.stringify(task) });
  t.is(noOrigin.status, 403);
  const sameSite = await fetch(`${m.url}/api/v1/tasks`, {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/json', origin: origin() },
    body: JSON.stringify(task),
  });
  t.is(sameSite.status, 201);
  const evilLogin = await fetch(`${m.url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: 'https://evil.example' },
    body: JSON.stringify({ username: 'alice', password: 'pw', cookie: true }),
  });
  t.is(evilLogin.status, 403);

  const logout = await fetch(`${m.url}/api/v1/auth/logout`, { method: 'POST', headers: { cookie, origin: origin() } });
  t.is(logout.status, 204);
  t.regex(logout.headers.get('set-cookie') ?? '', /yard_session=;/);
  t.is((await fetch(`${m.url}/api/v1/me`, { headers: { cookie } })).status, 401);
});

test.serial('the master serves the UI for page paths and JSON errors for unknown API paths', async (t) => {
  const page = await fetch(`${m.url}/experiments/123`);
  t.is(page.status, 200);
  t.regex(page.headers.get('content-type') ?? '', /text\/html/);
  const html = await page.text();
  t.regex(html, /<div id="app">/);
  t.regex(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
  // The page's icon is a file of the site, which that policy allows (a data: icon was refused: a console error on every page).
  t.regex(html, /<link rel="icon" href="\/favicon\.svg"/);
  const icon = await fetch(`${m.url}/favicon.svg`);
  t.is(icon.status, 200);
  t.regex(icon.headers.get('content-type') ?? '', /image\/svg\+xml/);
  const missing = await fetch(`${m.url}/api/v1/nope`);
  t.is(missing.status, 404);
  t.is(((await missing.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');
});

test.serial("the proxy's login redirect names only a path of this site, as a browser resolves it", async (t) => {
  const exchange = (base: string, target: string) => {
    const { host } = new URL(base);
    return rawExchange(base, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nAccept: text/html\r\nConnection: close\r\n\r\n`);
  };
  // The master's origin sends /proxy/ paths on to the services origin, whose proxy sends browsers without a session to log in.
  const onMaster = await exchange(m.url, '/proxy/7/tree');
  t.is(onMaster.status, 307, onMaster.raw);
  const services = new URL(String(onMaster.headers.location)).origin;
  const location = async (target: string) => {
    const answer = await exchange(services, target);
    t.is(answer.status, 302, `${target}: ${answer.raw}`);
    return String(answer.headers.location);
  };
  t.is(await location('/proxy/7/tree?x=1'), `${m.url}/login?redirect=${encodeURIComponent('/proxy/7/tree?x=1')}`);
  for (const evil of ['/proxy/7/../..//evil.example', '/proxy/7/..\\..\\/evil.example', '/proxy/7/%2e%2e/%2e%2e//evil.example']) {
    t.is(await location(evil), `${m.url}/login`, `${evil}: no way back that leaves the site`);
  }
});

async function newPage(): Promise<Page> {
  const context = await chrome!.browser.newContext({ baseURL: m.url, viewport: { width: 1200, height: 720 } });
  return context.newPage();
}

async function signIn(page: Page, username: string, password = 'pw') {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

if (haveBrowser) {
  // Where it cannot be isolated, launchBrowser said so loudly; this check is then skipped.
  (namespaceUnavailable() ? test.skip : test.serial)('the browser has a network of its own: it reaches the master through the relay, and nothing else on this machine', async (t) => {
    t.true(chrome!.isolated);
    const elsewhere = http.createServer((_req, res) => res.end('not for the browser'));
    await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
    t.teardown(() => elsewhere.close());
    const page = await newPage();
    t.is((await page.goto('/login'))?.status(), 200);
    const { port } = elsewhere.address() as import('node:net').AddressInfo;
    const error = await page.goto(`http://127.0.0.1:${port}/`).then(() => 'loaded', (e: Error) => e.message);
    t.regex(error, /ERR_CONNECTION_REFUSED/, 'a server the test did not relay is not on the browser\'s loopback');
    await page.context().close();
  });

  test.serial('with yard deactivated, a page sends you to log in and back to where you were going; no open redirect', async (t) => {
    const admin = await loginToken(m.url, 'admin');
    t.is((await api(m.url, 'PATCH', '/users/yard', { token: admin, body: { active: false } })).status, 200);
    t.teardown(async () => void (await api(m.url, 'PATCH', '/users/yard', { token: admin, body: { active: true } })));

    const page = await newPage();
    await page.goto('/experiments/123');
    await page.waitForURL(/\/login\?redirect=%2Fexperiments%2F123$/);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'login.png') });
    await signIn(page, 'alice', 'wrong');
    await page.getByRole('alert').waitFor();
    t.regex(await page.getByRole('alert').innerText(), /invalid username or password/);
    await signIn(page, 'alice');
    await page.waitForURL(/\/experiments\/123$/);
    t.is(new URL(page.url()).pathname, '/experiments/123');
    await page.getByRole('alert').waitFor();
    t.regex(await page.getByRole('alert').innerText(), /task 123 does not exist/, 'API errors show in the page');

    // Each resolves, as a browser reads it, to another host: /.//x and /..//x to the path //x, /./\\x too
    // (a backslash is a slash in http URLs), /\t/x once the tab is dropped, %2e%2e is a dot segment.
    for (const evil of ['https://evil.example/x', '//evil.example/x', '/\\evil.example', '/.//evil.example', '/..//evil.example/x', '/./\\evil.example', '/\t/evil.example', '/%2e%2e//evil.example', '/proxy/1/../..//evil.example']) {
      const other = await newPage();
      await other.goto(`/login?redirect=${encodeURIComponent(evil)}`);
      await signIn(other, 'alice');
      // Signed in, the page goes on: to the experiments page, or off this site.
      await other.waitForURL((url) => url.origin !== m.url || url.pathname === '/experiments').catch(async (error: Error) => {
        throw new Error(`${evil}: signed in, the page stayed at ${other.url()} (${(await other.getByRole('alert').allInnerTexts()).join('; ')}): ${error.message}`);
      });
      t.is(new URL(other.url()).origin, m.url, `${evil} is not followed: the browser went to ${other.url()}`);
      t.is(new URL(other.url()).pathname, '/experiments', evil);
      await other.context().close();
    }
    await page.context().close();
  });

  test.serial('sign out ends the cookie session on the API; protected pages go back to the login page', async (t) => {
    const admin = await loginToken(m.url, 'admin');
    await api(m.url, 'PATCH', '/users/yard', { token: admin, body: { active: false } });
    t.teardown(async () => void (await api(m.url, 'PATCH', '/users/yard', { token: admin, body: { active: true } })));
    const page = await newPage();
    await page.goto('/login');
    await signIn(page, 'bob');
    await page.waitForURL(/\/experiments$/);
    const [cookie] = (await page.context().cookies()).filter((c) => c.name === 'yard_session');
    t.truthy(cookie);
    t.true(cookie!.httpOnly);
    t.is(cookie!.sameSite, 'Strict');
    await page.getByLabel('User menu').click();
    await page.screenshot({ path: path.join(SCREENSHOTS, 'user-menu.png') });
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/login/);
    t.is((await fetch(`${m.url}/api/v1/me`, { headers: { cookie: `yard_session=${cookie!.value}` } })).status, 401);
    await page.goto('/commands');
    await page.waitForURL(/\/login\?redirect=%2Fcommands$/);
    await page.context().close();
  });

  test.serial('"Show only mine" is checked by default; unchecking shows every user\'s tasks', async (t) => {
    const tokens = { alice: await loginToken(m.url, 'alice', 'pw'), bob: await loginToken(m.url, 'bob', 'pw') };
    const mk = (token: string, name: string) =>
      api(m.url, 'POST', '/tasks', { token, body: { kind: 'experiment', config: { name, image: 'busybox:latest', entrypoint: 'true' } } });
    await mk(tokens.alice, 'alice-exp');
    await mk(tokens.bob, 'bob-exp');
    const page = await newPage();
    await page.goto('/login');
    await signIn(page, 'alice');
    await page.waitForURL(/\/experiments$/);
    const box = page.getByLabel('Show only mine');
    t.true(await box.isChecked());
    await page.locator('table.tasks').waitFor();
    const owners = async () => page.locator('table.tasks tbody tr td:nth-child(2)').allInnerTexts();
    t.deepEqual([...new Set(await owners())], ['alice']);
    t.regex(await page.locator('table.tasks').innerText(), /alice-exp/);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'experiments-mine.png') });
    await box.uncheck();
    await page.locator('table.tasks tbody tr', { hasText: 'bob-exp' }).waitFor();
    t.deepEqual([...new Set(await owners())].sort(), ['alice', 'bob']);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'experiments-all.png') });

    // The detail page: state, identity, logs; the owner sees Kill and uses it.
    await page.locator('table.tasks tbody tr', { hasText: 'alice-exp' }).getByRole('link').click();
    await page.locator('.run-as').waitFor();
    t.regex(await page.locator('.run-as').innerText(), /root:root \(0:0\)/);
    t.is(await page.locator('.identity-sources').innerText(), 'uid: security.default_task, user: security.default_task, gid: security.default_task, group: security.default_task');
    t.is(await page.locator('.run-spec .image').innerText(), 'busybox:latest (pull: never)');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'task-detail.png') });
    await page.getByRole('button', { name: 'Kill' }).click();
    await page.locator('.task-state', { hasText: 'KILLED' }).waitFor();
    await page.context().close();
  });

  test.serial('a kill under way shows as KILLING with who asked, on the task page and in the list, until the agent reports it KILLED', async (t) => {
    const token = await loginToken(m.url, 'carol', 'pw');
    const created = await api<Task>(m.url, 'POST', '/tasks', { token, body: { kind: 'command', config: { name: 'carol-run', image: 'busybox:latest', entrypoint: ['sleep', '600'] } } });
    const id = created.body.id;
    // What an agent reports, through the master's own service (the one writer of task states): it runs.
    const tasks = m.master.services.tasks;
    const assigned = await tasks.transition(await tasks.require(id), 'assign', { agent_id: 'web-agent', lease_id: 'web-lease' });
    await tasks.transition(assigned, 'start');

    const page = await newPage();
    await page.goto('/login');
    await signIn(page, 'carol');
    await page.waitForURL(/\/experiments$/);
    await page.goto(`/commands/${id}`);
    await page.locator('.task-state', { hasText: 'RUNNING' }).waitFor();
    await page.getByRole('button', { name: 'Kill' }).click();
    // At once: the agent has not said anything yet, and the stored state is still RUNNING.
    await page.locator('.task-state', { hasText: 'KILLING' }).waitFor();
    t.regex(await page.locator('.task-state').innerText(), /^KILLING \(still RUNNING until its agent has stopped it\)$/);
    t.regex(await page.locator('.kill-request').innerText(), /^carol at \S/);
    t.is(await page.getByRole('button', { name: 'Kill' }).count(), 0, 'no second kill to offer');
    t.is((await tasks.require(id)).state, 'RUNNING');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'task-killing.png') });

    await page.goto('/commands');
    const row = page.locator(`tr[data-task-id="${id}"]`);
    await row.waitFor();
    t.regex(await row.locator('td.state').innerText(), /^KILLING \(by carol\)$/);

    await page.goto(`/commands/${id}`);
    await page.locator('.task-state', { hasText: 'KILLING' }).waitFor();
    await tasks.finishRun(await tasks.require(id), 'KILLED', { exitCode: 143 });
    // The page follows the task: the agent's report ends it KILLED; who asked stays.
    await page.locator('.task-state', { hasText: 'KILLED' }).waitFor();
    t.regex(await page.locator('.kill-request').innerText(), /^carol at /);
    await page.context().close();
  });

  test.serial('an admin creates and deactivates users on the users page; a non-admin gets neither the page nor the API', async (t) => {
    const page = await newPage();
    await page.goto('/login');
    await signIn(page, 'admin', '');
    await page.waitForURL(/\/experiments$/);
    await page.getByRole('link', { name: 'Users' }).click();
    await page.waitForURL(/\/users$/);
    await page.getByRole('button', { name: 'New user' }).click();
    const create = page.getByRole('form', { name: 'Create user' });
    await create.getByPlaceholder('new user name').fill('dave');
    await create.getByPlaceholder('password (optional)').fill('dave-pw');
    await create.getByRole('button', { name: 'Create user' }).click();
    await page.locator('tr[data-user="dave"]').waitFor();
    await page.locator('tr[data-user="carol"]').getByRole('button', { name: 'Deactivate' }).click();
    await page.locator('tr[data-user="carol"] td.active', { hasText: 'no' }).waitFor();
    await page.screenshot({ path: path.join(SCREENSHOTS, 'users.png') });
    const admin = await loginToken(m.url, 'admin');
    t.is((await api(m.url, 'GET', '/users/carol', { token: admin })).body.active, false);
    t.is((await api(m.url, 'POST', '/auth/login', { body: { username: 'dave', password: 'dave-pw' } })).status, 200);
    await page.context().close();

    const user = await newPage();
    await user.goto('/login');
    await signIn(user, 'bob');
    await user.waitForURL(/\/experiments$/);
    t.is(await user.getByRole('link', { name: 'Users' }).count(), 0, 'no Users tab');
    await user.goto('/users');
    await user.getByText('Managing users needs change_config.').waitFor();
    const status = await user.evaluate(async () => (await fetch('/api/v1/users', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'eve' }) })).status);
    t.is(status, 403);
    await user.context().close();
  });

  test.serial('change_config holders manage groups and roles in the UI; the users page shows them; the nav shows only what one may use', async (t) => {
    const page = await newPage();
    await page.goto('/login');
    await signIn(page, 'admin', '');
    await page.waitForURL(/\/experiments$/);
    for (const tab of ['Agents', 'Users', 'Groups', 'Roles']) t.is(await page.getByRole('link', { name: tab, exact: true }).count(), 1, tab);

    await page.getByRole('link', { name: 'Groups', exact: true }).click();
    for (const path of ['lab', 'lab/vision']) {
      await page.getByRole('button', { name: 'New group' }).click();
      const createGroup = page.getByRole('form', { name: 'Create group' });
      await createGroup.getByPlaceholder('group path, e.g. research/vision').fill(path);
      await createGroup.getByRole('button', { name: 'Create group' }).click();
      await page.locator(`tr[data-group="${path}"]`).waitFor();
    }
    await page.locator('tr[data-group="lab/vision"]').getByRole('link').click();
    await page.waitForURL(/\/groups\/lab\/vision$/);
    const addMember = page.getByRole('form', { name: 'Add member' });
    await addMember.getByPlaceholder('user name').fill('alice');
    await addMember.getByRole('button', { name: 'Add member' }).click();
    await page.locator('tr[data-member="alice"]').waitFor();
    await addMember.getByPlaceholder('user name').fill('nobody');
    await addMember.getByRole('button', { name: 'Add member' }).click();
    await page.getByRole('alert').waitFor();
    t.regex(await page.getByRole('alert').innerText(), /user 'nobody' does not exist/, "the master's reason shows");
    await page.screenshot({ path: path.join(SCREENSHOTS, 'group.png') });

    await page.getByRole('link', { name: 'Roles', exact: true }).click();
    await page.getByRole('button', { name: 'New role' }).click();
    const createRole = page.getByRole('form', { name: 'Create role' });
    await createRole.getByPlaceholder('role name').fill('watcher');
    await createRole.getByLabel('see_status').check();
    await createRole.getByRole('button', { name: 'Create role' }).click();
    await page.waitForURL(/\/roles\/watcher$/);
    t.is(await page.locator('.role-capabilities').innerText(), 'see_status');
    const assign = page.getByRole('form', { name: 'Assign role' });
    await assign.getByLabel('to a').selectOption('group');
    await assign.getByPlaceholder('user name or group path').fill('lab/vision');
    await assign.getByRole('button', { name: 'Assign' }).click();
    await page.locator('tr[data-holder="group lab/vision"]').waitFor();
    // A read-only role (see_status) may be given to a group scoped to itself: its members see its usage.
    await assign.getByPlaceholder('user name or group path').fill('lab/vision');
    await assign.getByPlaceholder(/^scope/).fill('lab/vision');
    await assign.getByRole('button', { name: 'Assign' }).click();
    await page.locator('tr[data-holder="group lab/vision"]', { hasText: 'scope lab/vision' }).waitFor();
    await assign.getByPlaceholder('user name or group path').fill('lab/vision');
    await assign.getByPlaceholder(/^scope/).fill('no/such');
    await assign.getByRole('button', { name: 'Assign' }).click();
    await page.getByRole('alert').waitFor();
    t.regex(await page.getByRole('alert').innerText(), /group 'no\/such' does not exist/);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'role.png') });

    await page.getByRole('link', { name: 'Users', exact: true }).click();
    const alice = page.locator('tr[data-user="alice"]');
    await alice.locator('td.groups', { hasText: 'lab/vision' }).waitFor();
    t.regex(await alice.locator('td.roles').innerText(), /user/);
    t.regex(await page.locator('tr[data-user="admin"] td.roles').innerText(), /admin/);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'users-roles.png') });
    await page.context().close();

    // alice holds see_status through lab/vision from her next request on: the Agents tab, nothing more.
    const user = await newPage();
    await user.goto('/login');
    await signIn(user, 'alice');
    await user.waitForURL(/\/experiments$/);
    t.is(await user.getByRole('link', { name: 'Agents', exact: true }).count(), 1);
    for (const tab of ['Users', 'Groups', 'Roles']) t.is(await user.getByRole('link', { name: tab, exact: true }).count(), 0, tab);
    await user.getByRole('link', { name: 'Agents', exact: true }).click();
    await user.getByText('No agents have registered.').waitFor();
    await user.context().close();

    const plain = await newPage();
    await plain.goto('/login');
    await signIn(plain, 'bob');
    await plain.waitForURL(/\/experiments$/);
    for (const tab of ['Agents', 'Users', 'Groups', 'Roles']) t.is(await plain.getByRole('link', { name: tab, exact: true }).count(), 0, tab);
    await plain.goto('/groups');
    await plain.getByRole('alert').waitFor();
    t.regex(await plain.getByRole('alert').innerText(), /bob may not list groups: that needs change_config/);
    await plain.context().close();
  });
}
