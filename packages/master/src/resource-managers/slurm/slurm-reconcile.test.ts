import test from 'ava';
import type { TaskRow } from '../../db/schema.js';
import { jobIdOfPlacement, planSlurmReconcile, slurmPlacement, type ReconcileInput } from './slurm-reconcile.js';
import type { SlurmJob } from './slurmrestd-client.js';

// The rules a Slurm pool reconciles its tasks with Slurm's jobs by, one situation each (the real
// cluster runs them in test/slurm-pool.test.ts and test/slurm-crash.test.ts).
const NOW = 1_000_000;
const QUIET = 2000;

const task = (changes: Partial<TaskRow> = {}): TaskRow =>
  ({
    id: 7,
    state: 'ASSIGNED',
    lease_id: 'lease-a',
    lease_acked_at: null,
    placement: null,
    pending_reason: null,
    kill_requested_at: null,
    assigned_at: NOW - 60_000,
    ...changes,
  }) as TaskRow;

const job = (changes: Partial<SlurmJob> = {}): SlurmJob => ({
  id: 4711,
  name: 'trainyard-task-7-lease-a',
  comment: 'trainyard-task-7-lease-a master=x pool=hpc',
  state: 'PENDING',
  reason: 'Priority',
  user: { name: 'alice', uid: 1234 },
  gid: 1234,
  partition: 'batch',
  exit: null,
  submittedAt: NOW - 50_000,
  startedAt: null,
  endedAt: null,
  timeLimitMinutes: null,
  node: null,
  restarts: 0,
  ...changes,
});

const plan = (tasks: TaskRow[], jobs: SlurmJob[], extra: Partial<ReconcileInput> = {}) =>
  planSlurmReconcile({
    now: NOW,
    tasks,
    jobs,
    skip: () => false,
    heardAt: new Map(),
    verify: false,
    timings: { quietMs: QUIET, startTimeoutMs: 120_000, killBackstopMs: 15_000 },
    outputOf: (j) => `/tmp/${j.name}.out`,
    ...extra,
  });

test("a job Slurm holds: its reason, in Slurm's words, once it changes; a new job without a reason yet says nothing", (t) => {
  t.deepEqual(plan([task({ placement: 'slurm job 4711' })], [job()]), [{ kind: 'pending', task: task({ placement: 'slurm job 4711' }), reason: 'SLURM:Priority' }]);
  t.deepEqual(plan([task({ placement: 'slurm job 4711', pending_reason: 'SLURM:Priority' })], [job()]), []);
  t.deepEqual(plan([task({ placement: 'slurm job 4711' })], [job({ reason: null })]), []);
});

test('a job submitted whose id was never stored is adopted; a lease never submitted goes back to the queue', (t) => {
  const [adopt, pending] = plan([task()], [job()]);
  t.like(adopt, { kind: 'adopt', job: { id: 4711 } });
  t.like(pending, { kind: 'pending', reason: 'SLURM:Priority' });
  t.like(plan([task()], []), [{ kind: 'release', why: 'it was never submitted to Slurm (the master stopped while placing it)' }]);
  t.deepEqual(plan([task()], [], { skip: (id) => id === 7 }), [], 'a task being submitted is left alone');
});

test("a job whose lease is no task's current one is an orphan; a second job of the same lease too", (t) => {
  t.like(plan([], [job()]), [{ kind: 'orphan', job: { id: 4711 } }]);
  t.like(plan([task({ lease_id: 'lease-b' })], [job()]), [{ kind: 'orphan' }, { kind: 'release' }]);
  const placed = task({ placement: 'slurm job 4712', pending_reason: 'SLURM:Priority' });
  t.like(plan([placed], [job(), job({ id: 4712 })]), [{ kind: 'orphan', job: { id: 4711 } }]);
  t.deepEqual(plan([], [job({ state: 'COMPLETED', endedAt: NOW - 10_000 })]), [], 'an ended one is left to Slurm');
});

