import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import type { CrashPoint, Task, TaskLogPage } from '@trainyard/shared';
import { api, loginToken } from './helpers/api.js';
import { freePort, spawnMaster, tempDir, waitFor, type MasterProcess, type Proc } from './helpers/cluster.js';
import { slurmCommand, slurmPoolSettings, testSlurm, UnixUsers, type TestSlurm, type UnixUser } from './helpers/slurm.js';

// kill -9 of the master while it submits to a Slurm pool and while the pool's jobs wait or run,
// ten rounds on the real test cluster: every task runs at most once (its own marker lines, written
// by the task on the host, say how often it started) and ends in a truthful state, and no job of
// it is left in Slurm's queue. The master is its own process; crash points (YARD_TEST_CRASH_AT) kill
// it at exact steps of the submission, and a plain SIGKILL does the rest.
type Round = { crashAt: CrashPoint } | { kill: 'pending' | 'running' };
const ROUNDS: Round[] = [
  { crashAt: 'master:before-slurm-submit' },
  { crashAt: 'master:after-slurm-submit' },
  { crashAt: 'master:after-slurm-placement' },
  { kill: 'pending' },
  { crashAt: 'master:after-ack' },
  { crashAt: 'master:after-running' },
  { kill: 'running' },
  { crashAt: 'master:before-slurm-submit' },
  { crashAt: 'master:after-slurm-submit' },
  { kill: 'running' },
];

const slurm = testSlurm('the Slurm crash tests');
if (!slurm) test.skip('kill -9 of the master with a Slurm pool (no Slurm test cluster)', () => {});
else registerTests(slurm);

