/**
 * Resource pools (master.yaml `pools:`): each is one resource manager (Trainyard's agents, a Slurm
 * partition) with its settings. Tasks name one (`--pool`, `pool:` in their config) or get their
 * group's default or the system's `default_pool`; agents join one (`yard-agent --pool`). Zod-free:
 * clients import it.
 */

/** Pool names: a-z, 0-9, ".", "_", "-", starting with a letter or digit, at most 64. */
export const POOL_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** The pool of every task and agent that names none, on a master.yaml that names no other. */
export const DEFAULT_POOL = 'default';

/** The engines a pool can run on (`pools.<name>.manager`). */
export const POOL_MANAGERS = ['agents', 'slurm'] as const;
export type PoolManager = (typeof POOL_MANAGERS)[number];

export interface PoolResources {
  cpu: number;
  /** Bytes. */
  memory: number;
  gpus: number;
}

/** `GET /pools` (`yard pool list`): one pool, its capacity, what its tasks hold now, and its queue. */
export interface PoolView {
  name: string;
  manager: PoolManager;
  description: string | null;
  /** The system's `default_pool`: where tasks go that name none and whose group names none. */
  default: boolean;
  /** What the pool could run at once: its alive, enabled agents (a Slurm pool: its partition's nodes). */
  capacity: PoolResources;
  /** The machines behind that capacity. */
  nodes: number;
  /**
   * What the pool's tasks hold now (ASSIGNED, PULLING or RUNNING), counted as the quotas count it:
   * a task that asks no cpu counts one.
   */
  use: PoolResources & { tasks: number };
  queue: {
    /** QUEUED tasks submitted to this pool. */
    length: number;
    /** When the oldest of them was submitted, and how long ago (seconds); null when none waits. */
    oldestCreatedAt: string | null;
    oldestWaitSeconds: number | null;
  };
  /** What the pool's engine says of itself beyond Trainyard's tasks (a Slurm partition); null for agents pools. */
  engine: PoolEngineView | null;
  /** For holders of see_status: the agents in it, a Slurm pool's partition and account... (never a secret); null for others. */
  details: Record<string, string | number | string[]> | null;
}

/** A Slurm pool's own figures, read from Slurm. */
export interface PoolEngineView {
  /** What the engine has allocated on the pool's machines, to anyone's jobs (Trainyard's and others'). */
  allocated: PoolResources;
  /** The pool's placed tasks whose jobs the engine holds in its queue (pending in Slurm). */
  pending: number;
  /** Null when the engine answered; else why its figures are missing (slurmrestd does not answer...). */
  problem: string | null;
}