test('a job that ended while its agent is still heard from (reporting) is left alone; once the agent is quiet, the task ends as Slurm says', (t) => {
  const running = task({ state: 'RUNNING', lease_acked_at: NOW - 30_000, placement: 'slurm job 4711' });
  const cancelled = job({ state: 'CANCELLED', endedAt: NOW - 5000, startedAt: NOW - 30_000, node: 'n1' });
  t.deepEqual(plan([running], [cancelled], { heardAt: new Map([[7, NOW - 500]]) }), []);
  t.deepEqual(plan([running], [job({ state: 'CANCELLED', endedAt: NOW - 500, startedAt: NOW - 30_000 })]), [], 'ended only a moment ago');
  t.like(plan([running], [cancelled]), [{ kind: 'end', outcome: 'KILLED', message: 'the Slurm job 4711 was cancelled outside Trainyard (scancel)' }]);
  t.like(plan([running], [{ ...cancelled, state: 'TIMEOUT', timeLimitMinutes: 5 }]), [{ kind: 'end', outcome: 'KILLED', message: 'RUNTIME_LIMIT: the Slurm job 4711 reached its time limit (5 min)' }]);
  t.like(plan([running], [{ ...cancelled, state: 'NODE_FAIL' }]), [{ kind: 'end', outcome: 'LOST', message: 'the Slurm job 4711 lost its node n1 (NODE_FAIL)' }]);
  t.like(plan([running], [{ ...cancelled, state: 'OUT_OF_MEMORY' }]), [{ kind: 'end', outcome: 'FAILED' }]);
  t.like(plan([running], [{ ...cancelled, state: 'COMPLETED', exit: { status: 0, signal: null } }]), [{ kind: 'end', outcome: 'LOST' }], 'no report: not known to have completed');
  t.like(plan([{ ...running, kill_requested_at: NOW - 20_000 }], [cancelled]), [{ kind: 'end', outcome: 'KILLED', message: undefined }], "a kill Trainyard asked: the kill's own reason");
});

test('before its agent took the task: a job that failed to start FAILS it (nothing ran); a lost node or a preemption queues it again; scancel kills it', (t) => {
  const placed = task({ placement: 'slurm job 4711' });
  const failed = job({ state: 'FAILED', exit: { status: 127, signal: null }, endedAt: NOW - 5000, node: 'n1' });
  t.like(plan([placed], [failed]), [
    {
      kind: 'end',
      outcome: 'FAILED',
      message: "the Slurm job 4711 ended (FAILED, exit 127) before its one-shot agent took the task, so nothing ran (the job's own output: /tmp/trainyard-task-7-lease-a.out)",
    },
  ]);
  t.like(plan([placed], [{ ...failed, state: 'NODE_FAIL' }]), [{ kind: 'release' }]);
  t.like(plan([placed], [{ ...failed, state: 'CANCELLED' }]), [{ kind: 'end', outcome: 'KILLED', message: 'the Slurm job 4711 was cancelled outside Trainyard (scancel) before it started' }]);
  t.like(plan([placed], []), [{ kind: 'release', why: 'its Slurm job 4711 is gone before it started' }]);
});

test('a started job whose agent never takes the task is cancelled and the task FAILS; a kill its agent did not carry out is backed by scancel', (t) => {
  const placed = task({ placement: 'slurm job 4711', pending_reason: 'SLURM:Priority' });
  t.like(plan([placed], [job({ state: 'RUNNING', reason: null, startedAt: NOW - 1000 })]), [{ kind: 'pending', reason: null }], 'started: no longer held');
  const [, cancel] = plan([placed], [job({ state: 'RUNNING', reason: null, startedAt: NOW - 200_000, node: 'n1' })]);
  t.like(cancel, { kind: 'cancel', job: { id: 4711 }, end: { outcome: 'FAILED' } });
  const running = task({ state: 'RUNNING', lease_acked_at: NOW - 60_000, placement: 'slurm job 4711' });
  const alive = job({ state: 'RUNNING', reason: null, startedAt: NOW - 60_000 });
  t.deepEqual(plan([{ ...running, kill_requested_at: NOW - 5000 }], [alive]), []);
  t.like(plan([{ ...running, kill_requested_at: NOW - 20_000 }], [alive]), [{ kind: 'cancel', job: { id: 4711 } }]);
});

test('users: verify: a held job of a lease not yet checked is verified, not reported as held', (t) => {
  t.like(plan([task({ placement: 'slurm job 4711' })], [job({ reason: 'JobHeldUser' })], { verify: true }), [{ kind: 'verify', job: { id: 4711 } }]);
  t.like(plan([task({ placement: 'slurm job 4711' })], [job({ reason: 'JobHeldUser' })]), [{ kind: 'pending', reason: 'SLURM:JobHeldUser' }]);
});

test('an acknowledged task whose job Slurm no longer knows is LOST once its agent is quiet', (t) => {
  const running = task({ state: 'RUNNING', lease_acked_at: NOW - 60_000, placement: 'slurm job 4711' });
  t.deepEqual(plan([running], [], { heardAt: new Map([[7, NOW - 100]]) }), []);
  t.like(plan([running], []), [{ kind: 'end', outcome: 'LOST', message: 'its Slurm job 4711 is no longer known to Slurm, and its one-shot agent is gone' }]);
});

test('placements read back', (t) => {
  t.is(jobIdOfPlacement(slurmPlacement(42)), 42);
  t.is(jobIdOfPlacement(null), undefined);
  t.is(jobIdOfPlacement('agent x'), undefined);
});
