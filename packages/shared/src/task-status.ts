/**
 * A task's status as people and waiting clients see it: where it is (its stored state), why it
 * waits, and whether a kill is under way. No zod: the CLI and the web UI load it through constants.
 */
import { isTerminal, type TaskState } from './constants.js';
import { explainPendingReason } from './quotas.js';

/** What the status of a task is made of, on a summary, a task or a log page alike. */
export interface TaskStatusView {
  state: TaskState;
  pendingReason: string | null;
  agent: string | null;
  killRequest: { at: string; by: string | null; reason: string | null; preempt?: boolean } | null;
}

/**
 * What lists show in their STATE column: the stored state, or `KILLING` while a kill is under way
 * (asked, and the agent has not reported the task ended yet), as kubectl shows `Terminating`. Never
 * stored: the state machine keeps the task RUNNING until the agent says it was killed.
 */
export function displayState(task: Pick<TaskStatusView, 'state' | 'killRequest'>): string {
  if (task.killRequest === null || isTerminal(task.state)) return task.state;
  // A preemption stops the task the same way, and then queues it again.
  return task.killRequest.preempt ? 'PREEMPTING' : 'KILLING';
}

/**
 * A short key of everything a waiting client reports (state, pending reason, agent, kill): sent
 * back as `seen` in a long poll (`GET /tasks/:id`, `GET /tasks/:id/logs`), which answers as soon
 * as the task's key is another. Readable, not opaque: `QUEUED/NO_AGENT_FITS//`.
 */
export function taskStatusKey(task: TaskStatusView): string {
  return [task.state, task.pendingReason ?? '', task.agent ?? '', task.killRequest === null ? '' : task.killRequest.preempt ? 'preempt' : 'kill'].join('/');
}

/**
 * Who asked for a kill, in words: "alice", or "the master (RUNTIME_LIMIT: ...)". The master always
 * gives a reason; a kill with neither was asked before kills were recorded (migration 0021).
 */
export function describeKillRequest(kill: NonNullable<TaskStatusView['killRequest']>): string {
  if (kill.by !== null) return kill.by;
  return kill.reason ? `the master (${kill.reason})` : 'someone (not recorded)';
}

/**
 * Why a task is not running (yet), or what is happening to it, in one line for people who wait:
 * `queued: waiting for an agent to take it`, `queued: NO_AGENT_FITS: no agent has the room...`,
 * `pulling the image on agent gpu-1`, `being killed (asked by alice)`. The CLI prints it on stderr
 * while a task waits and each time it changes; the web UI shows the same words.
 */
export function describeTaskStatus(task: TaskStatusView): string {
  if (task.killRequest !== null && !isTerminal(task.state)) {
    if (task.killRequest.preempt) return `being preempted, to be queued again (${task.killRequest.reason ?? 'borrowed capacity reclaimed'})`;
    return `being killed (asked by ${describeKillRequest(task.killRequest)})`;
  }
  const on = task.agent ? ` on agent ${task.agent}` : '';
  switch (task.state) {
    case 'QUEUED':
      // A null reason: the scheduler has not passed it over (no agent has asked for work yet, or its turn has not come).
      return task.pendingReason === null
        ? 'queued: waiting for an agent to take it'
        : `queued: ${task.pendingReason}: ${explainPendingReason(task.pendingReason)}`;
    case 'ASSIGNED':
      // Placed, and held by its pool's engine before it starts (a Slurm job pending: SLURM:Resources).
      return task.pendingReason === null
        ? `assigned to agent ${task.agent ?? '?'}, starting`
        : `assigned to agent ${task.agent ?? '?'}, waiting: ${task.pendingReason}: ${explainPendingReason(task.pendingReason)}`;
    case 'PULLING':
      return `pulling the image${on}`;
    case 'RUNNING':
      return `running${on}`;
    default:
      return `ended: ${task.state}`;
  }
}
