import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import test from 'ava';
import type { Page as BrowserPage } from 'playwright-core';
import type { Agent, Page, Task } from '@trainyard/shared';
import { api, loginToken } from './helpers/api.js';
import { CHROMIUM, failOnConsoleErrors, haveChromium, launchBrowser, type TestBrowser } from './helpers/browser.js';
import { ROOT } from './helpers/cli.js';
import { startAgent, tempDir, waitFor, type AgentProcess } from './helpers/cluster.js';
import { startTestMaster, type TestMaster } from './helpers/test-master.js';

/**
 * The web UI as a person uses it, in Chromium: every page at desktop and phone width, screenshots in
 * test-results/screenshots/, axe-core on each (no serious or critical violation), the overview's and
 * the usage page's charts drawn from live runs, the task list paged past 100 rows and filtered by state.
 */

const SCREENSHOTS = path.join(ROOT, 'test-results', 'screenshots');
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const HOUR = 3_600_000;
const VIEWPORTS = { desktop: { width: 1280, height: 860 }, phone: { width: 390, height: 844 } } as const;

if (!haveChromium) console.error(`\n!!! NO CHROMIUM at ${CHROMIUM}: the browser tests of the web UI are NOT running (npm test installs Debian's chromium where it can).\n`);

let m: TestMaster;
let chrome: TestBrowser | undefined;
let agent: AgentProcess | undefined;
let dir: string;
const tokens: Record<string, string> = {};
let ran: Task;

test.before(async () => {
  dir = tempDir('yard-web-ui-');
  mkdirSync(SCREENSHOTS, { recursive: true });
  // Agents lost only after a day of the master's clock: the test moves it by hours while a run goes on.
  m = await startTestMaster({ agents: { heartbeat_interval: '500ms', lost_timeout: '1d', lease_timeout: '1h', kill_grace: '2s', token_file: path.join(dir, 'agent.token') } }, dir);
  tokens.admin = await loginToken(m.url, 'admin');
  await api(m.url, 'POST', '/groups', { token: tokens.admin, body: { path: 'vision' } });
  for (const name of ['alice', 'bob']) {
    await api(m.url, 'POST', '/users', { token: tokens.admin, body: { username: name, password: 'pw' } });
    await api(m.url, 'POST', '/groups/vision/members', { token: tokens.admin, body: { username: name } });
    tokens[name] = await loginToken(m.url, name, 'pw');
  }
  if (!haveChromium) return;
  chrome = await launchBrowser([m.url]);
  agent = startAgent({ url: m.url, tokenFile: path.join(dir, 'agent.token') }, { name: 'web-agent', executor: 'process', fakeGpus: 4 });
  await waitFor('the agent to register', async () => {
    const agents = (await api<Page<Agent>>(m.url, 'GET', '/agents', { token: tokens.admin })).body.items;
    return agents.some((a) => a.state === 'alive');
  });
  // Live data: alice holds 2 GPUs for three hours of the master's clock, bob 1 GPU for one; both write some output.
  for (const [user, gpus, hours] of [['alice', 2, 3], ['bob', 1, 1]] as const) {
    const go = path.join(dir, `go-${user}`);
    const created = await api<Task>(m.url, 'POST', '/tasks', {
      token: tokens[user],
      body: {
        kind: 'experiment',
        config: {
          name: `train-${user}`,
          image: 'busybox:latest',
          entrypoint: ['sh', '-c', `echo epoch 1 loss 0.9; echo epoch 2 loss 0.5; echo warning: slow disk >&2; while [ ! -e ${go} ]; do sleep 0.05; done; echo done`],
          resources: { gpus, cpu: 1, memory: '1Gi' },
          group: 'vision',
        },
      },
    });
    if (created.status !== 201) throw new Error(JSON.stringify(created.body));
    await waitFor(`${user}'s run`, async () => (await api<Task>(m.url, 'GET', `/tasks/${created.body.id}`, { token: tokens.admin })).body.state === 'RUNNING');
    m.clock.advance(hours * HOUR);
    writeFileSync(go, '');
    ran = await waitFor(`${user}'s run to end`, async () => {
      const task = (await api<Task>(m.url, 'GET', `/tasks/${created.body.id}`, { token: tokens.admin })).body;
      return task.state === 'COMPLETED' ? task : undefined;
    });
  }
  // More queued tasks than a page holds (they ask more GPUs than any agent has: they wait).
  for (let i = 0; i < 120; i++) {
    const created = await api(m.url, 'POST', '/tasks', {
      token: tokens.bob,
      body: { kind: 'command', config: { name: `sweep-${String(i).padStart(3, '0')}`, image: 'busybox:latest', entrypoint: ['true'], resources: { gpus: 8 } } },
    });
    if (created.status !== 201) throw new Error(JSON.stringify(created.body));
  }
});
test.afterEach((t) => failOnConsoleErrors(t, chrome));
test.after.always(async () => {
  await chrome?.close();
  await agent?.kill('SIGKILL');
  await m?.stop();
});

