import { mkdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { AGENT_ID_PATTERN, DEFAULT_POOL, POOL_NAME_PATTERN, RESERVED_LABEL_PREFIX, SHARED_ROOT_LABEL, type FloorContext } from '@trainyard/shared';
import { createLogger } from '@trainyard/shared/logger';
import { Agent } from './agent.js';
import { AGENT_VERSION } from './agent-version.js';
import { dockerEngine } from './executors/docker-engine.js';
import { DockerExecutor } from './executors/docker-executor.js';
import type { Executor } from './executors/executor.js';
import { ProcessExecutor } from './executors/process-executor.js';
import { MasterClient, MasterError } from './master-client.js';
import { runOneShot } from './one-shot.js';

const USAGE = `usage: yard-agent --master URL --token-file PATH [options]
       yard-agent --one-shot --task ID --master URL      (token in YARD_AGENT_TOKEN)

Runs Trainyard tasks on this machine: polls the master for work and runs each task as the
uid:gid its owner is linked to (or the master's default_task).

  --master URL          the master (env YARD_MASTER, default http://127.0.0.1:8080)
  --token-file PATH     file holding the agent token (env YARD_AGENT_TOKEN_FILE); or YARD_AGENT_TOKEN
  --name NAME           agent id (default: this host's name)
  --executor KIND       docker, process or auto (default auto: docker when an engine answers)
  --work-dir PATH       the agent's state: identity files, process runs, task homes (default ./agent-data,
                        outside the master's 0700 data/: the process executor's tasks must reach it);
                        no task may mount it
  --shared-root PATH    where groups' shared directories live (env YARD_AGENT_SHARED_ROOT; such as an NFS
                        mount at /shared): <PATH>/<group path>, made root:<gid> mode 2770 when first needed;
                        it must exist; no task may mount it by host path. Unset: tasks that need one fail here
  --pool NAME           the resource pool this agent serves (env YARD_AGENT_POOL; default: default): one of
                        master.yaml's pools with manager: agents; only tasks submitted to it run here
  --label KEY=VALUE     a label for scheduling (repeatable)
  --log-level LEVEL     info by default
  --version             print this agent's version and exit
  --fake-gpus N         TESTS ONLY: report N fake GPUs (FAKE-0..) instead of detecting them; refused
                        unless YARD_TEST_FAKE_GPUS=1, and only with the process executor

One-shot mode (what the master starts inside a Slurm job; not for people to run):
  --one-shot            run exactly one task, as this process's own user, then exit with its status
  --task ID             the task; the token (YARD_AGENT_TOKEN, or --token-file) is valid only for it
                        --work-dir defaults to a fresh directory under $TMPDIR, removed at the end
  --container KIND      none (default: the task runs on the node itself) or podman (rootless, in its image)
  --podman-arg ARG      an option before every podman command (repeatable), e.g. --cgroup-manager=cgroupfs

Example:
  yard-agent --master http://10.0.0.5:8080 --token-file /etc/trainyard/agent.token`;

export async function main(argv: string[]): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        master: { type: 'string' },
        'token-file': { type: 'string' },
        name: { type: 'string' },
        executor: { type: 'string' },
        'work-dir': { type: 'string' },
        'shared-root': { type: 'string' },
        pool: { type: 'string' },
        label: { type: 'string', multiple: true },
        'log-level': { type: 'string' },
        'fake-gpus': { type: 'string' },
        'one-shot': { type: 'boolean' },
        task: { type: 'string' },
        container: { type: 'string' },
        'podman-arg': { type: 'string', multiple: true },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'V' },
      },
    }));
  } catch (error) {
    fail(`${(error as Error).message}\n\n${USAGE}`, 2);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (values.version) {
    console.log(`yard-agent ${AGENT_VERSION}`);
    return;
  }
  // Human-readable lines on a terminal, JSON lines otherwise.
  const logger = createLogger({ level: values['log-level'] ?? 'info' });
  const master = values.master ?? process.env.YARD_MASTER ?? 'http://127.0.0.1:8080';
  const token = readToken(values['token-file'] ?? process.env.YARD_AGENT_TOKEN_FILE);
  // Never passed on: not to the shims, not to the tasks.
  delete process.env.YARD_AGENT_TOKEN;
  if (values['one-shot']) {
    const taskId = Number(values.task);
    if (!values.task || !Number.isSafeInteger(taskId) || taskId <= 0) fail('--one-shot needs --task ID, the task the job was submitted for', 2);
    for (const option of ['name', 'executor', 'shared-root', 'label', 'fake-gpus'] as const) {
      if (values[option] !== undefined) fail(`--${option} does not go with --one-shot (a one-shot agent is task-<id>, runs processes as its own user, and has no labels)`, 2);
    }
    const container = values.container ?? 'none';
    if (container !== 'none' && container !== 'podman') fail(`--container must be none or podman, not '${container}'`, 2);
    if (values['podman-arg'] && container !== 'podman') fail('--podman-arg goes only with --container podman', 2);
    process.exit(
      await runOneShot({
        master,
        token,
        taskId,
        logger,
        container: container === 'podman' ? { kind: 'podman', globalArgs: values['podman-arg'] ?? [] } : { kind: 'none' },
        ...(values['work-dir'] ? { workDir: values['work-dir'] } : {}),
      }),
    );
  }
  for (const option of ['task', 'container', 'podman-arg'] as const) if (values[option] !== undefined) fail(`--${option} goes only with --one-shot`, 2);
  const name = values.name ?? os.hostname().split('.')[0] ?? 'agent';
  if (!AGENT_ID_PATTERN.test(name)) fail(`--name '${name}' must be 1-64 letters, digits, ".", "_" or "-"`, 2);
  const pool = values.pool ?? process.env.YARD_AGENT_POOL ?? DEFAULT_POOL;
  if (!POOL_NAME_PATTERN.test(pool)) fail(`--pool '${pool}' must be 1-64 characters of a-z, 0-9, ".", "_" or "-"`, 2);
  const labels: Record<string, string> = {};
  for (const label of values.label ?? []) {
    const [key, ...rest] = label.split('=');
    if (!key || rest.length === 0) fail(`--label '${label}' must look like KEY=VALUE`, 2);
    if (key.startsWith(RESERVED_LABEL_PREFIX)) fail(`--label '${label}': labels starting with ${RESERVED_LABEL_PREFIX} are the agent's own`, 2);
    labels[key] = rest.join('=');
  }
  const fakeGpus = fakeGpuCount(values['fake-gpus'], values.executor);
  const workDir = path.resolve(values['work-dir'] ?? 'agent-data');
  mkdirSync(workDir, { recursive: true, mode: 0o700 });
  const sharedRoot = resolveSharedRoot(values['shared-root'] ?? process.env.YARD_AGENT_SHARED_ROOT);
  if (sharedRoot) labels[SHARED_ROOT_LABEL] = 'yes';
  const executor = await chooseExecutor(values.executor ?? 'auto', name, workDir, logger);
  logger.info(`using the ${executor.describe()}`);
  // One plain line for people starting it by hand (the rest is structured log).
  console.error(`yard-agent ${name}: running tasks with the ${executor.describe()}`);

  if (fakeGpus !== undefined) {
    logger.warn(`TEST MODE: reporting ${fakeGpus} FAKE GPUs (FAKE-0..); nothing here is a real GPU`);
    console.error(`yard-agent ${name}: TEST MODE, ${fakeGpus} fake GPUs`);
  }
  const agent = new Agent(new MasterClient(master, name, token), executor, logger, {
    labels,
    pool,
    floor: { ...floorContext(workDir), ...(sharedRoot ? { sharedRoots: sharedRoot.spellings } : {}) },
    ...(sharedRoot ? { sharedRoot: sharedRoot.real } : {}),
    ...(fakeGpus === undefined ? {} : { fakeGpus }),
  });
  const stop = () => {
    logger.info('stopping; running tasks keep running and are picked up when the agent starts again');
    agent.stop();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    await agent.run();
  } catch (error) {
    if (error instanceof MasterError && error.status === 401) fail(`the master rejected the agent token: ${error.message}`, 1);
    if (error instanceof MasterError && (error.status === 403 || error.code === 'POOL_NOT_FOUND')) fail(`the master refused this agent: ${error.message}`, 1);
    throw error;
  }
  process.exit(0);
}

