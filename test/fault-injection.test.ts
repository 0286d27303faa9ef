import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import type { CrashPoint, Page, Task, TaskLogPage, TaskSummary } from '@trainyard/shared';
import { api, loginToken } from './helpers/api.js';
import { freePort, spawnMaster, startAgent, tempDir, waitFor, type AgentProcess, type MasterProcess, type Proc } from './helpers/cluster.js';

// kill -9 of the master and of the agent at each step of dispatch, one round per crash. Each
// crash is exact: the process is started with YARD_TEST_CRASH_AT=<point> (test-only) and SIGKILLs
// itself when it reaches that point; then it is started again without it. Every task appends to
// a file in a host directory the policy allows, once when it starts and once when it ends, so the
// file says how often it really ran. Every task must end COMPLETED, having run exactly once.
const IMAGE = process.env.YARD_TEST_IMAGE;
type Executor = 'process' | 'docker';
if (!IMAGE) console.error('\n!!! NO CONTAINER ENGINE: the Docker rounds of the fault-injection test run on the process executor.\n');

const ROUNDS: Array<[CrashPoint, Executor]> = [
  ['master:after-submit', 'process'],
  ['master:after-assign', 'process'],
  ['master:after-ack', 'process'],
  ['master:after-running', 'process'],
  ['agent:after-lease', 'process'],
  ['agent:after-ack', 'process'],
  ['agent:after-create', 'process'],
  ['agent:after-start', 'process'],
  ['agent:after-running', 'process'],
  ['agent:after-exit', 'process'],
  ['master:after-submit', 'process'],
  ['master:after-assign', 'process'],
  ['agent:after-ack', 'process'],
  ['agent:after-create', 'process'],
  // Where a container makes the difference: created but never started, started, ended.
  ['agent:after-create', 'docker'],
  ['agent:after-create', 'docker'],
  ['agent:after-start', 'docker'],
  ['agent:after-running', 'docker'],
  ['agent:after-exit', 'docker'],
  ['master:after-ack', 'docker'],
];

const dir = tempDir('yard-fault-');
const counts = path.join(dir, 'counts');
const workDirs: Record<Executor, string> = { process: path.join(dir, 'agent-process'), docker: path.join(dir, 'agent-docker') };
const config = {
  policy: { system: { mounts: { available: [{ host_path: counts }] } } },
  // Restarts take a second or two: far below lost_timeout, so the rounds test recovery, not loss.
  agents: { heartbeat_interval: '500ms', lost_timeout: '20s', lease_timeout: '3s', kill_grace: '2s' },
};
let port: number;
let master: MasterProcess;
const agents: Partial<Record<Executor, AgentProcess>> = {};
let lastTaskId = 0;

test.before(async () => {
  for (const d of [counts, ...Object.values(workDirs)]) mkdirSync(d, { recursive: true });
  port = await freePort();
  master = await spawnMaster(dir, port, config);
});

test.after.always(async () => {
  for (const agent of Object.values(agents)) await agent?.kill('SIGKILL');
  await master?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const agentName = (executor: Executor) => `fault-${executor}`;

function runAgent(executor: Executor, crashAt?: CrashPoint): AgentProcess {
  const agent = startAgent(master, {
    name: agentName(executor),
    executor,
    workDir: workDirs[executor],
    env: crashAt ? { YARD_TEST_CRASH_AT: crashAt } : {},
  });
  agents[executor] = agent;
  return agent;
}

/** Exactly one agent of the round's executor runs (the other one is stopped, so it takes no work). */
async function useAgent(executor: Executor): Promise<void> {
  for (const other of ['process', 'docker'] as const) {
    if (other !== executor && agents[other]) {
      await agents[other]!.kill('SIGKILL');
      agents[other] = undefined;
    }
  }
  const current = agents[executor];
  if (!current || current.child.exitCode !== null || current.child.signalCode !== null) runAgent(executor);
}

async function crashed(proc: Proc, what: string): Promise<void> {
  const code = await Promise.race([proc.exited, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 30_000))]);
  if (code === 'timeout') throw new Error(`${what} did not reach its crash point in 30 s:\n${proc.output()}`);
  if (proc.child.signalCode !== 'SIGKILL') throw new Error(`${what} exited (${code}) instead of crashing:\n${proc.output()}`);
}

