import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FLOOR_CONFINEMENT } from '@trainyard/shared';
import { SlurmJwt } from '../packages/master/src/resource-managers/slurm/slurm-jwt.js';
import { slurmJobFor } from '../packages/master/src/resource-managers/slurm/slurm-job-spec.js';
import { createSlurmRestClient } from '../packages/master/src/resource-managers/slurm/slurmrestd-client.js';
import { slurmPoolSettings, UnixUsers, type TestSlurm, type UnixUser } from '../test/helpers/slurm.js';
import { AGENT_BIN, login, ROOT, startMaster, tempDir } from './lib/processes.js';
import { percentile, round } from './stats.js';

const now = () => performance.now();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The Slurm cluster to measure on: the one YARD_TEST_SLURM_* describe (scripts/slurm-cluster.sh up
 * prints them), else one `slurm-cluster.sh up` starts where Slurm is installed (never installed by
 * the bench, and left running: others may share it). Undefined, saying why, when there is none or
 * the bench is not root (the jobs run as a throwaway Unix user).
 */
export function benchSlurm(log: (line: string) => void): TestSlurm | undefined {
  if (process.getuid?.() !== 0) {
    log('not root: P10 (the Slurm pool) needs a throwaway Unix user for its jobs; skipped');
    return undefined;
  }
  let env: Record<string, string | undefined> = process.env;
  if (!env.YARD_TEST_SLURM_REST_URL) {
    if (!existsSync('/usr/sbin/slurmctld') || !existsSync('/usr/sbin/slurmrestd')) {
      log("no Slurm (install Debian's slurm-wlm and slurmrestd, or run scripts/slurm-cluster.sh up and export its lines): P10 skipped");
      return undefined;
    }
    const up = spawnSync('bash', [path.join(ROOT, 'scripts', 'slurm-cluster.sh'), 'up'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    env = Object.fromEntries(up.stdout.split('\n').filter((l) => l.includes('=')).map((l) => l.split('=', 2) as [string, string]));
    if (up.status !== 0 || !env.YARD_TEST_SLURM_REST_URL) {
      log('the Slurm cluster did not start (scripts/slurm-cluster.sh up): P10 skipped');
      return undefined;
    }
    log('P10: a single-node Slurm cluster runs from scripts/slurm-cluster.sh (left running; `bash scripts/slurm-cluster.sh down` stops it)');
  }
  const need = ['YARD_TEST_SLURM_REST_URL', 'YARD_TEST_SLURM_JWT_KEY_FILE', 'YARD_TEST_SLURM_PARTITION', 'YARD_TEST_SLURM_SMALL_PARTITION', 'YARD_TEST_SLURM_CONF', 'YARD_TEST_SLURM_NODE'];
  const missing = need.filter((name) => !env[name]);
  if (missing.length > 0) {
    log(`${missing.join(', ')} not set: P10 skipped`);
    return undefined;
  }
  return {
    restUrl: env.YARD_TEST_SLURM_REST_URL!,
    jwtKeyFile: env.YARD_TEST_SLURM_JWT_KEY_FILE!,
    partition: env.YARD_TEST_SLURM_PARTITION!,
    smallPartition: env.YARD_TEST_SLURM_SMALL_PARTITION!,
    conf: env.YARD_TEST_SLURM_CONF!,
    node: env.YARD_TEST_SLURM_NODE!,
  };
}

interface Api {
  <T>(method: string, route: string, body?: unknown): Promise<T>;
}

/**
 * P10: the Slurm pool. (1) submit → first log line of `echo first-line` through a Slurm pool
 * (the master submits the job through slurmrestd; its one-shot agent starts in the job, takes the
 * task and streams its output back) against `sbatch --wrap` of the same command as the same user,
 * its output file read as it appears; one at a time, same run. (2) Placements per second: `count`
 * tasks created at once in a pool on the cluster's one-CPU partition, until every one has its Slurm
 * job (id stored); one runs, the others wait in Slurm's queue, then all are killed.
 */
export async function p10(slurm: TestSlurm, options: { runs: number; count: number }) {
  const dir = tempDir();
  const jobDir = mkdtempSync(path.join(os.tmpdir(), 'yard-bench-slurm-'));
  chmodSync(jobDir, 0o1777);
  const users = new UnixUsers('ybs');
  const master = await startMaster(dir, {
    pools: {
      default: { manager: 'agents' },
      hpc: slurmPoolSettings(slurm, jobDir, { poll_interval: '1s' }),
      narrow: slurmPoolSettings(slurm, jobDir, { partition: slurm.smallPartition, poll_interval: '1s', max_pending_jobs: options.count + 10 }),
    },
  });
  const created: number[] = [];
  let api: Api | undefined;
  try {
    const unix = users.create();
    const adminToken = await login(master.url);
    const call = (token: string): Api => async <T>(method: string, route: string, body?: unknown) => {
      const response = await fetch(`${master.url}/api/v1${route}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${await response.text()}`);
      return (await response.json()) as T;
    };
    const admin = call(adminToken);
    await admin('POST', '/users', { username: 'bench', password: 'bench-pw' });
    await admin('PUT', '/users/bench/agent-user', { uid: unix.uid, user: unix.name, gid: unix.gid, group: unix.name });
    api = call(await login(master.url, 'bench', 'bench-pw'));
    const create = async (pool: string, entrypoint: string[]) => {
      const { id } = await api!<{ id: number }>('POST', '/tasks', { kind: 'command', config: { entrypoint }, pool });
      created.push(id);
      return id;
    };

    // (1) Submit → first log line, through the pool and with sbatch directly, alternately.
    const viaYard: number[] = [];
    const viaSbatch: number[] = [];
    for (let i = 0; i < options.runs + 1; i++) {
      const started = now();
      const id = await create('hpc', ['echo', 'first-line']);
      let after = 0;
      for (;;) {
        const page = await api<{ items: Array<{ line: string }>; next: number }>('GET', `/tasks/${id}/logs?after=${after}&wait=10`);
        after = page.next;
        if (page.items.some((l) => l.line === 'first-line')) break;
      }
      if (i > 0) viaYard.push(now() - started);
      const direct = await sbatchFirstLine(slurm, unix.name, jobDir, i);
      if (i > 0) viaSbatch.push(direct);
      await waitEnded(api, [id], 60_000);
    }

    // (2) Placements per second: all at once, on the one-CPU partition, until each has its job.
    // The same creations in an agents pool (no agent serves it: they only wait), to tell the Slurm pool's admission apart.
    const agentsAt = now();
    await Promise.all(Array.from({ length: options.count }, () => create('default', ['sleep', '600'])));
    const agentsCreateMs = now() - agentsAt;
    const startedAt = now();
    const batch = await Promise.all(Array.from({ length: options.count }, () => create('narrow', ['sleep', '600'])));
    const submittedMs = now() - startedAt;
    const deadline = Date.now() + 120_000;
    for (;;) {
      const tasks = await Promise.all(batch.map((id) => api!<{ placement: string | null }>('GET', `/tasks/${id}`)));
      if (tasks.every((t) => t.placement !== null)) break;
      if (Date.now() > deadline) throw new Error(`P10: only ${tasks.filter((t) => t.placement !== null).length}/${batch.length} tasks got their Slurm job in 2 minutes`);
      await sleep(20);
    }
    const placedMs = now() - startedAt;
    const ceiling = await restSubmissions(slurm, unix, jobDir, options.count);
    const agentStartMs = percentile(Array.from({ length: 5 }, () => agentStart()), 50);
    const yardMs = percentile(viaYard, 50);
    const sbatchMs = percentile(viaSbatch, 50);
    return {
      runs: options.runs,
      yardMs: round(yardMs, 1),
      sbatchMs: round(sbatchMs, 1),
      ratio: round(yardMs / sbatchMs),
      overheadMs: round(yardMs - sbatchMs, 1),
      agentStartMs: round(agentStartMs, 1),
      placed: batch.length,
      createMs: round(submittedMs, 1),
      agentsPoolCreateMs: round(agentsCreateMs, 1),
      placedMs: round(placedMs, 1),
      placementsPerSecond: round((batch.length / placedMs) * 1000, 1),
      restSubmissionsPerSecond: round(ceiling, 1),
      placementsRatio: round((batch.length / placedMs) * 1000 / ceiling),
    };
  } finally {
    // Nothing left in Slurm's queue or running: every task killed and ended before the master stops.
    if (api) {
      await Promise.all(created.map((id) => api!('POST', `/tasks/${id}/kill`, {}).catch(() => undefined)));
      await waitEnded(api, created, 60_000).catch((error: unknown) => console.error(`[bench] P10: ${(error as Error).message}`));
    }
    await master.stop();
    users.removeAll();
    rmSync(jobDir, { recursive: true, force: true });
  }
}

/**
 * The ceiling of (2): the same jobs (as the manager maps them: one-CPU partition, `sleep 600`)
 * submitted straight to slurmrestd, all at once, as the same user; jobs per second until Slurm
 * gave every id. They are cancelled at once.
 */
async function restSubmissions(slurm: TestSlurm, user: UnixUser, jobDir: string, count: number): Promise<number> {
  const clock = { now: () => Date.now() };
  const client = createSlurmRestClient({ url: slurm.restUrl, jwt: SlurmJwt.fromKeyFile(slurm.jwtKeyFile, { user: 'root', lifetimeSeconds: 600, clock }), tokenUser: 'root' });
  const submission = (i: number) =>
    slurmJobFor(
      {
        taskId: 900_000 + i,
        leaseId: `bench${i}`,
        kind: 'command',
        name: 'bench',
        image: 'none',
        pull: 'never',
        entrypoint: ['sleep', '600'],
        environment: {},
        runAs: { uid: user.uid, user: user.name, gid: user.gid, group: user.name, supplementaryGroups: [] },
        identitySources: { uid: 'link', user: 'link', gid: 'link', group: 'link', supplementaryGroups: 'link' },
        bindMounts: [],
        resources: { gpus: 0, cpu: 1, memory: 0 },
        ports: [],
        confinement: { ...FLOOR_CONFINEMENT },
      },
      { name: 'bench', partition: slurm.smallPartition, jobDir },
      { command: ['sleep', '600'], environment: {} },
    );
  const started = now();
  const ids = await Promise.all(Array.from({ length: count }, (_, i) => client.submit(user.name, submission(i))));
  const ms = now() - started;
  await Promise.all(ids.map((id) => client.cancel(id).catch(() => undefined)));
  return (count / ms) * 1000;
}

/** How long the one-shot agent's program takes to load and exit here (`yard-agent --help`): part of every Slurm task's start. */
function agentStart(): number {
  const started = now();
  execFileSync(process.execPath, [AGENT_BIN, '--help'], { stdio: 'ignore' });
  return now() - started;
}

/** `sbatch --wrap 'echo first-line'` as the user; ms until its output file holds the line. */
async function sbatchFirstLine(slurm: TestSlurm, user: string, jobDir: string, run: number): Promise<number> {
  const out = path.join(jobDir, `direct-${run}.out`);
  const env: NodeJS.ProcessEnv = { ...process.env, SLURM_CONF: slurm.conf };
  // Slurm's commands fail when SLURM_JWT is set: only slurmrestd may have it.
  delete env.SLURM_JWT;
  const started = now();
  execFileSync('runuser', ['-u', user, '--', 'sbatch', '--parsable', '--quiet', `--partition=${slurm.partition}`, `--chdir=${jobDir}`, `--output=${out}`, '--wrap', 'echo first-line'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (existsSync(out) && readFileSync(out, 'utf8').includes('first-line')) return now() - started;
    if (Date.now() > deadline) throw new Error(`P10: sbatch's job wrote nothing to ${out} in a minute`);
    await sleep(2);
  }
}

async function waitEnded(api: Api, ids: number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const states = await Promise.all(ids.map((id) => api<{ state: string }>('GET', `/tasks/${id}`).then((t) => t.state)));
    if (states.every((s) => ['COMPLETED', 'FAILED', 'KILLED', 'LOST'].includes(s))) return;
    if (Date.now() > deadline) throw new Error(`tasks still not ended after ${timeoutMs / 1000} s: ${states.join(', ')}`);
    await sleep(100);
  }
}