async function chooseExecutor(kind: string, agentId: string, workDir: string, logger: pino.Logger): Promise<Executor> {
  if (kind !== 'auto' && kind !== 'docker' && kind !== 'process') fail(`--executor must be docker, process or auto, not '${kind}'`, 2);
  if (kind === 'process') return new ProcessExecutor(workDir);
  const engine = dockerEngine();
  try {
    await Promise.race([engine.ping(), new Promise((_, reject) => setTimeout(() => reject(new Error('no answer in 5 s')), 5000))]);
    return new DockerExecutor(engine, agentId, await engine.version(), workDir);
  } catch (error) {
    const why = `no container engine answers at ${process.env.DOCKER_HOST ?? DEFAULT_SOCKET} (${(error as Error).message})`;
    if (kind === 'docker') fail(why, 1);
    logger.info(`${why}; falling back to the process executor`);
    return new ProcessExecutor(workDir);
  }
}

/**
 * `--fake-gpus N`: a test mode that makes the master schedule GPU tasks (quotas, fit) on machines
 * without GPUs. Refused unless YARD_TEST_FAKE_GPUS=1 is set, and only with the process executor, so
 * that no real cluster reports GPUs it does not have by accident.
 */
function fakeGpuCount(value: string | undefined, executor: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (process.env.YARD_TEST_FAKE_GPUS !== '1') fail('--fake-gpus is a test mode: it needs YARD_TEST_FAKE_GPUS=1 in the environment', 2);
  if (executor !== 'process') fail('--fake-gpus works only with --executor process', 2);
  if (!/^\d{1,3}$/.test(value)) fail(`--fake-gpus '${value}' must be a number of GPUs (0-999)`, 2);
  return Number(value);
}

