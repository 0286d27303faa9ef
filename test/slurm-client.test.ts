import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { FLOOR_CONFINEMENT, type TaskRunSpec } from '@trainyard/shared';
import { SlurmJwt } from '../packages/master/src/resource-managers/slurm/slurm-jwt.js';
import { slurmJobFor, slurmJobName, taskOfSlurmJob } from '../packages/master/src/resource-managers/slurm/slurm-job-spec.js';
import { checkSlurmUser, getentUsers, slurmJobIdentityMismatch } from '../packages/master/src/resource-managers/slurm/slurm-run-as.js';
import {
  createSlurmRestClient,
  partitionCapacity,
  slurmJobEnded,
  SlurmError,
  type SlurmJob,
  type SlurmRestClient,
} from '../packages/master/src/resource-managers/slurm/slurmrestd-client.js';
import { freePort, waitFor } from './helpers/cluster.js';
import { slurmCommand, testSlurm, UnixUsers, type TestSlurm, type UnixUser } from './helpers/slurm.js';

// The slurmrestd client (issue 22) against a real single-node Slurm 22.05 (scripts/slurm-cluster.sh):
// jobs submitted as throwaway Unix users run as them; cancel, time limits, pending reasons, capacity
// and Slurm's own refusals come back typed.
const slurm = testSlurm('the slurmrestd client tests');
if (!slurm) test.skip('slurmrestd client tests (no Slurm test cluster)', () => {});
else registerTests(slurm);

