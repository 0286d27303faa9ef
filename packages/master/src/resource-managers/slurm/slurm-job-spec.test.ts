import { createHmac } from 'node:crypto';
import test from 'ava';
import { FLOOR_CONFINEMENT, type TaskRunSpec } from '@trainyard/shared';
import { DomainError } from '../../errors.js';
import { signHs256, SlurmJwt } from './slurm-jwt.js';
import { slurmJobFor, slurmJobName, taskOfSlurmJob, type SlurmPoolSettings } from './slurm-job-spec.js';
import { checkSlurmSpec, checkSlurmUser, slurmJobIdentityMismatch, type NodeUsers } from './slurm-run-as.js';
import { decodeWaitStatus, expandHostList, gpusInGres, partitionCapacity } from './slurmrestd-client.js';

const LEASE = '3f2a9c1e-0b7d-4c55-9e21-8d0f6a4b2c11';
const spec = (changes: Partial<TaskRunSpec> = {}): TaskRunSpec => ({
  taskId: 42,
  leaseId: LEASE,
  kind: 'experiment',
  name: 'train',
  image: 'busybox:latest',
  pull: 'never',
  entrypoint: ['python', 'train.py'],
  environment: { EPOCHS: '3' },
  runAs: { uid: 1500, user: 'bob', gid: 1500, group: 'bob', supplementaryGroups: [] },
  identitySources: { uid: 'link', user: 'link', gid: 'link', group: 'link', supplementaryGroups: 'link' },
  bindMounts: [],
  resources: { gpus: 0 },
  ports: [],
  confinement: { ...FLOOR_CONFINEMENT },
  ...changes,
});
const pool: SlurmPoolSettings = { name: 'hpc', partition: 'gpu', account: 'vision', jobDir: '/scratch/jobs' };
const launch = { command: ['/opt/trainyard/bin/yard-agent', '--one-shot', "it's"], environment: { YARD_AGENT_TOKEN: 'yard_agent_x', PATH: '/not/the/task/path' } };

test('resources map one to one: cpu rounds up to whole cores, memory to MiB, gpus to a gpu gres, max_runtime up to minutes', (t) => {
  const { job } = slurmJobFor(spec({ resources: { cpu: 1.5, memory: 3 * 1024 ** 3 + 1, gpus: 2 } }), pool, launch, { maxRuntimeMs: 90_500 });
  t.is(job.cpus_per_task, 2);
  t.is(job.memory_per_node, 3 * 1024 + 1);
  t.is(job.gres, 'gpu:2');
  t.is(job.time_limit, 2);
  t.deepEqual(job.nodes, [1, 1]);
  t.is(job.tasks, 1);
});

test("what the task leaves unset is left to Slurm's defaults (one core, the partition's memory and time limit, no GPU)", (t) => {
  const { job } = slurmJobFor(spec(), pool, launch);
  for (const key of ['cpus_per_task', 'memory_per_node', 'gres', 'time_limit'] as const) t.false(key in job, key);
  t.is(slurmJobFor(spec({ resources: { gpus: 0, cpu: 0.1, memory: 1 } }), pool, launch).job.cpus_per_task, 1, 'never zero cores');
  t.is(slurmJobFor(spec(), pool, launch, { maxRuntimeMs: 1000 }).job.time_limit, 1, 'never a zero-minute limit (Slurm reads 0 as none)');
});

test('the pool sets partition and account; name and comment tie the job to its task and lease, and read back', (t) => {
  const { job } = slurmJobFor(spec(), pool, launch);
  t.like(job, { partition: 'gpu', account: 'vision', name: `trainyard-task-42-${LEASE}`, comment: `trainyard-task-42-${LEASE}` });
  t.false('partition' in slurmJobFor(spec(), { name: 'p', jobDir: '/tmp' }, launch).job, 'no partition: the cluster default');
  t.deepEqual(taskOfSlurmJob({ name: slurmJobName(42, LEASE) }), { taskId: 42, leaseId: LEASE });
  t.is(taskOfSlurmJob({ name: 'someone-elses-job' }), undefined);
  t.is(taskOfSlurmJob({ name: 'trainyard-task-x-1' }), undefined);
});

