import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import type { Task, TaskLogLine, TaskLogPage } from '@trainyard/shared';
import { api } from './helpers/api.js';
import { Terminal } from './helpers/cli.js';
import { createUsers } from './helpers/fixtures.js';
import { FAST_AGENTS, startAgent, tempDir, waitFor, type AgentProcess } from './helpers/cluster.js';
import { startTestMaster, type TestMaster } from './helpers/test-master.js';

// Every line a task prints reaches its log exactly once, in order, however often its agent is
// killed -9 and restarted (issue 21's fault audit: a restarted agent skipped as many lines of the
// task's output as the agent itself had written notices). The task prints bursts when the test
// says so (a file appears), so that each kill lands at a chosen moment: while the task sleeps,
// while the agent is down, in the middle of a burst, right after one. Each executor's run starts
// with a notice of the agent's own (the process executor's cpu limit; Docker's umask without
// /bin/sh), which a restart must neither repeat nor count as the task's.
const IMAGE = process.env.YARD_TEST_IMAGE;
if (!IMAGE) console.error('\n!!! NO CONTAINER ENGINE: the Docker rounds of log-survival do NOT run (set YARD_TEST_IMAGE).\n');
const withDocker = IMAGE ? test.serial : test.serial.skip;

const ROUNDS = 10;
/** When each round's kill lands. */
const MOMENTS: Array<{ go: 'before' | 'during' | 'after'; delayMs: number }> = [
  { go: 'after', delayMs: 0 }, // the task sleeps while the agent dies; it prints once the agent is back
  { go: 'before', delayMs: 0 }, // the burst begins as the agent dies
  { go: 'before', delayMs: 15 },
  { go: 'during', delayMs: 0 }, // the whole burst is printed while no agent runs
  { go: 'before', delayMs: 60 },
  { go: 'after', delayMs: 0 },
  { go: 'before', delayMs: 5 },
  { go: 'before', delayMs: 200 }, // after the burst was shipped
  { go: 'during', delayMs: 0 },
  { go: 'before', delayMs: 30 },
];
const burst = (round: number) => 150 + round * 37;

let m: TestMaster;
let dir: string;
let tokens: Record<string, string>;

test.before(async () => {
  dir = tempDir('yard-log-survival-');
  m = await startTestMaster(
    {
      // A restart takes a second or two, more on a loaded machine: far below lost_timeout, so the rounds test reattaching, not loss.
      agents: { ...FAST_AGENTS, lost_timeout: '60s', token_file: path.join(dir, 'agent.token') },
      policy: { system: { mounts: { available: [{ host_path: dir }] } } },
    },
    dir,
  );
  tokens = await createUsers(m.url, ['lena']);
});
test.after.always(async () => {
  await m?.stop();
});

/** The script: for each round, wait for `go-<round>`, then print a burst to stdout (every fifth line to stderr too). */
function script(control: string, sleep: string): string {
  return [
    `r=1; while [ $r -le ${ROUNDS} ]; do`,
    `  while [ ! -e ${control}/go-$r ]; do ${sleep} 0.02; done`,
    `  n=$((150 + r * 37)); i=1`,
    `  while [ $i -le $n ]; do echo "r$r line $i"; if [ $((i % 5)) -eq 0 ]; then echo "r$r err $i" >&2; fi; i=$((i + 1)); done`,
    '  r=$((r + 1))',
    'done',
    `while [ ! -e ${control}/go-end ]; do ${sleep} 0.02; done`,
    'echo "the end"',
  ].join('\n');
}

function expected(): { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  for (let r = 1; r <= ROUNDS; r++) {
    for (let i = 1; i <= burst(r); i++) {
      stdout.push(`r${r} line ${i}`);
      if (i % 5 === 0) stderr.push(`r${r} err ${i}`);
    }
  }
  stdout.push('the end');
  return { stdout, stderr };
}

async function allLogs(id: number): Promise<TaskLogLine[]> {
  const lines: TaskLogLine[] = [];
  let after = 0;
  for (;;) {
    const page = (await api<TaskLogPage>(m.url, 'GET', `/tasks/${id}/logs?after=${after}&limit=5000`, { token: tokens.lena })).body;
    lines.push(...page.items);
    if (page.items.length === 0) return lines;
    after = page.next;
  }
}

const storedCount = async (id: number) => (await allLogs(id)).length;

/**
 * Ten rounds of kill -9 of the agent while the task runs; then the log must be exactly what the
 * task printed (per stream, in order, each line once) and the agent's notice must be there once.
 */
