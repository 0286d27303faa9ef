import type { WhyEstimate } from '@trainyard/shared';
import type { RecentRun } from '../usage/usage-service.js';

/** A run length (or a start delay) as the ledger tells it: the middle, and how short or long it runs. */
export interface Spread {
  mid: number;
  low: number;
  high: number;
  /** Where it came from: `this task's name` (the owner's runs of the same name), `the owner's <kind>s`, `<kind>s in the pool`, a limit, or nothing. */
  source: 'name' | 'kind' | 'pool' | 'limit' | 'none';
  samples: number;
}

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))))]!;

/** The middle (median) and the 10th and 90th percentiles of samples; with few samples the extremes, widened. */
export function spreadOf(samples: number[], source: Spread['source']): Spread {
  const sorted = [...samples].sort((a, b) => a - b);
  if (sorted.length === 0) return { mid: 0, low: 0, high: 0, source: 'none', samples: 0 };
  const mid = quantile(sorted, 0.5);
  if (sorted.length < 5) {
    // Few runs: from the shortest to the longest seen, and a quarter more each way.
    return { mid, low: sorted[0]! * 0.75, high: sorted.at(-1)! * 1.25, source, samples: sorted.length };
  }
  return { mid, low: quantile(sorted, 0.1), high: quantile(sorted, 0.9), source, samples: sorted.length };
}

/** What the ledger tells of run lengths in a pool: by the owner's task name, the owner's kind, and the kind. */
export class RunLengths {
  private readonly byName = new Map<string, number[]>();
  private readonly byOwnerKind = new Map<string, number[]>();
  private readonly byKind = new Map<string, number[]>();
  private readonly all: number[] = [];
  /** How long a task waits from its queue entry to RUNNING when nothing holds it: the fastest quarter of recent waits. */
  readonly startDelay: Spread;

  constructor(runs: RecentRun[]) {
    const push = (map: Map<string, number[]>, key: string, value: number) => map.set(key, [...(map.get(key) ?? []), value]);
    const waits: number[] = [];
    for (const run of runs) {
      waits.push(run.waitMs);
      // Only runs that ended on their own tell how long a task runs.
      if (run.outcome !== 'COMPLETED' && run.outcome !== 'FAILED') continue;
      const length = run.endedAt - run.startedAt;
      push(this.byName, `${run.ownerId}|${run.name}`, length);
      push(this.byOwnerKind, `${run.ownerId}|${run.kind}`, length);
      push(this.byKind, run.kind, length);
      this.all.push(length);
    }
    const sorted = waits.sort((a, b) => a - b).filter((w) => w < 60_000);
    const fastest = sorted.slice(0, Math.max(1, Math.ceil(sorted.length / 4)));
    this.startDelay = fastest.length === 0 ? { mid: 1000, low: 0, high: 3000, source: 'none', samples: 0 } : { ...spreadOf(fastest, 'pool'), low: 0 };
  }

  /** How long a task of this owner, name and kind runs, capped by its max_runtime. */
  of(task: { ownerId: number; name: string; kind: string }, limitMs: number | null): Spread {
    const pick = (samples: number[] | undefined, source: Spread['source']) => (samples && samples.length > 0 ? spreadOf(samples.slice(0, 50), source) : undefined);
    let spread = pick(this.byName.get(`${task.ownerId}|${task.name}`), 'name') ?? pick(this.byOwnerKind.get(`${task.ownerId}|${task.kind}`), 'kind') ?? pick(this.byKind.get(task.kind), 'pool');
    if (!spread) spread = limitMs === null ? { mid: 0, low: 0, high: 0, source: 'none', samples: 0 } : { mid: limitMs / 2, low: 0, high: limitMs, source: 'limit', samples: 0 };
    if (limitMs !== null) spread = { ...spread, mid: Math.min(spread.mid, limitMs), low: Math.min(spread.low, limitMs), high: Math.min(spread.high, limitMs) };
    return spread;
  }
}