test("the environment is all the job gets (--export=NONE): a clean PATH and the launcher's variables; the task's own reach the task through its agent, never the agent itself", (t) => {
  const { job } = slurmJobFor(spec({ environment: { EPOCHS: '3', YARD_AGENT_TOKEN: 'forged', PATH: '/opt/conda/bin', LD_PRELOAD: '/x.so' } }), pool, launch);
  t.deepEqual(job.environment, { PATH: '/not/the/task/path', YARD_AGENT_TOKEN: 'yard_agent_x' });
  const plain = slurmJobFor(spec(), { ...pool, path: '/cluster/bin:/usr/bin' }, { command: ['x'], environment: {} }).job.environment;
  t.deepEqual(plain, { PATH: '/cluster/bin:/usr/bin' });
  t.deepEqual(slurmJobFor(spec(), pool, { command: ['x'], environment: {} }).job.environment.PATH, '/usr/local/bin:/usr/bin:/bin');
});

test("the job starts in the pool's job directory and writes its own output there; Slurm never requeues it", (t) => {
  const { job } = slurmJobFor(spec(), pool, launch);
  t.is(job.current_working_directory, '/scratch/jobs');
  t.is(job.standard_output, `/scratch/jobs/trainyard-task-42-${LEASE}.out`);
  t.false(job.requeue);
  t.throws(() => slurmJobFor(spec(), { ...pool, jobDir: 'relative' }, launch), { message: /absolute job directory/ });
});

test("the batch script sets the user's HOME from the node's passwd and execs the launcher, every word quoted", (t) => {
  const { script } = slurmJobFor(spec(), pool, launch);
  t.true(script.startsWith('#!/bin/sh\n'));
  t.true(script.includes('\nHOME=$(getent passwd "$(id -u)" | cut -d: -f6)\nexport HOME\n'), script);
  t.true(script.trimEnd().endsWith(`exec '/opt/trainyard/bin/yard-agent' '--one-shot' 'it'\\''s'`), script);
});

test('a Slurm pool refuses root whatever the policy says, naming the rule', (t) => {
  const root = { uid: 0, user: 'root', gid: 0, group: 'root', supplementaryGroups: [] };
  const error = t.throws(() => checkSlurmSpec(spec({ runAs: root }), { name: 'hpc', container: 'none' }), { instanceOf: DomainError });
  t.is(error.code, 'POLICY_DENIED');
  t.regex(error.message, /^task refused by slurm\.run_as_root: it would run as root \(uid 0\) on the Slurm pool 'hpc'/);
  t.deepEqual(error.extra.details, { rule: 'slurm.run_as_root', layer: 'pool:hpc' });
  t.throws(() => checkSlurmSpec(spec({ runAs: { ...root, uid: 7 } }), { name: 'hpc', container: 'none' }), { message: /slurm\.run_as_root/ }, 'the name root too');
  t.notThrows(() => checkSlurmSpec(spec(), { name: 'hpc', container: 'none' }));
});

test('without a container a bind mount can only be its own host path', (t) => {
  const mount = (containerPath: string) => ({ hostPath: '/data/bob', containerPath, readOnly: false, allowedRoot: '/data', source: 'task' as const, rule: 'x' });
  t.throws(() => checkSlurmSpec(spec({ bindMounts: [mount('/data')] }), { name: 'hpc', container: 'none' }), { message: /slurm\.mount_paths: .*\/data\/bob cannot appear at \/data/ });
  t.notThrows(() => checkSlurmSpec(spec({ bindMounts: [mount('/data/bob')] }), { name: 'hpc', container: 'none' }));
  t.notThrows(() => checkSlurmSpec(spec({ bindMounts: [mount('/data')] }), { name: 'hpc', container: 'podman' }), 'a container maps paths');
});

test("users: shared: the nodes must know the user by name with the task's uid, and the task's gid must be its primary group", async (t) => {
  const users: NodeUsers = { byName: async (name) => (name === 'bob' ? { name, uid: 1500, gid: 1500, home: '/home/bob' } : undefined) };
  const runAs = spec().runAs;
  t.like(await checkSlurmUser(runAs, { name: 'hpc' }, users), { home: '/home/bob' });
  const unknown = await t.throwsAsync(checkSlurmUser({ ...runAs, user: 'carol' }, { name: 'hpc' }, users));
  t.regex(unknown.message, /slurm\.user_unknown: user 'carol' \(uid 1500\) is not known on the nodes of the Slurm pool 'hpc'/);
  t.regex((await t.throwsAsync(checkSlurmUser({ ...runAs, uid: 1501 }, { name: 'hpc' }, users))).message, /'bob' is uid 1500 on the nodes .* as uid 1501/);
  const group = await t.throwsAsync(checkSlurmUser({ ...runAs, gid: 3000, group: 'vision' }, { name: 'hpc' }, users));
  t.regex(group.message, /slurm\.primary_group: .*'bob' has gid 1500 .* as gid 3000 \(vision\)/);
  t.deepEqual((group as DomainError).extra.details, { rule: 'slurm.primary_group', layer: 'pool:hpc' });
});

