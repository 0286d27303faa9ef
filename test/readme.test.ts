import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { parse, stringify } from 'yaml';
import { api, loginToken } from './helpers/api.js';
import { ROOT } from './helpers/cli.js';
import { freePort, waitFor } from './helpers/cluster.js';
import { runOnTerminal, tourBlocks, type StepResult, type TourBlock } from './helpers/readme-tour.js';

// The README's quick start and tour, block by block and command by command as printed, against a
// fresh cluster started as `npm start` starts it (scripts/start-cluster.mjs with the quick-start
// config, a real master process and a real agent): once with Docker (the quick-start image built
// from this machine's files, as npm start builds it) and once with the process executor. A block
// the test cannot run here carries a marker in README.md's source (helpers/readme-tour.ts).

const blocks = tourBlocks(readFileSync(path.join(ROOT, 'README.md'), 'utf8'));
const engine = spawnSync('docker', ['version', '--format', '{{.Server.Version}}'], { encoding: 'utf8', timeout: 15_000 });
const haveEngine = engine.status === 0;
const root = process.getuid?.() === 0;
if (!haveEngine) console.error('\n!!! NO CONTAINER ENGINE: the README tour is NOT run with the Docker executor (npm test starts one where it can).\n');
if (!root) console.error('\n!!! NOT ROOT: the README tour is NOT run with the process executor (its linked users need an agent running as root).\n');
for (const block of blocks.filter((b) => b.marker?.kind === 'skip')) {
  console.error(`[readme] README.md:${block.line} is not run here (its marker says: ${block.marker!.reason})`);
}

/** The uid the tour links alice to, and where its experiment writes its checkpoint. */
const ALICE_UID = 1234;
const CHECKPOINT = 'scratch/alice/mnist-like/checkpoint.json';

interface Cluster {
  url: string;
  dir: string;
  agent: string;
  output(): string;
  stop(): Promise<void>;
}

/**
 * `npm start`'s cluster in a directory of its own: its config is the quick start's with only the
 * places changed (database, token, scratch directory, ports), and the clone's examples/ and
 * node_modules/ appear in it, so that the tour's paths (`examples/...`, `scratch/...`, `npx yard`)
 * work there as in the clone.
 */
