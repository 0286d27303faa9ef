import type { TaskRow } from '../../db/schema.js';
import { taskOfSlurmJob } from './slurm-job-spec.js';
import { slurmJobEnded, type SlurmJob } from './slurmrestd-client.js';

/**
 * What a Slurm pool's manager does after comparing its placed tasks with Slurm's jobs (at start,
 * and every `poll_interval`): pure, so that every rule is read here in one place and tested without
 * a cluster (slurm-reconcile.test.ts). The manager applies the actions, each guarded by the task's
 * state and lease, so a report that raced it wins.
 */
export type ReconcileAction =
  /** Slurm has the job of the task's lease, but its id was never stored (the master stopped after submitting): note it. */
  | { kind: 'adopt'; task: TaskRow; job: SlurmJob }
  /** Why Slurm holds the job (`SLURM:Resources`), or null once it started: noted when it changed. */
  | { kind: 'pending'; task: TaskRow; reason: string | null }
  /** A held job of a `users: verify` pool whose check the master did not finish: compare and release (or cancel). */
  | { kind: 'verify'; task: TaskRow; job: SlurmJob }
  /** Nothing ran under the lease (never submitted, or the job is gone before its agent took the task): queued again. */
  | { kind: 'release'; task: TaskRow; why: string }
  /** The job ended and its one-shot agent is gone without reporting: the task ends as Slurm says. */
  | { kind: 'end'; task: TaskRow; outcome: 'FAILED' | 'KILLED' | 'LOST'; message: string | undefined }
  /** A job to cancel: its task's kill was not carried out in time, or its agent never took the task (then the task ends too). */
  | { kind: 'cancel'; job: SlurmJob; why: string; end?: { task: TaskRow; outcome: 'FAILED'; message: string } }
  /** A job of this pool whose lease is no task's current one (its task ended, or was placed again): the manager cancels it. */
  | { kind: 'orphan'; job: SlurmJob };

export interface ReconcileInput {
  now: number;
  /** The pool's ASSIGNED, PULLING and RUNNING tasks, read before `jobs`. */
  tasks: TaskRow[];
  /** Slurm's jobs of this pool (this master's, by their comment), listed after `tasks`. */
  jobs: SlurmJob[];
  /** Tasks to leave alone this time: being submitted, or placed or submitted since `tasks` were read. */
  skip: (taskId: number) => boolean;
  /** When each task's one-shot agent was last heard from (absent: it never registered, or was forgotten). */
  heardAt: ReadonlyMap<number, number>;
  /** `users: verify`: held jobs are the master's identity check, not yet done. */
  verify: boolean;
  timings: {
    /** How long a job must have ended, and its agent been silent, before the master ends the task itself. */
    quietMs: number;
    /** How long a started job's agent has to take the task. */
    startTimeoutMs: number;
    /** How long after a kill was asked the job is cancelled if the task still runs. */
    killBackstopMs: number;
  };
  /** Where a job wrote its own output (the one-shot agent's log), for messages. */
  outputOf: (job: SlurmJob) => string;
}