async function survive(
  t: import('ava').ExecutionContext,
  options: { executor: 'process' | 'docker'; name: string; config: Record<string, unknown>; group?: string; control: string; notice: RegExp; env?: NodeJS.ProcessEnv },
) {
  const workDir = path.join(dir, `work-${options.executor}`);
  mkdirSync(workDir, { recursive: true });
  const run = () => startAgent({ url: m.url, tokenFile: path.join(dir, 'agent.token') }, { name: options.name, executor: options.executor, workDir, env: options.env ?? {} });
  let agent: AgentProcess = run();
  const outputs: string[] = [];
  t.teardown(async () => {
    await agent.kill('SIGKILL');
  });
  const created = await api<Task>(m.url, 'POST', '/tasks', { token: tokens.lena, body: { kind: 'command', config: options.config, ...(options.group ? { group: options.group } : {}) } });
  t.is(created.status, 201, JSON.stringify(created.body));
  const id = created.body.id;
  t.teardown(() => void api(m.url, 'POST', `/tasks/${id}/kill`, { token: tokens.admin }));
  await waitFor(`task ${id} to run\n${agent.output()}`, async () => (await api<Task>(m.url, 'GET', `/tasks/${id}`, { token: tokens.lena })).body.state === 'RUNNING', 60_000);

  for (let round = 1; round <= ROUNDS; round++) {
    const { go, delayMs } = MOMENTS[round - 1]!;
    const before = await storedCount(id);
    const goFile = path.join(options.control, `go-${round}`);
    if (go === 'before') writeFileSync(goFile, '');
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    await agent.kill('SIGKILL');
    outputs.push(agent.output());
    if (go === 'during') {
      writeFileSync(goFile, '');
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    agent = run();
    await waitFor(`round ${round}: the restarted agent to reattach\n${agent.output()}`, () => /reattaching to a task that survived the agent restart/.test(agent.output()), 60_000);
    if (go === 'after') writeFileSync(goFile, '');
    // The round's burst is in before the next kill, so that every round kills a run with output behind it.
    await waitFor(`round ${round}'s lines to arrive`, async () => (await storedCount(id)) > before, 60_000);
  }
  writeFileSync(path.join(options.control, 'go-end'), '');
  const ended = await waitFor(`task ${id} to end\n${agent.output()}`, async () => {
    const task = (await api<Task>(m.url, 'GET', `/tasks/${id}`, { token: tokens.lena })).body;
    return ['COMPLETED', 'FAILED', 'KILLED', 'LOST'].includes(task.state) ? task : undefined;
  }, 120_000);
  const lines = await allLogs(id);
  t.is(ended.state, 'COMPLETED', `${ended.message}\n${agent.output()}`);
  const of = (stream: string) => lines.filter((l) => l.stream === stream).map((l) => l.line);
  const want = expected();
  const stdout = of('stdout');
  const stderr = of('stderr');
  // The first difference, when there is one, says more than two lists of 3000 lines.
  const firstDifference = (got: string[], wanted: string[]) => {
    const at = wanted.findIndex((line, i) => got[i] !== line);
    return at === -1 && got.length === wanted.length ? 'none' : `at line ${at === -1 ? wanted.length : at + 1}: got ${JSON.stringify(got.slice(Math.max(0, at - 2), at + 3))}, wanted ${JSON.stringify(wanted.slice(Math.max(0, at - 2), at + 3))}`;
  };
  t.is(firstDifference(stdout, want.stdout), 'none', 'stdout: every line, in order, once');
  t.is(firstDifference(stderr, want.stderr), 'none', 'stderr: every line, in order, once');
  const notices = of('system').filter((line) => options.notice.test(line));
  t.is(notices.length, 1, `the agent's notice, once: ${JSON.stringify(of('system'))}`);
  const firstOutput = lines.findIndex((l) => l.stream !== 'system');
  t.true(lines.findIndex((l) => options.notice.test(l.line)) < firstOutput, 'the notice came before the task\'s lines, as it was written');
  t.is(outputs.length, ROUNDS);
}

test.serial(`process executor: every output line survives ${ROUNDS} kill -9 of the agent at varied moments`, async (t) => {
  const control = path.join(dir, 'control-process');
  mkdirSync(control);
  await survive(t, {
    executor: 'process',
    name: 'survival-process',
    control,
    // cpu: the process executor's notice that it does not enforce it, written before the task starts.
    config: { entrypoint: ['sh', '-c', script(control, 'sleep')], resources: { slots: 0, cpu: 1, memory: '64Mi' } },
    notice: /does not enforce cpu or memory limits/,
  });
});

withDocker(`docker executor: every output line survives ${ROUNDS} kill -9 of the agent at varied moments`, async (t) => {
  const control = path.join(dir, 'control-docker');
  mkdirSync(control);
  // An image without /bin/sh (busybox alone, under another name): a task in a group with a shared
  // directory asks for umask 0002, which the agent cannot set there, and says so in the log.
  const image = `trainyard/no-shell:survival-${process.pid}`;
  const rootfs = path.join(dir, 'no-shell');
  mkdirSync(path.join(rootfs, 'bin'), { recursive: true });
  const container = execFileSync('docker', ['create', IMAGE!], { encoding: 'utf8' }).trim();
  try {
    execFileSync('docker', ['cp', `${container}:/bin/busybox`, path.join(rootfs, 'bin', 'busybox')]);
  } finally {
    execFileSync('docker', ['rm', container]);
  }
  execFileSync('sh', ['-c', `tar -C ${rootfs} -c . | docker import - ${image}`], { stdio: 'ignore' });
  t.teardown(() => {
    execFileSync('docker', ['ps', '-aq', '--filter', 'label=trainyard.agent=survival-docker'], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .forEach((c) => execFileSync('docker', ['rm', '-f', c]));
    execFileSync('docker', ['rmi', '-f', image], { stdio: 'ignore' });
  });

  const sharedRoot = path.join(dir, 'shared');
  mkdirSync(sharedRoot);
  const admin = new Terminal(m.url);
  const yard = (...args: string[]) => admin.json(['-u', 'admin', ...args], { env: { YARD_PASSWORD: '' } });
  await yard('group', 'create', 'survivors');
  await yard('group', 'set', 'survivors', '--gid', '5301', '--shared-dir', 'on');
  await yard('group', 'add-member', 'survivors', 'lena');
  await survive(t, {
    executor: 'docker',
    name: 'survival-docker',
    control,
    env: { YARD_AGENT_SHARED_ROOT: sharedRoot },
    group: 'survivors',
    config: {
      image,
      entrypoint: ['/bin/busybox', 'sh', '-c', script(control, '/bin/busybox sleep')],
      bind_mounts: [{ host_path: control, container_path: control, read_only: true }],
    },
    notice: /the image has no \/bin\/sh to set umask 0002/,
  });
});
