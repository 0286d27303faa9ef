import path from 'node:path';
import type { TaskRunSpec } from '@trainyard/shared';
import type { SlurmJobSubmission } from './slurmrestd-client.js';

/** What a Slurm pool sets for every job (master.yaml's pool settings, as the adapter passes them). */
export interface SlurmPoolSettings {
  /** The pool's name, for refusals and messages. */
  name: string;
  /** Unset: the cluster's default partition. */
  partition?: string;
  /** Unset: the user's default account. */
  account?: string;
  /**
   * Where jobs start and write their own output (the one-shot agent's diagnostics, never the
   * task's: that goes to the master): a directory on the nodes that every user may write, /tmp
   * by default. The task itself starts in its user's home.
   */
  jobDir: string;
  /** The PATH a job starts with (--export=NONE gives none): the nodes' usual one by default. */
  path?: string;
}

export const DEFAULT_JOB_PATH = '/usr/local/bin:/usr/bin:/bin';

/** What the job runs: the one-shot agent, bound to this task (see docs/architecture.md, "Slurm"). */
export interface SlurmLaunch {
  command: string[];
  /** The launcher's own variables (its per-task token). */
  environment: Record<string, string>;
}

const MIB = 1024 * 1024;
const JOB_NAME = /^trainyard-task-(\d+)-([0-9a-zA-Z-]{1,64})$/;

/** The name and comment of a task's job: `trainyard-task-<id>-<lease>`, so that the job is found again after a restart. */
export const slurmJobName = (taskId: number, leaseId: string) => `trainyard-task-${taskId}-${leaseId}`;
/** Every Trainyard job's name starts with this (reconciliation lists them by it). */
export const SLURM_JOB_PREFIX = 'trainyard-task-';

/** The task and lease a job was submitted for, from its name; undefined for jobs that are not Trainyard's. */
export function taskOfSlurmJob(job: { name: string }): { taskId: number; leaseId: string } | undefined {
  const match = JOB_NAME.exec(job.name);
  return match ? { taskId: Number(match[1]), leaseId: match[2]! } : undefined;
}

/**
 * The Slurm job for a task's lease. Resources map one to one: cpu -> cpus_per_task (whole cores,
 * rounded up; unset: Slurm's one), memory -> memory_per_node (MiB, rounded up; unset: the
 * partition's default), gpus -> the `gpu:N` gres, max_runtime -> time_limit (minutes, rounded up;
 * unset: the partition's). The pool sets partition and account. The environment is the job's
 * whole environment, as `--export=NONE` gives it: a clean PATH (the script sets the user's HOME
 * from the node's passwd) and the launcher's own variables. The task's variables reach the task
 * through the one-shot agent (they are in its spec), not through the job: a task's PATH or
 * LD_PRELOAD must not decide how the agent itself is found and run. Slurm never requeues it: a
 * restart is Trainyard's decision.
 */
export function slurmJobFor(
  spec: TaskRunSpec,
  pool: SlurmPoolSettings,
  launch: SlurmLaunch,
  limits: {
    maxRuntimeMs?: number | undefined;
    /** Words after the name in the job's comment: which master and pool submitted it (`master=<tag> pool=<name>`). */
    tag?: string | undefined;
    /** Submitted held (a pool with `users: verify`: released once the identity Slurm gave it is checked). */
    hold?: boolean | undefined;
  } = {},
): SlurmJobSubmission {
  if (!path.isAbsolute(pool.jobDir)) throw new Error(`the Slurm pool '${pool.name}' needs an absolute job directory, not '${pool.jobDir}'`);
  if (launch.command.length === 0) throw new Error('a Slurm job needs a command to run');
  const name = slurmJobName(spec.taskId, spec.leaseId);
  const { cpu, memory, gpus } = spec.resources;
  return {
    script: batchScript(launch.command),
    job: {
      name,
      comment: limits.tag ? `${name} ${limits.tag}` : name,
      ...(pool.partition ? { partition: pool.partition } : {}),
      ...(pool.account ? { account: pool.account } : {}),
      nodes: [1, 1],
      tasks: 1,
      ...(cpu ? { cpus_per_task: Math.max(1, Math.ceil(cpu)) } : {}),
      ...(memory ? { memory_per_node: Math.max(1, Math.ceil(memory / MIB)) } : {}),
      ...(gpus > 0 ? { gres: `gpu:${gpus}` } : {}),
      ...(limits.maxRuntimeMs ? { time_limit: Math.max(1, Math.ceil(limits.maxRuntimeMs / 60_000)) } : {}),
      environment: { PATH: pool.path ?? DEFAULT_JOB_PATH, ...launch.environment },
      current_working_directory: pool.jobDir,
      standard_output: path.join(pool.jobDir, `${name}.out`),
      requeue: false,
      ...(limits.hold ? { hold: true } : {}),
    },
  };
}

const quote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;

/**
 * The batch script: the user's HOME from the node's own passwd (Slurm sets none with an explicit
 * environment), then the launcher in the script's place, so that Slurm's signals (scancel, the
 * time limit) reach it.
 */
function batchScript(command: string[]): string {
  return [
    '#!/bin/sh',
    '# Submitted by Trainyard: the one-shot agent of one task (see `yard task describe`).',
    'HOME=$(getent passwd "$(id -u)" | cut -d: -f6)',
    'export HOME',
    `exec ${command.map(quote).join(' ')}`,
    '',
  ].join('\n');
}
