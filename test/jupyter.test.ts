import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { chromium, type Browser } from 'playwright-core';
import { api, loginToken } from './helpers/api.js';
import { ROOT, Terminal } from './helpers/cli.js';
import { createUsers } from './helpers/fixtures.js';
import { FAST_AGENTS, startAgent, tempDir, waitFor, type AgentProcess } from './helpers/cluster.js';
import { startTestMaster, type TestMaster } from './helpers/test-master.js';

// A real Jupyter (Debian's classic notebook server 6.4, no JupyterLab) in a Debian image whose
// WORKDIR (/) its user cannot write, started as a linked uid through the real CLI with the default
// notebook command: opened through the proxy in Chromium, a notebook created, a cell run that
// writes into a host directory the policy allows, the file the linked uid's on the host.
// scripts/jupyter-image.sh builds the image (npm test runs it: YARD_TEST_JUPYTER_IMAGE).
const IMAGE = process.env.YARD_TEST_JUPYTER_IMAGE;
const CHROMIUM = process.env.YARD_CHROMIUM ?? '/usr/bin/chromium';
const missing = [
  ...(IMAGE ? [] : ['no Jupyter image (YARD_TEST_JUPYTER_IMAGE; bash scripts/jupyter-image.sh builds it where a container engine, root and apt-get are)']),
  ...(existsSync(CHROMIUM) ? [] : [`no Chromium at ${CHROMIUM}`]),
];
if (missing.length > 0) console.error(`\n!!! THE REAL-JUPYTER TEST IS NOT RUNNING: ${missing.join('; ')}.\n`);

const UID = 2461;
const GID = 2462;
const AGENT = `jupyter-${process.pid}`;

let m: TestMaster;
let agent: AgentProcess;
let dir: string;
let browser: Browser | undefined;

if (missing.length === 0) {
  test.before(async () => {
    dir = tempDir('yard-jupyter-');
    const notebooks = path.join(dir, 'notebooks');
    mkdirSync(notebooks);
    chownSync(notebooks, UID, GID);
    m = await startTestMaster(
      {
        agents: { ...FAST_AGENTS, token_file: path.join(dir, 'agent.token') },
        policy: { system: { mounts: { available: [{ host_path: notebooks, container_path: '/data' }] } } },
      },
      dir,
    );
    const tokens = await createUsers(m.url, ['nora']);
    await api(m.url, 'PUT', '/users/nora/agent-user', { token: tokens.admin, body: { uid: UID, user: 'nora', gid: GID, group: 'nora' } });
    agent = startAgent({ url: m.url, tokenFile: path.join(dir, 'agent.token') }, { name: AGENT, executor: 'docker' });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking'] });
  });

  test.after.always(async () => {
    await browser?.close();
    await agent?.kill('SIGTERM');
    const left = execFileSync('docker', ['ps', '-aq', '--filter', `label=trainyard.agent=${AGENT}`], { encoding: 'utf8' }).split('\n').filter(Boolean);
    if (left.length > 0) execFileSync('docker', ['rm', '-f', ...left]);
    await m?.stop();
  });

  test('a linked uid runs the classic Jupyter notebook server with the default command: a notebook made and run through the proxy in Chromium writes a file that is the uid\'s on the host', async (t) => {
    t.timeout(8 * 60_000);
    const nora = new Terminal(m.url);
    t.is((await nora.run(['user', 'login', 'nora'], { env: { YARD_PASSWORD: 'pw' } })).code, 0);
    const config = path.join(dir, 'notebook.yaml');
    // An image and a mount: no entrypoint, no notebook directory, nothing about Jupyter.
    writeFileSync(config, `image: ${IMAGE}\nbind_mounts:\n  - {host_path: ${path.join(dir, 'notebooks')}, container_path: /data}\n`);
    const started = await nora.run(['notebook', 'start', '-c', config, '--timeout', '300'], { timeoutMs: 360_000 });
    const id = Number(/Created notebook (\d+)/.exec(started.stdout)?.[1]);
    const logs = async () => (await nora.run(['notebook', 'logs', String(id)])).stdout;
    t.is(started.code, 0, `${started.stderr}${started.stdout}\n${id ? await logs() : ''}\n${agent.output()}`);
    const url = /is ready: (\S+)/.exec(started.stdout)?.[1];
    t.truthy(url, started.stdout);
    t.regex(await logs(), /the image's working directory \/ is not writable for uid 2461: the task starts in its home, \/home\/nora/);

    const page = await browser!.newPage();
    const context = page.context();
    await page.goto(url!);
    // No session in this browser yet: the master's login page, then back.
    await page.waitForURL(/\/login\?redirect=/);
    await page.getByLabel('Username').fill('nora');
    await page.getByLabel('Password').fill('pw');
    await page.getByRole('button', { name: /sign in/i }).click();
    await page.waitForURL(/\/proxy\/\d+\/tree/, { timeout: 60_000 });

    // New > Python 3: the classic notebook opens it in a window of its own.
    await page.locator('#new-dropdown-button').click();
    const [notebook] = await Promise.all([context.waitForEvent('page'), page.locator('#new-menu a', { hasText: /Python 3/ }).first().click()]);
    await notebook.waitForURL(/\/notebooks\/Untitled\.ipynb/, { timeout: 60_000 });
    await notebook.locator('#kernel_indicator_icon.kernel_idle_icon').waitFor({ timeout: 120_000 });
    await notebook.locator('.cell .CodeMirror').first().click();
    await notebook.keyboard.type("import os; open('/data/from-the-notebook.txt', 'w').write('written by %d:%d' % (os.getuid(), os.getgid())); print('cwd', os.getcwd())");
    await notebook.keyboard.press('Shift+Enter');
    const output = notebook.locator('.output_area .output_text').first();
    await output.waitFor({ timeout: 60_000 });
    t.is((await output.textContent())?.trim(), 'cwd /home/nora', 'the kernel runs in the directory the server serves: the uid\'s HOME');
    await notebook.keyboard.press('Control+s');

    const written = path.join(dir, 'notebooks', 'from-the-notebook.txt');
    await waitFor('the file the cell wrote', () => existsSync(written), 30_000);
    t.is(readFileSync(written, 'utf8'), `written by ${UID}:${GID}`);
    t.like(statSync(written), { uid: UID, gid: GID });
    // The notebook itself was saved where the server serves (the uid's HOME): the contents API says so.
    const listed = await notebook.evaluate(async (base) => (await (await fetch(`${base}api/contents`)).json()) as { content: Array<{ name: string }> }, url!);
    t.true(listed.content.some((entry) => entry.name === 'Untitled.ipynb'), JSON.stringify(listed));
    await api(m.url, 'POST', `/tasks/${id}/kill`, { token: await loginToken(m.url, 'nora', 'pw') });
  });
} else {
  // Shown as skipped in the report, with why.
  test.skip(`a real Jupyter notebook through the proxy in Chromium: NOT RUN (${missing.join('; ')})`, () => undefined);
}