test('users: verify compares the uid and gid Slurm gave a job with the task', (t) => {
  const runAs = spec().runAs;
  t.is(slurmJobIdentityMismatch({ user: { name: 'bob', uid: 1500 }, gid: 1500 }, runAs), undefined);
  t.regex(slurmJobIdentityMismatch({ user: { name: null, uid: 99 }, gid: 99 }, runAs)!, /does not know the user 'bob'/);
  t.regex(slurmJobIdentityMismatch({ user: { name: 'bob', uid: 1600 }, gid: 1500 }, runAs)!, /uid 1600/);
  t.regex(slurmJobIdentityMismatch({ user: { name: 'bob', uid: 1500 }, gid: 100 }, runAs)!, /gid 100/);
});

test("Slurm's wait statuses, gres strings and host lists decode", (t) => {
  t.deepEqual(decodeWaitStatus(0), { status: 0, signal: null });
  t.deepEqual(decodeWaitStatus(768), { status: 3, signal: null });
  t.deepEqual(decodeWaitStatus(15), { status: null, signal: 15 });
  t.deepEqual(decodeWaitStatus(9), { status: null, signal: 9 });
  t.is(gpusInGres('gpu:1'), 1);
  t.is(gpusInGres('gpu:a100:4(S:0-1),gpu:v100:2'), 6);
  t.is(gpusInGres('gpu:1(IDX:0),shard:8'), 1);
  t.is(gpusInGres('gpu:0'), 0);
  t.is(gpusInGres(null), 0);
  t.deepEqual(expandHostList('vm'), ['vm']);
  t.deepEqual(expandHostList('node[01-03,7],gpu1'), ['node01', 'node02', 'node03', 'node7', 'gpu1']);
});

test('capacity sums the usable nodes of a partition', (t) => {
  const node = (name: string, state: string, alloc: number) => ({
    name, state, flags: [], cpus: 4, allocatedCpus: alloc, memory: 1000, allocatedMemory: alloc * 100, gpus: 1, allocatedGpus: alloc > 0 ? 1 : 0, partitions: ['p'], reason: null,
  });
  const capacity = partitionCapacity(
    { name: 'p', state: 'UP', nodes: ['a', 'b', 'c'], totalCpus: 12, totalNodes: 3, maxTimeMinutes: null, defaultTimeMinutes: null },
    [node('a', 'idle', 0), node('b', 'mixed', 2), node('c', 'down', 0), { ...node('x', 'idle', 0), partitions: ['other'] }],
  );
  t.deepEqual(capacity, { nodes: 3, usableNodes: 2, cpus: 8, allocatedCpus: 2, memoryMb: 2000, allocatedMemoryMb: 200, gpus: 2, allocatedGpus: 1 });
});

test('JWTs are HS256 over the header and claims {iat, exp, sun}, renewed before they expire', (t) => {
  const key = Buffer.alloc(32, 7);
  const token = signHs256({ iat: 1, exp: 2, sun: 'root' }, key);
  const [header, payload, signature] = token.split('.') as [string, string, string];
  t.deepEqual(JSON.parse(Buffer.from(header, 'base64url').toString()), { alg: 'HS256', typ: 'JWT' });
  t.deepEqual(JSON.parse(Buffer.from(payload, 'base64url').toString()), { iat: 1, exp: 2, sun: 'root' });
  t.is(signature, createHmac('sha256', key).update(`${header}.${payload}`).digest('base64url'));

  let now = 1_700_000_000_000;
  const jwt = new SlurmJwt(key, { user: 'slurm', lifetimeSeconds: 600, clock: { now: () => now } });
  const first = jwt.token();
  const claims = JSON.parse(Buffer.from(first.split('.')[1]!, 'base64url').toString());
  t.deepEqual(claims, { iat: 1_700_000_000, exp: 1_700_000_600, sun: 'slurm' });
  now += 500_000;
  t.is(jwt.token(), first, 'reused while most of its life is left');
  now += 50_000;
  t.not(jwt.token(), first, 'renewed in its last tenth');
  t.throws(() => new SlurmJwt(Buffer.alloc(4), { user: 'root', lifetimeSeconds: 60, clock: { now: () => now } }), { message: /4 bytes long/ });
  t.throws(() => SlurmJwt.fromKeyFile('/nonexistent/jwt.key', { user: 'root', lifetimeSeconds: 60, clock: { now: () => now } }), { message: /cannot read the Slurm JWT key \/nonexistent\/jwt.key: ENOENT/ });
});