/** One task in the simulation: what it takes from each constraint, and how long it runs. */
export interface SimTask {
  id: number;
  /** Constraint key (`pool:gpus`, a quota layer...) -> amount. */
  takes: Map<string, number>;
  length: Spread;
}

export interface SimRunning extends SimTask {
  /** When its run began (the master's clock). */
  start: number;
}

export interface SimInput {
  now: number;
  /** Free amount of each constraint now (limit less what running tasks hold). */
  free: Map<string, number>;
  running: SimRunning[];
  /** Queued tasks ahead, in the order the scheduler tries them, then the task itself last. */
  queue: SimTask[];
  targetId: number;
  /** Not before this (a spent budget's window sliding on). */
  notBefore: number;
  startDelay: Spread;
}

type Which = 'mid' | 'low' | 'high';

/**
 * When the task would start, by playing the queue forward: running tasks end after their expected
 * lengths (those that ran past theirs, a little later), freeing what they hold; at each end the queued
 * tasks are tried in the scheduler's order, each starting as soon as everything it needs is free (a
 * task further down may start before one it cannot pass, as the scheduler does). Played three times,
 * with middle, short and long run lengths; the spread is the error. Null: nothing lets it start.
 */
function simulate(input: SimInput, which: Which): number | null {
  const free = new Map(input.free);
  const ends: Array<{ at: number; takes: Map<string, number> }> = [];
  for (const run of input.running) {
    if (run.length.source === 'none') continue;
    const length = run.length[which];
    const elapsed = input.now - run.start;
    // Past its expected length: soon, if not now.
    const at = elapsed < length ? run.start + length : input.now + Math.max(1000, 0.1 * run.length.mid);
    ends.push({ at, takes: run.takes });
  }
  const waiting = [...input.queue];
  let t = Math.max(input.now, input.notBefore);
  const fits = (task: SimTask) => [...task.takes].every(([key, amount]) => amount <= (free.get(key) ?? Number.POSITIVE_INFINITY) + 1e-9);
  for (let step = 0; step < 20_000; step++) {
    for (const end of ends.filter((e) => e.at <= t)) {
      for (const [key, amount] of end.takes) free.set(key, (free.get(key) ?? 0) + amount);
      ends.splice(ends.indexOf(end), 1);
    }
    for (let i = 0; i < waiting.length; i++) {
      const task = waiting[i]!;
      if (!fits(task)) continue;
      if (task.id === input.targetId) return t + input.startDelay[which];
      for (const [key, amount] of task.takes) free.set(key, (free.get(key) ?? 0) - amount);
      waiting.splice(i--, 1);
      if (task.length.source !== 'none') ends.push({ at: t + task.length[which], takes: task.takes });
    }
    const next = ends.reduce((min, e) => Math.min(min, e.at), Number.POSITIVE_INFINITY);
    if (!Number.isFinite(next)) return null;
    t = Math.max(t, next);
  }
  return null;
}

/** The estimate `yard why` gives: the middle run, its error from the short and long runs, and how sure it is. */
export function estimateStart(input: SimInput, notes: { basis: string[]; weak: boolean }): WhyEstimate {
  const mid = simulate(input, 'mid');
  if (mid === null) return { startAt: null, errorSeconds: null, confidence: 'none', basis: [...notes.basis, 'nothing known lets it start: no run lengths or limits for what holds it'] };
  const low = simulate(input, 'low') ?? mid;
  const high = simulate(input, 'high') ?? mid;
  const wait = Math.max(0, mid - input.now);
  // At least 2 s, and a tenth of the wait: dispatch and a loaded machine add that much.
  const error = Math.max(mid - low, high - mid, 2000, 0.1 * wait);
  const lengths = [...input.running, ...input.queue].map((t) => t.length);
  const confidence: WhyEstimate['confidence'] = notes.weak || lengths.some((l) => l.source === 'none' || l.source === 'limit')
    ? 'low'
    : lengths.every((l) => l.source === 'name' && l.samples >= 3)
      ? 'high'
      : 'medium';
  return { startAt: new Date(mid).toISOString(), errorSeconds: Math.round(error / 100) / 10, confidence, basis: notes.basis };
}