async function newestTaskId(token: string): Promise<number> {
  const page = await api<Page<TaskSummary>>(master.url, 'GET', '/tasks?all=true&limit=1', { token });
  return page.body.items[0]?.id ?? 0;
}

for (const [index, [point, wanted]] of ROUNDS.entries()) {
  const executor: Executor = wanted === 'docker' && !IMAGE ? 'process' : wanted;
  test.serial(`round ${index + 1}: kill -9 at ${point} (${executor} executor): the task runs once and ends COMPLETED`, async (t) => {
    const image = IMAGE ?? 'busybox:latest';
    await useAgent(executor);
    const side = point.startsWith('master:') ? 'master' : 'agent';
    let victim: Proc;
    if (side === 'master') {
      await master.kill('SIGTERM');
      master = await spawnMaster(dir, port, config, { YARD_TEST_CRASH_AT: point });
      victim = master;
    } else {
      await agents[executor]!.kill('SIGKILL');
      victim = runAgent(executor, point);
    }

    const admin = await loginToken(master.url, 'admin');
    const submitted = await api<Task>(master.url, 'POST', '/tasks', {
      token: admin,
      body: {
        kind: 'command',
        config: {
          name: `round-${index + 1}`,
          image,
          entrypoint: ['sh', '-c', `echo started >> ${counts}/$TRAINYARD_TASK_ID; sleep 1; echo ended >> ${counts}/$TRAINYARD_TASK_ID`],
          bind_mounts: [{ host_path: counts, container_path: counts }],
        },
      },
    }).catch(() => undefined);
    await crashed(victim, `the ${side} (${point})`);

    if (side === 'master') master = await spawnMaster(dir, port, config);
    else runAgent(executor);
    const adminAgain = side === 'master' ? await loginToken(master.url, 'admin') : admin;
    // When the master died answering the submission, the task is the newest one (if it was stored at all).
    const id = submitted?.status === 201 ? submitted.body.id : await newestTaskId(adminAgain);
    t.true(id > lastTaskId, 'the submitted task was stored');
    lastTaskId = id;

    const done = await waitFor(`task ${id} to end`, async () => {
      const task = (await api<Task>(master.url, 'GET', `/tasks/${id}`, { token: adminAgain })).body;
      return ['COMPLETED', 'FAILED', 'KILLED', 'LOST'].includes(task.state) ? task : undefined;
    }, 60_000).catch((error: Error) => {
      throw new Error(`${error.message}\nagent:\n${agents[executor]!.output()}\nmaster:\n${master.output()}`);
    });
    const file = path.join(counts, String(id));
    const runs = existsSync(file) ? readFileSync(file, 'utf8') : '';
    t.is(done.state, 'COMPLETED', `${done.message}\n${agents[executor]!.output()}`);
    t.is(done.exitCode, 0);
    t.is(runs, 'started\nended\n', 'it ran exactly once, to its end');
    t.is(done.restarts, 0, 'a run that never started costs no restart');
    // And it recovered the way it should have: given back if it never started, else reattached.
    if (point === 'agent:after-ack' || point === 'agent:after-create') {
      const lines = (await api<TaskLogPage>(master.url, 'GET', `/tasks/${id}/logs`, { token: adminAgain })).body.items.map((l) => l.line);
      t.true(lines.some((l) => l.includes('gave the task back without starting it')), lines.join('\n'));
    }
    if (point === 'agent:after-start' || point === 'agent:after-running' || point === 'agent:after-exit') {
      t.regex(agents[executor]!.output(), /reattaching to a task that survived the agent restart/);
    }
  });
}

test.serial('afterwards no run is left on either agent', async (t) => {
  if (IMAGE) {
    await useAgent('docker');
    const left = () =>
      execFileSync('docker', ['ps', '-a', '--filter', `label=trainyard.agent=${agentName('docker')}`, '--format', '{{.ID}}'], { encoding: 'utf8' }).trim();
    await waitFor('the docker agent to remove its containers', () => left() === '', 15_000);
    t.is(left(), '');
  }
  await useAgent('process');
  const runsDir = path.join(workDirs.process, 'runs');
  const runsLeft = () => (existsSync(runsDir) ? readdirSync(runsDir) : []);
  await waitFor('the process agent to remove its runs', () => runsLeft().length === 0, 15_000);
  t.deepEqual(runsLeft(), []);
});