function registerTests(cluster: TestSlurm) {
  const users = new UnixUsers('ysc');
  const clock = { now: () => Date.now() };
  const client: SlurmRestClient = createSlurmRestClient({
    url: cluster.restUrl,
    jwt: SlurmJwt.fromKeyFile(cluster.jwtKeyFile, { user: 'root', lifetimeSeconds: 600, clock }),
    tokenUser: 'root',
  });
  let jobDir: string;
  let alice: UnixUser;
  const submitted: number[] = [];

  test.before(() => {
    jobDir = mkdtempSync(path.join(os.tmpdir(), 'yard-slurm-jobs-'));
    chmodSync(jobDir, 0o1777);
    alice = users.create();
  });

  test.after.always(async () => {
    for (const id of submitted) await client.cancel(id).catch(() => undefined);
    users.removeAll();
    rmSync(jobDir, { recursive: true, force: true });
  });

  const runSpec = (user: UnixUser, changes: Partial<TaskRunSpec> = {}): TaskRunSpec => ({
    taskId: 1000 + submitted.length,
    leaseId: `lease${Math.random().toString(36).slice(2, 10)}`,
    kind: 'command',
    name: 'slurm-client-test',
    image: 'busybox:latest',
    pull: 'never',
    entrypoint: [],
    environment: { GREETING: 'hello from the spec' },
    runAs: { uid: user.uid, user: user.name, gid: user.gid, group: user.name, supplementaryGroups: [] },
    identitySources: { uid: 'link', user: 'link', gid: 'link', group: 'link', supplementaryGroups: 'link' },
    bindMounts: [],
    resources: { gpus: 0, cpu: 1, memory: 64 * 1024 * 1024 },
    ports: [],
    confinement: { ...FLOOR_CONFINEMENT },
    ...changes,
  });

  /** Submits `script` (sh) as `user` through the mapping, as the Slurm manager will; the job id. */
  async function submit(user: UnixUser, script: string, changes: Partial<TaskRunSpec> = {}, options: { maxRuntimeMs?: number; hold?: boolean; as?: string; partition?: string } = {}) {
    const spec = runSpec(user, changes);
    const pool = { name: 'test', partition: options.partition ?? cluster.partition, jobDir };
    const submission = slurmJobFor(spec, pool, { command: ['/bin/sh', '-c', script], environment: {} }, options);
    if (options.hold) submission.job.hold = true;
    const id = await client.submit(options.as ?? user.name, submission);
    submitted.push(id);
    return { id, spec, output: () => readFileSync(submission.job.standard_output!, 'utf8') };
  }

  const until = (id: number, what: string, check: (job: SlurmJob) => boolean, timeoutMs = 30_000) =>
    waitFor(what, async () => {
      const job = await client.job(id);
      return job && check(job) ? job : undefined;
    }, timeoutMs);
  const ended = (id: number, timeoutMs?: number) => until(id, `job ${id} to end`, (job) => slurmJobEnded(job.state), timeoutMs);

  test('a job submitted as a user runs as that uid and gid: `id` in its output says so; the job reads back typed', async (t) => {
    const before = Date.now();
    const { id, spec, output } = await submit(alice, 'id; echo "HOME=$HOME"; echo "GREETING=${GREETING:-unset}"; echo "PATH=$PATH"');
    const job = await ended(id);
    t.like(job, { id, state: 'COMPLETED', reason: null, user: { name: alice.name, uid: alice.uid }, gid: alice.gid, partition: cluster.partition, node: cluster.node });
    t.deepEqual(job.exit, { status: 0, signal: null });
    t.is(job.name, slurmJobName(spec.taskId, spec.leaseId));
    t.is(job.comment, job.name);
    t.deepEqual(taskOfSlurmJob(job), { taskId: spec.taskId, leaseId: spec.leaseId });
    t.true(job.startedAt! >= Math.floor(before / 1000) * 1000 && job.endedAt! >= job.startedAt!, JSON.stringify(job));
    t.true(job.submittedAt <= job.startedAt!);
    const printed = output();
    t.true(printed.includes(`uid=${alice.uid}(${alice.name}) gid=${alice.gid}(${alice.name})`), printed);
    t.true(printed.includes(`HOME=${alice.home}`), `HOME from the node's passwd:\n${printed}`);
    t.true(printed.includes('GREETING=unset'), `the task's variables are its agent's to give, not the job's:\n${printed}`);
    t.true(printed.includes('PATH=/usr/local/bin:/usr/bin:/bin\n'), `a clean PATH, not the submitter's:\n${printed}`);
  });

  test('an exit status and a signal come back decoded', async (t) => {
    const failed = await submit(alice, 'exit 3');
    t.like(await ended(failed.id), { state: 'FAILED', reason: 'NonZeroExitCode', exit: { status: 3, signal: null } });
  });

  test('cancel is scancel: the job sees SIGTERM and ends CANCELLED; a job Slurm no longer knows reads as undefined, and cancelling it as false', async (t) => {
    const { id, output } = await submit(alice, 'trap "echo got TERM; exit 143" TERM; echo ready; while true; do sleep 1; done');
    await until(id, `job ${id} to run`, (job) => job.state === 'RUNNING');
    await waitFor('the job to print ready', () => output().includes('ready'));
    t.true(await client.cancel(id));
    const job = await ended(id);
    t.is(job.state, 'CANCELLED');
    t.true(output().includes('got TERM'), output());
    t.is(await client.job(999_999), undefined);
    t.false(await client.cancel(999_999));
    t.false(await client.signal(999_999, 'TERM'));
  });

  test('a signal without cancelling: the job decides how it ends', async (t) => {
    const { id, output } = await submit(alice, 'trap "echo got USR1; exit 7" USR1; echo ready; while true; do sleep 1; done');
    await until(id, `job ${id} to run`, (job) => job.state === 'RUNNING');
    await waitFor('the job to print ready', () => output().includes('ready'));
    t.true(await client.signal(id, 'USR1'));
    t.like(await ended(id), { state: 'FAILED', exit: { status: 7, signal: null } });
    t.true(output().includes('got USR1'), output());
  });

  test('a time limit (max_runtime rounded up to a minute) ends the job TIMEOUT with the reason TimeLimit', async (t) => {
    t.timeout(180_000);
    const { id } = await submit(alice, 'sleep 600', {}, { maxRuntimeMs: 20_000 });
    const running = await until(id, `job ${id} to run`, (job) => job.state === 'RUNNING');
    t.is(running.timeLimitMinutes, 1);
    const job = await ended(id, 150_000);
    t.like(job, { state: 'TIMEOUT', reason: 'TimeLimit' });
    // Slurm's own clock: about a minute after it started (never before the limit).
    t.true(job.endedAt! - job.startedAt! >= 60_000, JSON.stringify(job));
  });

  test("a full partition: the next job waits with Slurm's reason (Resources, then Priority); capacity shows what is allocated", async (t) => {
    // The small partition allows one CPU on the node: one job fills it, and other tests' jobs (in the big one) go on.
    const small = { partition: cluster.smallPartition };
    const filler = await submit(alice, 'sleep 300', {}, small);
    await until(filler.id, `job ${filler.id} to run`, (job) => job.state === 'RUNNING', 60_000);
    const second = await submit(alice, 'true', {}, small);
    const third = await submit(alice, 'true', {}, small);
    t.like(await until(second.id, 'a pending reason', (job) => job.reason !== null), { state: 'PENDING', reason: 'Resources' });
    // Behind a job that waits for Resources, Slurm says Priority, or Resources again when a scheduling
    // pass weighed both jobs on their own (which one depends on when its passes ran): either is its word.
    const waiting = await until(third.id, 'a pending reason', (job) => job.reason !== null);
    t.is(waiting.state, 'PENDING');
    t.true(waiting.reason === 'Priority' || waiting.reason === 'Resources', JSON.stringify(waiting));
    t.is(waiting.startedAt, null, 'a pending job has not started (Slurm only estimates when it will)');
    t.is(waiting.node, null);
    const squeue = slurmCommand(cluster, 'squeue', ['-h', '-o', '%i %T %r', '-j', String(third.id)]);
    t.regex(squeue.trim(), new RegExp(`^${third.id} PENDING (Priority|Resources)$`), 'squeue agrees with the API');

    const [node] = (await client.nodes()).filter((n) => n.name === cluster.node);
    t.like(node, { cpus: 8, gpus: 1, memory: 4000 });
    t.true(node!.allocatedCpus >= 1 && node!.allocatedMemory >= 64, JSON.stringify(node));
    t.deepEqual([...node!.partitions].sort(), [cluster.partition, cluster.smallPartition, `${cluster.smallPartition}-crash`, `${cluster.smallPartition}-pool`].sort());
    const partition = await client.partition(cluster.smallPartition);
    t.like(partition, { name: cluster.smallPartition, state: 'UP', nodes: [cluster.node], totalNodes: 1, maxTimeMinutes: null });
    t.like(partitionCapacity(partition!, await client.nodes()), { nodes: 1, usableNodes: 1, cpus: 8, gpus: 1 });
    t.is(await client.partition('no-such-partition'), undefined);

    const mine = await client.jobs({ namePrefix: 'trainyard-task-' });
    for (const id of [filler.id, second.id, third.id]) t.true(mine.some((j) => j.id === id), `job ${id} listed by its name`);
    t.false(mine.some((j) => !j.name.startsWith('trainyard-task-')));

    await client.cancel(filler.id);
    t.is((await ended(second.id, 60_000)).state, 'COMPLETED', 'the waiting job runs once the partition has room');
  });

  test('a held job does not run until released; the identity Slurm resolved can be checked before', async (t) => {
    const { id, spec, output } = await submit(alice, 'echo released', {}, { hold: true });
    const held = await until(id, `job ${id} to be known`, (job) => job.reason !== null);
    t.like(held, { state: 'PENDING', reason: 'JobHeldUser' });
    t.is(slurmJobIdentityMismatch(held, spec.runAs), undefined);
    await client.release(id);
    t.is((await ended(id)).state, 'COMPLETED');
    t.is(output().trim(), 'released');
  });

  test("a user the node does not know: getent refuses before submitting; Slurm itself would take the job as uid 99 and never run it", async (t) => {
    const ghost = { name: `ghost${process.pid}`, uid: 64_999, gid: 64_999, home: '/nonexistent' };
    const spec = runSpec(ghost);
    const refused = await t.throwsAsync(checkSlurmUser(spec.runAs, { name: 'test' }, getentUsers()));
    t.regex(refused.message, new RegExp(`slurm\\.user_unknown: user '${ghost.name}' \\(uid 64999\\) is not known`));
    t.like(await checkSlurmUser(runSpec(alice).runAs, { name: 'test' }, getentUsers()), { uid: alice.uid, home: alice.home });

    // Why the check exists: the job is accepted, as uid 99 with no user name, and waits (held, so that it never loops here).
    const { id } = await submit(ghost as UnixUser, 'true', {}, { hold: true });
    const job = await until(id, `job ${id} to be known`, (j) => j.state === 'PENDING');
    t.regex(slurmJobIdentityMismatch(job, spec.runAs)!, /does not know the user/);
    t.true(await client.cancel(id));
  });

  test("Slurm's refusals arrive as SlurmError with its own message; a wrong key is refused; no answer is 'unreachable'", async (t) => {
    const spec = runSpec(alice);
    const submission = slurmJobFor(spec, { name: 'test', partition: 'no-such-partition', jobDir }, { command: ['true'], environment: {} });
    const refused = await t.throwsAsync(client.submit(alice.name, submission), { instanceOf: SlurmError });
    t.is(refused.kind, 'refused');
    t.regex(refused.message, /^Slurm refused the job 'trainyard-task-\d+-\w+' for user '\w+': Invalid partition name specified \(error 2000\)$/);
    t.deepEqual(refused.errors.map((e) => e.number), [2000]);

    const forged = createSlurmRestClient({ url: cluster.restUrl, jwt: new SlurmJwt(Buffer.alloc(32, 1), { user: 'root', lifetimeSeconds: 60, clock }), tokenUser: 'root' });
    const denied = await t.throwsAsync(forged.nodes(), { instanceOf: SlurmError });
    t.regex(denied.message, /^Slurm refused listing nodes: Unspecified error \(error -1\); Slurm says this when it rejects the JWT: check the pool's jwt_key_file/);

    const port = await freePort();
    const nobody = createSlurmRestClient({ url: `http://127.0.0.1:${port}`, jwt: new SlurmJwt(Buffer.alloc(32, 1), { user: 'root', lifetimeSeconds: 60, clock }), tokenUser: 'root' });
    const unreachable = await t.throwsAsync(nobody.job(1), { instanceOf: SlurmError });
    t.is(unreachable.kind, 'unreachable');
    t.regex(unreachable.message, new RegExp(`^slurmrestd at http://127\\.0\\.0\\.1:${port} did not answer \\(reading job 1\\): .*ECONNREFUSED`));
  });
}