export function planSlurmReconcile(input: ReconcileInput): ReconcileAction[] {
  const { now, tasks, skip, heardAt, timings } = input;
  const actions: ReconcileAction[] = [];
  const current = new Map(tasks.map((t) => [`${t.id}:${t.lease_id}`, t]));
  const jobsOf = new Map<number, SlurmJob[]>();
  for (const job of input.jobs) {
    const of = taskOfSlurmJob(job);
    if (!of || skip(of.taskId)) continue;
    const task = current.get(`${of.taskId}:${of.leaseId}`);
    if (!task) {
      if (!slurmJobEnded(job.state)) actions.push({ kind: 'orphan', job });
      continue;
    }
    jobsOf.set(task.id, [...(jobsOf.get(task.id) ?? []), job]);
  }

  for (const task of tasks) {
    if (skip(task.id)) continue;
    const acked = task.state !== 'ASSIGNED' || task.lease_acked_at !== null;
    // The job whose id is stored, else the first Slurm has: any other of the same lease is a duplicate.
    const candidates = (jobsOf.get(task.id) ?? []).sort((a, b) => a.id - b.id);
    const job = candidates.find((j) => task.placement === slurmPlacement(j.id)) ?? candidates[0];
    for (const other of candidates) if (other !== job && !slurmJobEnded(other.state)) actions.push({ kind: 'orphan', job: other });
    const quiet = (since: number) => now - Math.max(since, heardAt.get(task.id) ?? 0) > timings.quietMs;

    if (!job) {
      // Slurm keeps an ended job for MinJobAge: a job missing from its list never was, or ended long ago.
      if (!acked) {
        actions.push({
          kind: 'release',
          task,
          why: task.placement ? `its ${describePlacement(task.placement)} is gone before it started` : 'it was never submitted to Slurm (the master stopped while placing it)',
        });
      } else if (quiet(0)) {
        actions.push({ kind: 'end', task, outcome: 'LOST', message: `its ${describePlacement(task.placement) ?? 'Slurm job'} is no longer known to Slurm, and its one-shot agent is gone` });
      }
      continue;
    }
    if (task.placement !== slurmPlacement(job.id)) actions.push({ kind: 'adopt', task, job });

    if (slurmJobEnded(job.state)) {
      if (quiet(job.endedAt ?? now)) actions.push(ending(task, job, acked, input.outputOf(job)));
      continue;
    }
    if (job.state === 'PENDING') {
      if (input.verify && job.reason === 'JobHeldUser' && !acked) {
        actions.push({ kind: 'verify', task, job });
        continue;
      }
      // Slurm says no reason ("None") until its scheduler has looked at a new job: nothing to say yet.
      const reason = job.reason === null ? null : `SLURM:${job.reason}`;
      if (task.state === 'ASSIGNED' && reason !== null && reason !== task.pending_reason) actions.push({ kind: 'pending', task, reason });
      continue;
    }
    // Running (or configuring, completing, suspended) in Slurm.
    if (task.state === 'ASSIGNED' && !acked && task.pending_reason !== null) actions.push({ kind: 'pending', task, reason: null });
    if (!acked && job.startedAt !== null && now - job.startedAt > timings.startTimeoutMs) {
      const message =
        `the one-shot agent of Slurm job ${job.id} did not take the task within ${Math.round(timings.startTimeoutMs / 1000)} s of the job starting on ${job.node ?? 'its node'} ` +
        `(it cannot reach the master at the pool's master_url, or cannot start: see ${input.outputOf(job)})`;
      actions.push({ kind: 'cancel', job, why: 'its one-shot agent never took the task', end: { task, outcome: 'FAILED', message } });
      continue;
    }
    if (task.kill_requested_at !== null && now - task.kill_requested_at > timings.killBackstopMs) {
      actions.push({ kind: 'cancel', job, why: `the kill asked ${Math.round((now - task.kill_requested_at) / 1000)} s ago was not carried out by its agent` });
    }
  }
  return actions;
}

/** How a task ends when its job ended and its agent is gone without a report: in Slurm's words. */
function ending(task: TaskRow, job: SlurmJob, acked: boolean, output: string): ReconcileAction {
  const named = `the Slurm job ${job.id}`;
  const exit = job.exit === null ? '' : job.exit.signal !== null ? `, signal ${job.exit.signal}` : `, exit ${job.exit.status}`;
  const end = (outcome: 'FAILED' | 'KILLED' | 'LOST', message: string | undefined): ReconcileAction => ({ kind: 'end', task, outcome, message });
  // A kill Trainyard asked for: KILLED, with the kill's own reason (RUNTIME_LIMIT...), as an agent would report it.
  if (task.kill_requested_at !== null) return end('KILLED', undefined);
  switch (job.state) {
    case 'TIMEOUT':
      return end('KILLED', `RUNTIME_LIMIT: ${named} reached its time limit${job.timeLimitMinutes === null ? '' : ` (${job.timeLimitMinutes} min)`}`);
    case 'DEADLINE':
      return end('KILLED', `${named} reached its deadline`);
    case 'CANCELLED':
      return end('KILLED', `${named} was cancelled outside Trainyard (scancel)${acked ? '' : ' before it started'}`);
    case 'NODE_FAIL':
    case 'BOOT_FAIL':
    case 'PREEMPTED': {
      const why = job.state === 'PREEMPTED' ? `${named} was preempted` : `${named} lost its node${job.node ? ` ${job.node}` : ''} (${job.state})`;
      // Before its agent took the task nothing ran: it waits for another turn at no restart's cost.
      return acked ? end('LOST', why) : { kind: 'release', task, why };
    }
    case 'OUT_OF_MEMORY':
      return end('FAILED', `${named} ran out of memory (Slurm's limit for it)`);
    default:
      return acked
        ? end('LOST', `${named} ended (${job.state}${exit}) but its one-shot agent never reported how the task ended (the job's own output: ${output})`)
        : end('FAILED', `${named} ended (${job.state}${exit}) before its one-shot agent took the task, so nothing ran (the job's own output: ${output})`);
  }
}

/** What `tasks.placement` says of a task's run in a Slurm pool. */
export const slurmPlacement = (jobId: number) => `slurm job ${jobId}`;

/** The job id in a placement this manager wrote; undefined for none. */
export function jobIdOfPlacement(placement: string | null): number | undefined {
  const match = placement === null ? null : /^slurm job (\d+)$/.exec(placement);
  return match ? Number(match[1]) : undefined;
}

const describePlacement = (placement: string | null) => (placement === null ? undefined : placement.replace(/^slurm job/, 'Slurm job'));
