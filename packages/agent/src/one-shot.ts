import { execFile } from 'node:child_process';
import { mkdirSync, realpathSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { oneShotAgentId, type AgentResources } from '@trainyard/shared';
import { Agent } from './agent.js';
import type { RunOutcome } from './executors/executor.js';
import { PodmanExecutor } from './executors/podman-executor.js';
import { ProcessExecutor } from './executors/process-executor.js';
import { MasterClient, MasterError } from './master-client.js';

/** How long the task gets between SIGTERM and SIGKILL when Slurm ends the job (Slurm's own KillWait follows). */
const OUTSIDE_GRACE_MS = 5000;

/**
 * `yard-agent --one-shot --task ID`: the agent a resource manager starts inside the job it
 * submitted for one task (Slurm), already as the task's user. It registers as `task-<id>` with a
 * token valid only for that task's lease (YARD_AGENT_TOKEN, put in the job's environment by the
 * master), takes that lease, runs the task as itself, on the node (the process executor) or in its
 * image (rootless podman, `--container podman`), never changing identity (it checks that its uid
 * and gid are the task's, and runs nothing otherwise), serves the proxy's
 * and shells' streams, reports logs and states like any agent, and exits once the outcome is
 * reported: with the task's exit status, so that Slurm's own record agrees. SIGTERM (scancel,
 * the time limit, preemption) stops the task, which ends KILLED with Slurm's reason.
 */
export async function runOneShot(options: {
  master: string;
  token: string;
  taskId: number;
  /** none: the task runs on the node as a process of this user; podman: rootless, in its image. */
  container: { kind: 'none' } | { kind: 'podman'; globalArgs: string[] };
  workDir?: string;
  logger: Logger;
}): Promise<number> {
  const { logger, taskId } = options;
  const agentId = oneShotAgentId(taskId);
  // Its own state for this one task, removed when it is over: the job's temporary directory by default.
  const workDir = path.resolve(options.workDir ?? path.join(process.env.TMPDIR || os.tmpdir(), `yard-agent-${agentId}-${process.pid}`));
  mkdirSync(workDir, { recursive: true, mode: 0o700 });
  /** Why the job was ended from outside, once a SIGTERM came. */
  let terminated: Promise<string> | undefined;
  const { container } = options;
  const executor =
    container.kind === 'podman'
      ? new PodmanExecutor(workDir, { globalArgs: container.globalArgs, environment: jobEnvironment() })
      : new ProcessExecutor(workDir, { asItself: true, environment: jobEnvironment() });
  const agent = new Agent(new MasterClient(options.master, agentId, options.token), executor, logger, {
    floor: { agentDirs: [workDir, realpathSync(workDir)], engineSockets: [] },
    oneShot: { taskId, endedOutside: () => terminated ?? slurmEnding() },
    ...(process.env.SLURM_JOB_ID ? { resources: slurmAllocation() } : {}),
  });
  console.error(`yard-agent ${agentId}: one-shot agent for task ${taskId} as ${os.userInfo().username} (uid ${process.getuid?.()})`);
  const endFromOutside = () => {
    terminated ??= slurmEnding().then((reason) => reason ?? (process.env.SLURM_JOB_ID ? `the Slurm job ${process.env.SLURM_JOB_ID} was ended (SIGTERM)` : 'the one-shot agent was stopped (SIGTERM) before its task ended'));
    void terminated.then((why) => logger.warn({ reason: why }, 'the job is being ended from outside Trainyard; stopping the task'));
    agent.endFromOutside(terminated, OUTSIDE_GRACE_MS);
  };
  process.on('SIGTERM', endFromOutside);
  process.on('SIGINT', endFromOutside);
  try {
    await agent.run();
  } catch (error) {
    if (error instanceof MasterError && (error.status === 401 || error.status === 403)) {
      console.error(`yard-agent ${agentId}: the master does not accept this one-shot agent (${error.message}); nothing was run`);
      return 1;
    }
    throw error;
  } finally {
    await agent.stopRuns(OUTSIDE_GRACE_MS);
    rmSync(workDir, { recursive: true, force: true });
  }
  return exitStatus(agent.outcome);
}

/**
 * What Slurm tells the job's processes about their allocation: SLURM_* (the job id, cores, nodes)
 * and the GPUs it was given (CUDA_VISIBLE_DEVICES and its kin), passed on to the task and never
 * replaced by the task's own variables.
 */
function jobEnvironment(): Record<string, string> {
  const passed = /^(SLURM_\w+|SLURMD_NODENAME|CUDA_VISIBLE_DEVICES|GPU_DEVICE_ORDINAL|ROCR_VISIBLE_DEVICES|ZE_AFFINITY_MASK|TMPDIR)$/;
  return Object.fromEntries(Object.entries(process.env).filter((entry): entry is [string, string] => passed.test(entry[0]) && entry[1] !== undefined));
}

/**
 * What the Slurm job was given (its cores, memory and GPUs on this node), which is what the task
 * may use, rather than the whole machine's.
 */
function slurmAllocation(): AgentResources {
  const env = process.env;
  const cpus = Number(env.SLURM_CPUS_ON_NODE) || 1;
  const memoryMb = Number(env.SLURM_MEM_PER_NODE) || Number(env.SLURM_MEM_PER_CPU) * cpus || Math.floor(os.totalmem() / 2 ** 20);
  const indexes = (env.SLURM_JOB_GPUS ?? env.CUDA_VISIBLE_DEVICES ?? '').split(',').filter((i) => /^\d+$/.test(i));
  return {
    cpus,
    memoryBytes: memoryMb * 2 ** 20,
    gpus: indexes.map((index) => ({ index: Number(index), name: `GPU ${index} (allocated by Slurm)` })),
  };
}

/** The job's exit status: the task's own (0-255), 1 for any other ending, as if Slurm had run the task itself. */
function exitStatus(outcome: RunOutcome | undefined): number {
  if (!outcome) return 1;
  if (outcome.state === 'COMPLETED') return 0;
  return outcome.exitCode !== undefined && outcome.exitCode > 0 && outcome.exitCode < 256 ? outcome.exitCode : 1;
}

/**
 * Whether Slurm is ending this job, and why, in its words (scontrol, on a node with Slurm's
 * commands): its time limit is `RUNTIME_LIMIT`, like Trainyard's own max_runtime; anything else
 * names Slurm's state and reason. Undefined outside a Slurm job, or while the job still runs.
 */
async function slurmEnding(): Promise<string | undefined> {
  const jobId = process.env.SLURM_JOB_ID;
  if (!jobId) return undefined;
  const fields = await new Promise<Record<string, string>>((resolve) => {
    execFile('scontrol', ['show', 'job', '-o', jobId], { timeout: 3000 }, (error, stdout) => {
      if (error) return resolve({});
      resolve(Object.fromEntries(stdout.trim().split(/\s+/).map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)])));
    });
  });
  const { JobState: state, Reason: reason, TimeLimit: limit } = fields;
  if (!state || state === 'RUNNING' || state === 'SUSPENDED') return undefined;
  if (reason === 'TimeLimit' || state === 'TIMEOUT') return `RUNTIME_LIMIT: the Slurm job ${jobId} reached its time limit${limit ? ` (${limit})` : ''}`;
  if (state === 'PREEMPTED' || reason === 'Preemption') return `the Slurm job ${jobId} was preempted`;
  if (state === 'NODE_FAIL' || reason === 'NodeDown') return `the Slurm job ${jobId} lost its node`;
  // scancel leaves the job COMPLETING with no reason while its processes are signalled, then CANCELLED.
  if (state === 'CANCELLED' || (state === 'COMPLETING' && (!reason || reason === 'None'))) return `the Slurm job ${jobId} was cancelled outside Trainyard (scancel)`;
  return `the Slurm job ${jobId} was ended by Slurm (${state}${reason && reason !== 'None' ? `, ${reason}` : ''})`;
}