const DEFAULT_SOCKET = '/var/run/docker.sock';

/** What the floor protects on this machine besides its fixed list: this agent's state and its engine's socket. */
function floorContext(workDir: string): FloorContext {
  const host = process.env.DOCKER_HOST;
  const socket = host?.startsWith('unix://') ? host.slice('unix://'.length) : DEFAULT_SOCKET;
  const withReal = (p: string) => {
    try {
      return [p, realpathSync(p)];
    } catch {
      return [p];
    }
  };
  return { agentDirs: withReal(workDir), engineSockets: withReal(socket) };
}

/**
 * --shared-root's real path (where shared directories are made) and both its spellings (what the
 * floor refuses). It must be a directory already: an NFS mount that is missing must not quietly
 * become a local directory.
 */
function resolveSharedRoot(given: string | undefined): { real: string; spellings: string[] } | undefined {
  if (!given) return undefined;
  try {
    const real = realpathSync(given);
    if (!statSync(real).isDirectory()) fail(`--shared-root ${given} is not a directory`, 2);
    return { real, spellings: [...new Set([path.resolve(given), real])] };
  } catch (error) {
    fail(`--shared-root ${given} cannot be used: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message} (create or mount it first)`, 2);
  }
}

function readToken(file: string | undefined): string {
  if (process.env.YARD_AGENT_TOKEN && !file) return process.env.YARD_AGENT_TOKEN.trim();
  if (!file) fail('give --token-file PATH (or YARD_AGENT_TOKEN): an admin makes one with `yard agent token create NAME`', 2);
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (error) {
    fail(`cannot read the agent token from ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, 1);
  }
}

function fail(message: string, code: number): never {
  console.error(`yard-agent: ${message}`);
  process.exit(code);
}