async function startCluster(executor: 'docker' | 'process'): Promise<Cluster> {
  const dir = mkdtempSync(path.join(os.tmpdir(), `yard-readme-${executor}-`));
  symlinkSync(path.join(ROOT, 'examples'), path.join(dir, 'examples'));
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  const quickstart = parse(readFileSync(path.join(ROOT, 'examples', 'quickstart.yaml'), 'utf8'));
  const mounts = quickstart.policy.system.mounts.default.map((m: { container_path: string }) => ({ ...m, host_path: './scratch' }));
  writeFileSync(
    path.join(dir, 'cluster.yaml'),
    stringify({
      extends: path.join(ROOT, 'examples', 'quickstart.yaml'),
      db: { path: './data/trainyard.db' },
      agents: { token_file: './data/agent.token' },
      // Tasks' services on a port of their own, free here (notebook URLs are what the CLI prints).
      listen: { services_port: await freePort() },
      policy: { system: { mounts: { default: mounts } } },
    }),
  );
  const port = await freePort();
  const agent = `readme-${executor}-${process.pid}`;
  const child = spawn(process.execPath, [path.join(ROOT, 'scripts', 'start-cluster.mjs')], {
    cwd: dir,
    env: {
      ...process.env,
      YARD_CONFIG: path.join(dir, 'cluster.yaml'),
      YARD_PORT: String(port),
      YARD_EXECUTOR: executor,
      YARD_AGENT_NAME: agent,
      YARD_AGENT_DIR: path.join(dir, 'agent-data'),
      YARD_AGENT_SHARED_ROOT: path.join(dir, 'shared'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const url = `http://127.0.0.1:${port}`;
  // The first start may build the quick-start image (and install busybox-static): minutes, once.
  const deadline = Date.now() + 300_000;
  while (!output.includes('registered with the master')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the cluster did not start (${child.exitCode ?? 'timed out'}):\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    url,
    dir,
    agent,
    output: () => output,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      if (executor === 'docker') {
        const left = spawnSync('docker', ['ps', '-aq', '--filter', `label=trainyard.agent=${agent}`], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
        if (left.length > 0) spawnSync('docker', ['rm', '-f', ...left]);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface TourRun {
  /** Each step's command and what it printed, in order. */
  ran: Array<{ block: TourBlock; command: string; result: StepResult }>;
  passwords: Map<string, string>;
}

async function runTour(t: ExecutionContext, cluster: Cluster, executor: 'docker' | 'process'): Promise<TourRun> {
  const home = path.join(cluster.dir, 'home');
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('YARD_') || key.startsWith('npm_')) delete env[key];
  Object.assign(env, {
    PATH: `${path.join(ROOT, 'node_modules', '.bin')}${path.delimiter}${process.env.PATH}`,
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, '.config'),
    YARD_MASTER: cluster.url,
    YARD_TOKEN_STORE: 'file',
    npm_config_update_notifier: 'false',
    TERM: 'xterm-256color',
  });
  const passwords = new Map([['admin', '']]);
  const ran: TourRun['ran'] = [];
  for (const block of blocks) {
    if (block.marker?.kind === 'skip') {
      t.log(`README.md:${block.line}: not run (${block.marker.reason})`);
      continue;
    }
    const mayFail = block.marker?.kind === 'process-executor-fails' && executor === 'process';
    let failures = 0;
    for (const step of block.steps) {
      const started = Date.now();
      const result = await runOnTerminal(step.command, { cwd: cluster.dir, env, passwords, timeoutMs: 180_000 });
      if (process.env.YARD_README_TIMES) console.error(`[readme ${executor}] ${Date.now() - started} ms  ${step.command.split('\n')[0]}`);
      ran.push({ block, command: step.command, result });
      const where = `README.md:${step.line} (${executor}): ${step.command}\n--- exit ${result.code}, output:\n${result.output}`;
      if (step.expectedError) {
        t.not(result.code, 0, `${where}\n--- should have failed`);
        t.true(squash(result.output).includes(squash(step.expectedError)), `${where}\n--- should print: ${step.expectedError}`);
      } else if (mayFail) {
        if (result.code !== 0) failures++;
      } else if (result.code !== 0) {
        t.fail(`${where}\n--- the cluster:\n${cluster.output().slice(-3000)}`);
        throw new Error(`the tour stopped at README.md:${step.line}`);
      }
    }
    if (mayFail) t.true(failures > 0, `README.md:${block.line}: marked process-executor-fails, but everything in it worked on the process executor: drop the marker`);
  }
  return { ran, passwords };
}

const squash = (text: string) => text.replace(/\s+/g, ' ').trim();

/** What the tour left: every task ended as the tour meant it to, the notebook answers, the checkpoint is alice's. */
async function checkOutcome(t: ExecutionContext, cluster: Cluster, tour: TourRun, executor: 'docker' | 'process') {
  const stepOutput = (pattern: RegExp) => tour.ran.find((r) => pattern.test(r.command))?.result.output ?? '';

  const training = stepOutput(/experiment create examples\/mnist-like\.yaml/);
  const epochs = [...training.matchAll(/^epoch (\d+)\/5 +loss (\d+\.\d+)/gm)];
  t.deepEqual(epochs.map((e) => Number(e[1])), [1, 2, 3, 4, 5], `the experiment prints its loss per epoch:\n${training}`);
  t.true(Number(epochs[4]?.[2]) < Number(epochs[0]?.[2]), 'and the loss goes down');
  const checkpoint = statSync(path.join(cluster.dir, CHECKPOINT));
  t.is(checkpoint.uid, ALICE_UID, `${CHECKPOINT} on the host belongs to alice's uid`);
  t.is(checkpoint.gid, ALICE_UID);
  t.is(JSON.parse(readFileSync(path.join(cluster.dir, CHECKPOINT), 'utf8')).epoch, 5);

  // The URL the CLI printed answers, for its owner.
  const url = /https?:\/\/\S+\/proxy\/\d+\//.exec(stepOutput(/notebook start -c examples\/hello\.yaml/))?.[0];
  t.truthy(url, 'notebook start printed a URL');
  const alice = await loginToken(cluster.url, 'alice', tour.passwords.get('alice'));
  const page = await fetch(url!, { headers: { authorization: `Bearer ${alice}` } });
  t.is(page.status, 200);
  t.regex(await page.text(), /^hello from \/proxy\/\d+\//);

  // Every experiment and command ended COMPLETED, or KILLED by the tour; notebooks and shells still run.
  const admin = await loginToken(cluster.url, 'admin', tour.passwords.get('admin'));
  const tasks = await waitFor('the killed tasks to end', async () => {
    const page = (await api(cluster.url, 'GET', '/tasks?all=true&limit=500', { token: admin })).body.items as Array<{ id: number; kind: string; state: string; name: string }>;
    return page.every((task) => !['KILLING', 'ASSIGNED', 'PULLING'].includes(task.state) && !(task.state === 'RUNNING' && /sleep 600/.test(task.name))) && page;
  }, 60_000);
  const expectFailed = executor === 'process' ? /shared\/research\/vision/ : /^$/;
  for (const task of tasks) {
    const expected =
      task.kind === 'notebook' || task.kind === 'shell' ? ['RUNNING'] : /sleep 600/.test(task.name) ? ['KILLED'] : expectFailed.test(task.name) ? ['FAILED'] : ['COMPLETED'];
    t.true(expected.includes(task.state), `task ${task.id} (${task.kind} ${task.name}) is ${task.state}, not ${expected.join(' or ')}`);
  }
  t.true(tasks.length >= 10, `the tour made its tasks (${tasks.length})`);
  for (const task of tasks.filter((x) => x.state === 'RUNNING')) await api(cluster.url, 'POST', `/tasks/${task.id}/kill`, { token: admin });
  await waitFor('the notebook and the shell to end', async () => {
    const page = (await api(cluster.url, 'GET', '/tasks?all=true&limit=500', { token: admin })).body.items as Array<{ state: string }>;
    return page.every((task) => !['RUNNING', 'KILLING'].includes(task.state));
  }, 60_000);
}

async function tourWith(t: ExecutionContext, executor: 'docker' | 'process') {
  t.timeout(15 * 60_000);
  const cluster = await startCluster(executor);
  try {
    if (executor === 'docker') t.regex(cluster.output(), /running tasks with the docker executor/);
    const tour = await runTour(t, cluster, executor);
    await checkOutcome(t, cluster, tour, executor);
  } finally {
    await cluster.stop();
  }
}

test('README.md: its markers are known and each stands above a block; every block has commands', (t) => {
  t.true(blocks.length > 10, `${blocks.length} blocks`);
  for (const block of blocks) t.true(block.steps.length > 0, `README.md:${block.line}`);
  t.true(blocks.filter((b) => b.marker?.kind === 'skip').length <= 3, 'few blocks are left out, each saying why');
});

if (haveEngine) {
  test.serial('the README quick start and tour, as printed, on `npm start`s cluster with Docker', (t) => tourWith(t, 'docker'));
}
if (root) {
  test.serial('the README quick start and tour, as printed, on `npm start`s cluster with the process executor', (t) => tourWith(t, 'process'));
}
if (!existsSync(path.join(ROOT, 'examples', 'quickstart.yaml'))) throw new Error('examples/quickstart.yaml is missing');
