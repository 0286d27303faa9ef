/**
 * `yard why ID` (`GET /tasks/:id/why`): every reason that holds a queued task at once, not only the
 * first (Slurm's squeue shows one), with what each limit counts, where it could run and why it does
 * not fit there, its place in the queue and who is ahead, and when it may start. No zod: the CLI and
 * the web UI load it through constants.
 */
import type { TaskState } from './constants.js';

/** One limit the scheduler checks for the task, whether or not it holds it now. */
export interface WhyCheck {
  /** `quota` (a user's or a group's limit), `per_user` (the owner's share of a group quota), `budget` (hours over a window), `guarantee` (borrowing in a cohort). */
  layer: 'quota' | 'per_user' | 'budget' | 'guarantee';
  /** The quota's name, or `guarantee research/vision@gpu`. */
  name: string;
  /** Whom it covers: `user alice`, `group research (research/vision is in it)`, `cohort research`. */
  via: string;
  /** `running`, `gpus`, `cpu`, `memory`, `gpu_hours`, `cpu_hours`, `borrowing`, `cohort idle`. */
  resource: string;
  used: number;
  /** What this task would add. */
  ask: number;
  limit: number;
  /** True when it keeps the task waiting now. */
  holds: boolean;
  /** The pending-reason code it gives while it holds (`QUOTA_GPUS_GROUP:research`). */
  reason: string | null;
  /** A sentence for people (the window of a budget, what a guarantee lends...). */
  note?: string;
}

/** A machine (agent, Slurm partition) of the task's pool, and whether the task fits there now. */
export interface WhyPlacement {
  node: string;
  fits: boolean;
  /** Why not, in words (`2 of 4 GPUs free, it asks 3`, `lacks the image`, `lost`). */
  why: string | null;
}

/** A queued task ahead of this one in its pool's order. */
export interface WhyAhead {
  id: number;
  owner: string;
  group: string | null;
  priority: number;
}

/** When the task may start, and how sure that is. */
export interface WhyEstimate {
  /** ISO time (the master's clock); null when nothing known lets it start (no machine fits, no run lengths). */
  startAt: string | null;
  /** It starts within +- this many seconds of `startAt`, as sure as `confidence` says. */
  errorSeconds: number | null;
  /** `high`: run lengths of these very tasks and limits agree; `medium`: a few runs or another kind's; `low`: guesses. */
  confidence: 'high' | 'medium' | 'low' | 'none';
  /** What it was computed from, in words. */
  basis: string[];
}

export interface TaskWhy {
  taskId: number;
  state: TaskState;
  pool: string;
  /** What the scheduler last wrote on it (the first reason it met). */
  pendingReason: string | null;
  /** Every reason holding it now: the pending-reason codes of the checks that hold, then the placement's (`NO_AGENT_FITS`). */
  reasons: string[];
  /** Every limit checked, holding or not. */
  checks: WhyCheck[];
  /** Each machine of its pool; empty when the pool's engine says nothing per machine. */
  placement: WhyPlacement[];
  queue: {
    policy: 'fifo' | 'fair_share';
    /** 1-based, in its pool's order; null when it is not queued. */
    position: number | null;
    length: number;
    /** The owner's rank in fair share (Fair Tree: groups by usage against their share, then people in a group), 1 first. */
    fairShareRank: number | null;
    /** The first tasks ahead of it (at most 10). */
    ahead: WhyAhead[];
  };
  estimate: WhyEstimate;
}