function registerTests(cluster: TestSlurm) {
  // This file's own one-CPU partition (scripts/slurm-cluster.sh): another file's filler never holds its jobs.
  const smallPartition = `${cluster.smallPartition}-crash`;
  const users = new UnixUsers('ysk');
  let dir: string;
  let jobDir: string;
  let marks: string;
  let port: number;
  let alice: UnixUser;
  let master: MasterProcess | undefined;
  let config: Record<string, unknown>;
  const fillers: string[] = [];

  test.before(async () => {
    dir = tempDir('yard-slurm-crash-');
    jobDir = mkdtempSync(path.join(os.tmpdir(), 'yard-slurm-jobs-'));
    chmodSync(jobDir, 0o1777);
    const scratch = mkdtempSync(path.join(os.tmpdir(), 'yard-slurm-marks-'));
    chmodSync(scratch, 0o755);
    alice = users.create();
    marks = path.join(scratch, 'alice');
    mkdirSync(marks, { mode: 0o700 });
    chownSync(marks, alice.uid, alice.gid);
    port = await freePort();
    config = {
      pools: { default: { manager: 'agents' }, hpc: slurmPoolSettings(cluster, jobDir), 'hpc-small': slurmPoolSettings(cluster, jobDir, { partition: smallPartition }) },
      default_pool: 'hpc',
      policy: { system: { mounts: { available: [{ host_path: `${scratch}/{user}` }] } } },
    };
    master = await spawnMaster(dir, port, config);
    const admin = await loginToken(master.url, 'admin');
    await api(master.url, 'POST', '/users', { token: admin, body: { username: 'alice', password: 'pw' } });
    const linked = await api(master.url, 'PUT', '/users/alice/agent-user', { token: admin, body: { uid: alice.uid, user: alice.name, gid: alice.gid, group: alice.name } });
    if (linked.status !== 200) throw new Error(JSON.stringify(linked.body));
  });

  test.after.always(async () => {
    for (const id of fillers) slurmCommand(cluster, 'scancel', [id]);
    await master?.kill('SIGKILL');
    users.removeAll();
    for (const made of [jobDir, path.dirname(marks ?? '/nonexistent/x'), dir]) if (made && existsSync(made)) rmSync(made, { recursive: true, force: true });
  });

  // This file's jobs only: they run as its own throwaway user (other files' masters number their tasks from 1 too).
  const jobsOf = (taskId: number) =>
    slurmCommand(cluster, 'squeue', ['-h', '-u', alice.name, '-o', '%i %j %T']).split('\n').filter((line) => line.includes(` trainyard-task-${taskId}-`));

  async function crashed(proc: Proc, what: string): Promise<void> {
    const code = await Promise.race([proc.exited, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 60_000))]);
    if (code === 'timeout') throw new Error(`${what} did not reach its crash point in 60 s:\n${proc.output()}`);
    if (proc.child.signalCode !== 'SIGKILL') throw new Error(`${what} exited (${code}) instead of crashing:\n${proc.output()}`);
  }

  test.serial('kill -9 of the master during submission and while jobs wait or run, 10 rounds: each task runs at most once and ends truthfully', async (t) => {
    t.timeout(15 * 60_000);
    for (const [index, round] of ROUNDS.entries()) {
      const label = `round ${index + 1} (${'crashAt' in round ? round.crashAt : `kill -9 while its job is ${round.kill}`})`;
      await master!.kill('SIGTERM');
      master = await spawnMaster(dir, port, config, 'crashAt' in round ? { YARD_TEST_CRASH_AT: round.crashAt } : {});
      const token = await loginToken(master.url, 'alice', 'pw');
      const marker = path.join(marks, `round-${index + 1}`);
      // A job waits in Slurm's queue behind a filler of the one-CPU partition, submitted outside Trainyard.
      const filler = 'kill' in round && round.kill === 'pending' ? /(\d+)\s*$/.exec(slurmCommand(cluster, 'sbatch', ['-p', smallPartition, '-o', '/dev/null', '--wrap', 'sleep 600']))![1]! : undefined;
      const created = await api<Task>(master.url, 'POST', '/tasks', {
        token,
        body: {
          ...(filler ? fillers.push(filler) && { pool: 'hpc-small' } : {}),
          kind: 'command',
          config: {
            name: `crash-round-${index + 1}`,
            entrypoint: ['sh', '-c', `echo started >> ${marker}; sleep 2; echo ended >> ${marker}`],
            bind_mounts: [{ host_path: marks, container_path: marks }],
          },
        },
      });
      t.is(created.status, 201, `${label}: ${JSON.stringify(created.body)}`);
      const id = created.body.id;
      const read = async () => (await api<Task>(master!.url, 'GET', `/tasks/${id}`, { token })).body;

      if ('crashAt' in round) {
        await crashed(master, `the master (${label})`);
      } else {
        await waitFor(`${label}: the task's job to ${round.kill === 'pending' ? 'wait in Slurm' : 'run'}`, async () => {
          const now = await read();
          return round.kill === 'pending' ? now.state === 'ASSIGNED' && /^SLURM:/.test(now.pendingReason ?? '') : now.state === 'RUNNING';
        }, 60_000);
        await master.kill('SIGKILL');
      }
      master = await spawnMaster(dir, port, config);
      if (filler) {
        // Its lease outlived the wait and the restart; it still waits, saying why, until the partition has room.
        const held = await read();
        t.like(held, { state: 'ASSIGNED' }, label);
        t.regex(held.pendingReason ?? '', /^SLURM:(Resources|Priority)$/, label);
        slurmCommand(cluster, 'scancel', [filler]);
      }
      const ended = await waitFor(`${label}: the task to end`, async () => {
        const now = await read();
        return ['COMPLETED', 'FAILED', 'KILLED', 'LOST'].includes(now.state) && now;
      }, 120_000).catch((error: Error) => {
        throw new Error(`${error.message}\n${master!.output().slice(-4000)}`);
      });
      const lines = existsSync(marker) ? readFileSync(marker, 'utf8').trim().split('\n') : [];
      t.deepEqual(lines, ['started', 'ended'], `${label}: it ran exactly once, to its end`);
      t.is(ended.state, 'COMPLETED', `${label}: ${ended.message}`);
      t.is(ended.exitCode, 0, label);
      await waitFor(`${label}: no job of the task left in Slurm's queue`, () => jobsOf(id).length === 0, 60_000);
      // How the restarted master found it: the job it had submitted without storing its id is followed, not submitted again.
      const logs = (await api<TaskLogPage>(master.url, 'GET', `/tasks/${id}/logs?limit=1000`, { token })).body.items.map((l) => l.line).join('\n');
      const expected: Partial<Record<CrashPoint, RegExp>> = {
        'master:before-slurm-submit': /it was never submitted to Slurm \(the master stopped while placing it\); queued again/,
        'master:after-slurm-submit': /found its Slurm job \d+ after a master restart; following it/,
      };
      if ('crashAt' in round && expected[round.crashAt]) t.regex(logs, expected[round.crashAt]!, label);
      // The line is written once the job id is stored: a master killed right after submitting, or right after storing it, never wrote it.
      const unsaid = 'crashAt' in round && ['master:after-slurm-submit', 'master:after-slurm-placement'].includes(round.crashAt);
      t.is(logs.match(/submitted to Slurm as job/g)?.length ?? 0, unsaid ? 0 : 1, `${label}: submitted once\n${logs}`);
      t.true(new Set(logs.match(/job \d+/g)).size <= 1, `${label}: one Slurm job only\n${logs}`);
    }
  });
}