async function signedIn(user: string, password: string, viewport: keyof typeof VIEWPORTS): Promise<BrowserPage> {
  const context = await chrome!.browser.newContext({ baseURL: m.url, viewport: VIEWPORTS[viewport] });
  const page = await context.newPage();
  await page.goto('/login');
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/experiments$/);
  return page;
}

/** axe-core in the page (evaluated over the DevTools protocol, which the page's CSP does not govern): serious and critical violations. */
async function axeViolations(page: BrowserPage): Promise<string[]> {
  await page.evaluate(AXE);
  const violations = await page.evaluate(async () => {
    const result = await (window as unknown as { axe: { run(context: Document, options: object): Promise<{ violations: Array<{ id: string; impact: string; help: string; nodes: Array<{ target: string[] }> }> }> } }).axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.impact} ${v.id}: ${v.help} (${v.targets.join('; ')})`);
}

/** Each page, as admin and at each width: it shows what `ready` waits for, a screenshot is taken, axe finds nothing serious. */
const PAGES: Array<{ name: string; path: string; ready: string; everyone?: boolean }> = [
  { name: 'overview', path: '/overview', ready: 'figure.chart-gpus[data-points]' },
  { name: 'usage', path: '/usage', ready: 'table.usage-report' },
  { name: 'experiments', path: '/experiments', ready: 'table.tasks', everyone: true },
  { name: 'commands', path: '/commands', ready: 'table.tasks', everyone: true },
  { name: 'task', path: '/experiments/1', ready: '.timeline-entry' },
  { name: 'notebooks-empty', path: '/notebooks', ready: 'p.empty' },
  { name: 'agents', path: '/agents', ready: 'table.agents' },
  // The process executor's agent holds no images: the page says so.
  { name: 'images', path: '/images', ready: 'p.imageless' },
  { name: 'quotas', path: '/quotas', ready: 'h1' },
  { name: 'users', path: '/users', ready: 'table.users' },
  { name: 'groups', path: '/groups', ready: 'table.groups' },
  { name: 'group', path: '/groups/vision', ready: 'tr[data-member="alice"]' },
  { name: 'roles', path: '/roles', ready: 'table.roles' },
  { name: 'role', path: '/roles/admin', ready: '.role-capabilities' },
  { name: 'my-quotas', path: '/account/usage', ready: 'h1' },
  { name: 'change-password', path: '/account/password', ready: 'form' },
  { name: 'not-found', path: '/no/such/page', ready: 'text=Page not found' },
];

if (haveChromium) {
  test.serial('every page at desktop and phone width: a screenshot each, and axe-core finds no serious or critical violation', async (t) => {
    const problems: string[] = [];
    for (const viewport of ['desktop', 'phone'] as const) {
      const login = await chrome!.browser.newContext({ baseURL: m.url, viewport: VIEWPORTS[viewport] });
      const loginPage = await login.newPage();
      await loginPage.goto('/login');
      await loginPage.getByLabel('Username').waitFor();
      await loginPage.screenshot({ path: path.join(SCREENSHOTS, `login-${viewport}.png`), fullPage: true });
      problems.push(...(await axeViolations(loginPage)).map((v) => `login (${viewport}): ${v}`));
      await login.close();

      const page = await signedIn('admin', '', viewport);
      for (const each of PAGES) {
        const response = await page.goto(each.path);
        t.is(response?.status(), each.name === 'not-found' ? 404 : 200, each.path);
        // The admin runs nothing: the lists show everyone's.
        if (each.everyone) await page.getByLabel('Show only mine').uncheck();
        await page.locator(each.ready).first().waitFor({ timeout: 15_000 });
        await page.screenshot({ path: path.join(SCREENSHOTS, `${each.name}-${viewport}.png`), fullPage: true });
        problems.push(...(await axeViolations(page)).map((v) => `${each.name} (${viewport}): ${v}`));
      }
      // A dialog open, as an admin sees it.
      await page.goto('/users');
      await page.getByRole('button', { name: 'New user' }).click();
      await page.getByRole('form', { name: 'Create user' }).waitFor();
      await page.screenshot({ path: path.join(SCREENSHOTS, `users-dialog-${viewport}.png`) });
      problems.push(...(await axeViolations(page)).map((v) => `users dialog (${viewport}): ${v}`));
      await page.context().close();
    }
    t.deepEqual(problems, [], problems.join('\n'));
  });

  test.serial('the overview and the usage page draw charts from the runs: data points for alice and bob, the table, the CSV', async (t) => {
    const page = await signedIn('admin', '', 'desktop');
    await page.goto('/overview');
    const gpus = page.locator('figure.chart-gpus');
    await gpus.locator('canvas').first().waitFor();
    t.true(Number(await gpus.getAttribute('data-points')) >= 2, 'GPUs allocated over the day: samples');
    t.is(await page.locator('.pool[data-pool="default"] [data-meter="GPUs"] .meter-text').innerText(), 'GPUs\n0 / 4');
    const users = page.locator('figure.chart-users');
    await users.locator('canvas').first().waitFor();
    t.deepEqual(await users.locator('.legend li').allInnerTexts(), ['alice', 'bob']);
    // The numbers the bars are drawn from (the chart's table): alice held 2 GPUs for 3 hours.
    const cells = await users.locator('table tbody td').allInnerTexts();
    t.true(cells.some((c) => Number(c) > 0), cells.join(' '));

    await page.goto('/usage');
    const chart = page.locator('figure.chart-gpu-hours');
    await chart.locator('canvas').first().waitFor();
    t.true(Number(await chart.getAttribute('data-points')) > 0);
    t.deepEqual(await chart.locator('.legend li').allInnerTexts(), ['alice', 'bob']);
    const hours = await chart.locator('table tbody tr').evaluateAll((rows) =>
      rows.map((row) => Array.from(row.querySelectorAll('td')).map((td) => Number(td.textContent))).reduce((sum, r) => [sum[0]! + r[0]!, sum[1]! + r[1]!], [0, 0]),
    );
    t.true(Math.abs(hours[0]! - 6) < 0.05 && Math.abs(hours[1]! - 1) < 0.05, `GPU-hours drawn: ${hours}`);
    t.regex(await page.locator('table.usage-report tr[data-key="alice"]').innerText(), /^alice\s+6\.00\s+3\.00\s+3\.00\s+1\s+1\s+0/);
    await page.getByLabel('By').selectOption('group');
    await page.locator('table.usage-report tr[data-key="vision"]').waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
    const csv = readFileSync((await download.path())!, 'utf8');
    t.regex(csv, /^group,since,until,tasks,runs,running,gpu_hours,cpu_hours,memory_gib_hours,wait_median_s,wait_p95_s\nvision,/);
    await page.getByLabel('Period').selectOption('custom');
    await page.getByLabel('From').waitFor();
    await page.screenshot({ path: path.join(SCREENSHOTS, 'usage-custom-period-desktop.png'), fullPage: true });

    // bob, without see_status, sees his own usage only.
    const bob = await signedIn('bob', 'pw', 'desktop');
    await bob.goto('/usage');
    await bob.locator('table.usage-report').waitFor();
    t.deepEqual(await bob.locator('table.usage-report tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-key'))), ['bob']);
    await page.context().close();
    await bob.context().close();
  });

  test.serial('the task list pages past 100 rows, filters by state and name, and sorts; the task page shows the timeline and searchable logs', async (t) => {
    const page = await signedIn('bob', 'pw', 'desktop');
    await page.goto('/commands');
    await page.locator('table.tasks').waitFor();
    await page.getByLabel('Per page').selectOption('50');
    const names = () => page.locator('table.tasks tbody td.name').allInnerTexts();
    await page.locator('.pager-status', { hasText: 'Rows 1–50' }).waitFor();
    t.is((await names())[0], 'sweep-119');
    // A slow answer (a loaded master): until page 2 arrives, page 1 stays labelled as page 1 and
    // Next waits for it, so that a second click cannot move on from page 1's cursor again.
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    await page.route(/\/api\/v1\/tasks\?/, async (route) => {
      await held;
      await route.continue();
    });
    await page.getByRole('button', { name: 'Next' }).click();
    await page.locator('nav.pager[aria-busy="true"]').waitFor();
    t.regex(await page.locator('.pager-status').innerText(), /^Rows 1–50$/);
    t.true(await page.getByRole('button', { name: 'Next' }).isDisabled());
    release();
    await page.unrouteAll({ behavior: 'wait' });
    await page.locator('.pager-status', { hasText: 'Rows 51–100' }).waitFor();
    t.is((await names())[0], 'sweep-069');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.locator('.pager-status', { hasText: 'Rows 101–120 (the last)' }).waitFor();
    t.deepEqual((await names()).slice(-2), ['sweep-001', 'sweep-000']);
    t.true(await page.getByRole('button', { name: 'Next' }).isDisabled());
    await page.screenshot({ path: path.join(SCREENSHOTS, 'commands-page-3-desktop.png'), fullPage: true });

    // State filters: none of these are running; all of them are queued.
    await page.getByRole('checkbox', { name: 'running' }).check();
    await page.getByText('No commands match.').waitFor();
    await page.getByRole('checkbox', { name: 'running' }).uncheck();
    await page.getByRole('checkbox', { name: 'queued' }).check();
    await page.locator('.pager-status', { hasText: 'Rows 1–50' }).waitFor();
    t.deepEqual([...new Set(await page.locator('table.tasks tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-state'))))], ['QUEUED']);
    await page.getByLabel('Filter').fill('sweep-00?');
    await page.locator('.pager-status', { hasText: 'Rows 1–10 (the last)' }).waitFor();
    await page.getByRole('button', { name: 'Name' }).click();
    t.is((await names())[0], 'sweep-000', 'sorted by name, ascending');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'commands-filtered-desktop.png'), fullPage: true });

    await page.goto(`/experiments/${ran.id}`);
    await page.locator('.timeline-entry[data-state="COMPLETED"]').waitFor();
    t.deepEqual(await page.locator('.timeline-entry[data-event="state"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-state'))), ['QUEUED', 'ASSIGNED', 'RUNNING', 'COMPLETED']);
    t.regex(await page.locator('.timeline-entry[data-state="RUNNING"]').innerText(), /for 1h 0m/);
    await page.locator('.log-line', { hasText: 'epoch 2 loss 0.5' }).waitFor();
    t.regex(await page.locator('.log-line', { hasText: 'epoch 1' }).innerText(), /^\d{1,2}:\d{2}:\d{2}/, 'lines carry their time');
    await page.getByLabel('Search').fill('loss');
    await page.getByText('2 of').waitFor();
    t.is(await page.locator('.log-line').count(), 2);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download' }).click()]);
    t.regex(readFileSync((await download.path())!, 'utf8'), /^\d{4}-\d\d-\d\dT[\d:.]+Z (stdout|system) .*\n[\s\S]*epoch 2 loss 0\.5/);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'task-logs-search-desktop.png'), fullPage: true });
    await page.context().close();
  });

  test.serial('at phone width the sections fold behind Menu and open from it; admin forms say what is wrong before sending', async (t) => {
    const page = await signedIn('admin', '', 'phone');
    const usage = page.getByRole('link', { name: 'Usage', exact: true });
    t.false(await usage.isVisible(), 'folded');
    await page.getByRole('button', { name: 'Menu' }).click();
    await usage.waitFor({ state: 'visible' });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'menu-open-phone.png') });
    await usage.click();
    await page.waitForURL(/\/usage$/);
    t.false(await page.getByRole('link', { name: 'Overview', exact: true }).isVisible(), 'the menu closes on navigation');
    // Nothing runs off the screen: the page is no wider than the phone.
    const wide = await page.evaluate(() =>
      Array.from(document.querySelectorAll('body *'))
        .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.table-wrap, .visually-hidden'))
        .map((e) => `${e.tagName.toLowerCase()}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`)
        .slice(0, 5),
    );
    t.deepEqual(wide, [], 'nothing runs off the screen at phone width');

    await page.goto('/users');
    await page.getByRole('button', { name: 'New user' }).click();
    const form = page.getByRole('form', { name: 'Create user' });
    await form.getByPlaceholder('new user name').fill('Not A Name');
    await form.getByRole('button', { name: 'Create user' }).click();
    await form.locator('.field-error').waitFor();
    t.regex(await form.locator('.field-error').innerText(), /1-64 of a-z/);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'users-dialog-invalid-phone.png') });
    t.is((await api(m.url, 'GET', '/users/not-a-name', { token: tokens.admin })).status, 404, 'nothing was sent');
    await page.context().close();
  });
}
