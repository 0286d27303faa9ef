import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { PoolEngineView, PoolManager, PoolResources, RunSpec, StreamTarget, TaskKind, WhyPlacement } from '@trainyard/shared';
import type { TaskRow } from '../db/schema.js';

/**
 * The seam between the scheduler and the engines that run tasks (docs/architecture.md, "Resource
 * managers and pools"). The scheduler decides *whether and in which order* a task may start: queue
 * order, quotas, fair share, pending reasons, all inside its one-at-a-time dispatch section. A
 * resource manager decides *where and how* it runs, and reports back: our agents
 * (`resource-managers/agents/`), a Slurm cluster (`resource-managers/slurm/`). One manager serves one pool.
 */

/** The engines a pool can name in master.yaml (`pools.<name>.manager`). */
export type ManagerKind = PoolManager;

/** A queued task the scheduler lets start now (its turn came and its quotas have room), with its stored run spec. */
export interface Candidate {
  task: TaskRow;
  spec: RunSpec;
  /**
   * The tightest `max_runtime` of the quotas covering it (its owner's, its group's), null for none: the master
   * kills it then anyway (RuntimeLimits); an engine with time limits of its own (Slurm's) can be told too.
   */
  maxRuntimeMs: number | null;
}

/**
 * A manager's answer for one candidate:
 * - `placed`: it holds the task now (the row as it stands after the manager's transition, ASSIGNED
 *   with its lease: the scheduler counts it against the quotas at once);
 * - `pending`: not here and not now, and why (a pending reason the scheduler writes on the task:
 *   `NO_AGENT_FITS`, a Slurm pool's `SLURM:...`);
 * - `gone`: the task left the queue under the decision (a kill, another writer): skipped silently.
 */
export type PlaceResult = { placed: TaskRow } | { pending: string } | { gone: true };

/**
 * Room a manager offers the scheduler: one agent asking for work, a Slurm partition taking jobs.
 * The scheduler walks the pool's queue in its order inside its dispatch section, skips what the
 * quotas hold back (writing their reasons), and offers each other task to `place` until `limit`
 * are placed. `place` runs inside that section: what it reads of the manager's own state (an
 * agent's free room) cannot change under it by another placement.
 */
export interface Opening {
  readonly limit: number;
  place(candidate: Candidate): Promise<PlaceResult>;
}

export interface DispatchResult {
  placed: TaskRow[];
  /** Nothing was placed and every queued task seen waits for a quota: no room anywhere helps until a quota has room again. */
  heldByQuotas: boolean;
}

/** What the scheduler offers the managers: its dispatch section, and whether a pool's queue holds anything. */
export interface Dispatcher {
  /** One decision over `pool`'s queue with `opening`, one decision at a time across every pool (so quotas that span pools never overshoot). */
  dispatch(pool: string, opening: Opening): Promise<DispatchResult>;
  hasWork(pool: string): Promise<boolean>;
}

/** A task's current run, as the proxy and shells reach it: the pool that placed it, and its placement there. */
export interface LiveRun {
  taskId: number;
  pool: string;
  /** The agent that holds its lease (a Slurm pool's one-shot agent is an agent too). */
  agentId: string;
  leaseId: string;
}

export type ExecTarget = Extract<StreamTarget, { kind: 'exec' }>;

/** What a manager reports of its pool: what it has, and manager-specific facts for people who may see them (`see_status`). */
export interface PoolCapacity {
  /** What the pool could run at once (agents: alive and enabled ones; Slurm: the partition's nodes). */
  capacity: PoolResources;
  /** Machines behind it (agents; Slurm nodes). */
  nodes: number;
  /** For `see_status` only: agent ids, partition and account... Never secrets (no token or key file contents). */
  details: Record<string, string | number | string[]>;
  /** An engine's own figures (a Slurm partition's allocation, its pending jobs); absent for agents. */
  engine?: PoolEngineView;
}

export interface ResourceManager {
  readonly kind: ManagerKind;
  readonly pool: string;

  /**
   * Called once when the master starts, before it listens: take the scheduler's dispatcher, and
   * reconcile what really runs with what the tasks table believes (a restarted master; Slurm:
   * `squeue` against the pool's ASSIGNED and RUNNING tasks). Agents reconcile themselves when they
   * register again.
   */
  start(dispatcher: Dispatcher): Promise<void>;

  /**
   * Admission: the part of a run spec this manager cannot honour, in a sentence (null: it can).
   * Admission refuses the task with it, naming the pool, before anything is stored. A manager with
   * rules of its own may instead throw a POLICY_DENIED naming its rule (a Slurm pool's
   * `slurm.run_as_root`), and may look things up first (whether the nodes know the user).
   */
  refuse(spec: RunSpec, kind: TaskKind): string | null | Promise<string | null>;

  /** Whether any machine of the pool could run `image` without pulling (admission's `images.pull: never`). */
  whereIs(image: string): Promise<'present' | 'absent' | 'unknown'>;

  /**
   * Whether an agent that registers naming this pool (`yard-agent --pool`) may join it: null, or
   * why not (an agents pool takes any; a Slurm pool only the one-shot agents its jobs start).
   */
  admitAgent(agent: { id: string; labels: Record<string, string> }): string | null;

  /** Queued work in this pool, or room that may have opened (a run ended, a quota changed): offer it what room there is. */
  workQueued(): void;

  /**
   * A kill the task service recorded (`kill_requested_at`) on a task this manager placed: carry it
   * out (SIGTERM, then SIGKILL after kill_grace; Slurm: scancel). The outcome comes back as a report.
   * Also called, with the row as it was, for a placed task that had not started, which the kill
   * ended at once: what the manager holds for it (a job pending in Slurm's queue) goes too.
   */
  kill(task: TaskRow): void;

  /** The master's monitor, about once a second: what the manager finds by looking (expired leases; Slurm: jobs that ended on their own). */
  reconcile(): Promise<void>;

  /** A connection to the task's port, for the proxy: its bytes as they are. */
  connect(run: LiveRun, port: number): Promise<Duplex>;
  /** A command run inside the task (the shell protocol over a WebSocket). */
  exec(run: LiveRun, target: ExecTarget): Promise<WebSocket>;

  /** What the pool has; use and queue are counted from the tasks by the pools registry. */
  capacity(): Promise<PoolCapacity>;

  /**
   * `yard why`: each machine of the pool and whether a task with `spec` fits there now, and why
   * not (an agent's free room, its images, its shared root). Optional: an engine that decides
   * placement itself (Slurm) says nothing per machine, and its own pending reason stands.
   */
  explain?(spec: RunSpec): Promise<WhyPlacement[]>;

  /** The master is stopping: end held requests and timers. */
  close(): Promise<void>;
}
