import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Db, Executor } from '../db/database.js';
import { DomainError } from '../errors.js';
import { leaderRepository } from './leader-repository.js';

/**
 * Whether this master may dispatch, and the check every dispatching write makes (docs/architecture.md,
 * "Several masters"). The scheduler, the lease expiry, lost agents, kills, agents' reports and the
 * fair-share flush write through `hold` first, in their own transaction: on one master it is free;
 * with `ha` it refuses (NOT_LEADER) unless this master still holds the lease under its fencing
 * number, and keeps a takeover waiting until the transaction ends. So a leader that was paused,
 * or cut from the database, and wakes up after another took over, changes nothing.
 */
export interface Fence {
  /** Whether this master leads now (one master: always). */
  isLeader(): boolean;
  /** First in a transaction that dispatches or changes a task's run: NOT_LEADER unless this master still leads. */
  hold(trx: Executor): Promise<void>;
  /** A task's lease granted under this term (`ha` only: lease_grants), in the transaction that grants it. */
  recordGrant(trx: Executor, grant: { taskId: number; leaseId: string; agentId: string; at: number }): Promise<void>;
}

/** One master (no `ha`): it always leads, and its writes need no fencing. */
export const ONE_MASTER: Fence = {
  isLeader: () => true,
  hold: async () => {},
  recordGrant: async () => {},
};

/** How long a lease lasts, how often it is renewed and looked at, from `ha.failover_timeout`. */
export interface LeaseTimings {
  /** A lease runs out this long after its last renewal (by the database's clock). */
  ttlMs: number;
  /** The leader renews this often: three or four tries before its lease can run out. */
  renewEveryMs: number;
  /** Standbys look at the lease this often. */
  lookEveryMs: number;
  /** The leader stops dispatching this long before its lease could have run out (timers fire late, clocks drift). */
  marginMs: number;
}

/**
 * A standby leads at most `ttl + lookEvery` after the leader's last renewal: 80% of the failover
 * timeout, leaving the rest for the first dispatch (agents finding the new leader).
 */
export function leaseTimings(failoverTimeoutMs: number): LeaseTimings {
  const ttlMs = Math.round(failoverTimeoutMs * 0.7);
  return {
    ttlMs,
    renewEveryMs: Math.round(ttlMs / 4),
    lookEveryMs: Math.max(100, Math.round(failoverTimeoutMs / 10)),
    marginMs: Math.round(ttlMs / 10),
  };
}

/** What a master does when it starts or stops leading (master.ts wires the domains). */
export interface LeadershipListener {
  /** This master leads from now on, under `fencing`. Its synchronous part runs before anything can dispatch: reset what standing by left stale there. */
  elected(fencing: number): Promise<void> | void;
  /** It no longer leads, and why: stop what only a leader does (held polls, connections). */
  deposed(reason: string): void;
}

/**
 * Several masters on one PostgreSQL (`ha`): the lease in the `leader` row. A standby looks at it
 * every `lookEvery`; once it ran out (by the database's clock) it takes it under a fencing number one
 * higher and leads. The leader renews it every `renewEvery`; each successful renewal sent at
 * monotonic time `t` lets it lead until `t + ttl - margin`, which is before the lease can run out in
 * the database (the database stamped the expiry after `t`). A leader that cannot renew in time stops
 * leading by its own clock, before any standby can take over: two masters never dispatch at once.
 * Should it have been frozen past that point, every write it resumes is fenced (`hold`).
 */
export class Leadership implements Fence {
  /** This master process, in the lease (a new one per start). */
  readonly holder = randomUUID();
  readonly timings: LeaseTimings;
  private role: 'standby' | 'leader' = 'standby';
  private fencing: number | null = null;
  /** Monotonic time until which this master's lease certainly holds. */
  private deadline = 0;
  private url = '';
  /** What this master last read of the lease as a standby: whose it is, and until when (monotonic) it holds. */
  private seen: { url: string | null; liveUntil: number } = { url: null, liveUntil: 0 };
  private listener: LeadershipListener | undefined;
  /** A look or renewal still under way (a slow database): no second one is sent beside it. */
  private busy: Promise<void> | undefined;
  private loopTimer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly deps: {
      db: Db;
      logger: Logger;
      failoverTimeoutMs: number;
      /** Monotonic milliseconds (tests never move it: leases are about real time). */
      now?: () => number;
    },
  ) {
    this.timings = leaseTimings(deps.failoverTimeoutMs);
  }

  private now(): number {
    return this.deps.now?.() ?? performance.now();
  }

  /** Starts looking at the lease; resolves after the first look (a lone master leads at once). */
  async start(url: string, listener: LeadershipListener): Promise<void> {
    this.url = url;
    this.listener = listener;
    await leaderRepository.ensure(this.deps.db);
    await this.tick();
    this.pump();
  }

  isLeader(): boolean {
    return this.role === 'leader' && !this.stopped && this.now() < this.deadline;
  }

  /** Where the leader is reached: this master's URL when it leads, the one it read as a standby while that lease holds, else null (a failover is under way). */
  leaderUrl(): string | null {
    if (this.isLeader()) return this.url;
    return this.seen.liveUntil > this.now() ? this.seen.url : null;
  }

  /** For /readyz and the log: this master's part. */
  status(): { role: 'leader' | 'standby'; leader: string | null; fencing: number | null } {
    const leading = this.isLeader();
    return { role: leading ? 'leader' : 'standby', leader: this.leaderUrl(), fencing: leading ? this.fencing : null };
  }

  /** The refusal a standby answers with, naming the leader (null while none leads). */
  notLeader(): DomainError {
    const leader = this.leaderUrl();
    const message = leader
      ? `this master (${this.url}) is a standby: the leader is ${leader}; send requests there`
      : `this master (${this.url}) is a standby and no master leads right now (a failover is under way): try again in a few seconds`;
    return new DomainError('NOT_LEADER', message, { details: { leader }, retryAfterSeconds: 1 });
  }

  async hold(trx: Executor): Promise<void> {
    const fencing = this.fencing;
    if (!this.isLeader() || fencing === null) throw this.notLeader();
    const current = await leaderRepository.holdFencing(trx);
    if (current?.fencing === fencing) return;
    this.depose(`another master took the lease (fencing ${current?.fencing}, this master's was ${fencing})`);
    // Until the next look: the master that holds it now.
    this.seen = { url: current?.url ?? null, liveUntil: this.now() + this.timings.lookEveryMs };
    throw this.notLeader();
  }

  async recordGrant(trx: Executor, grant: { taskId: number; leaseId: string; agentId: string; at: number }): Promise<void> {
    if (this.fencing === null) throw this.notLeader();
    await leaderRepository.recordGrant(trx, { task_id: grant.taskId, lease_id: grant.leaseId, agent_id: grant.agentId, fencing: this.fencing, granted_at: grant.at });
  }

  /** The master is stopping: it stops leading and ends its lease, so that a standby takes over at its next look. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.loopTimer);
    clearTimeout(this.deadlineTimer);
    const fencing = this.fencing;
    const leading = this.role === 'leader';
    this.role = 'standby';
    this.fencing = null;
    if (leading && fencing !== null) {
      await leaderRepository.resign(this.deps.db, this.holder, fencing).catch((error: unknown) => this.deps.logger.warn({ err: error }, 'could not hand the lease back; a standby takes over once it runs out'));
    }
  }

  /** A look or renewal every period, never two at once. */
  private pump(): void {
    if (this.stopped) return;
    this.busy ??= this.tick().finally(() => (this.busy = undefined));
    const period = this.role === 'leader' ? this.timings.renewEveryMs : this.timings.lookEveryMs;
    this.loopTimer = setTimeout(() => this.pump(), period);
    this.loopTimer.unref();
  }

  private async tick(): Promise<void> {
    try {
      if (this.role === 'leader') await this.renew();
      else await this.look();
    } catch (error) {
      this.deps.logger.warn({ err: error }, `the leader lease could not be ${this.role === 'leader' ? 'renewed' : 'read'}: ${(error as Error).message}`);
    }
  }

  private async renew(): Promise<void> {
    const { db } = this.deps;
    const fencing = this.fencing!;
    const sentAt = this.now();
    const held = await leaderRepository.renew(db, this.holder, fencing, this.timings.ttlMs);
    // Deposed meanwhile (its deadline passed while the database kept quiet): the next look takes it back.
    if (this.role !== 'leader' || this.fencing !== fencing) return;
    if (!held) {
      this.depose('another master holds the lease now');
      return;
    }
    this.deadline = Math.max(this.deadline, sentAt + this.timings.ttlMs - this.timings.marginMs);
    this.armDeadline();
  }

  private async look(): Promise<void> {
    const { db } = this.deps;
    const readAt = this.now();
    const lease = await leaderRepository.read(db);
    if (!lease) return;
    const live = lease.expiresAt >= lease.now;
    const others = lease.holder !== null && lease.holder !== this.holder;
    this.seen = { url: others ? lease.url : null, liveUntil: readAt + (lease.expiresAt - lease.now) };
    if (this.stopped || (live && others)) return;
    const sentAt = this.now();
    const won = await leaderRepository.acquire(db, this.holder, this.url, this.timings.ttlMs);
    if (!won || this.stopped) return;
    this.fencing = won.fencing;
    this.deadline = sentAt + this.timings.ttlMs - this.timings.marginMs;
    this.role = 'leader';
    this.armDeadline();
    this.deps.logger.info({ fencing: won.fencing, url: this.url }, `leading the cluster (fencing ${won.fencing})`);
    // Its synchronous part (resets) runs before any request or dispatch can see this master lead.
    await this.listener?.elected(won.fencing);
  }

  /** When the deadline passes without a renewal, the master stops leading (dispatch stopped already by `isLeader`). */
  private armDeadline(): void {
    clearTimeout(this.deadlineTimer);
    this.deadlineTimer = setTimeout(() => {
      if (this.role === 'leader' && this.now() >= this.deadline) {
        this.depose(`could not renew the lease within ${this.timings.ttlMs - this.timings.marginMs} ms (the database did not answer in time)`);
      } else if (this.role === 'leader') {
        this.armDeadline();
      }
    }, Math.max(0, this.deadline - this.now()) + 1);
    this.deadlineTimer.unref();
  }

  private depose(reason: string): void {
    if (this.role !== 'leader') return;
    this.role = 'standby';
    this.fencing = null;
    this.seen = { url: null, liveUntil: 0 };
    clearTimeout(this.deadlineTimer);
    this.deps.logger.warn({ reason }, `no longer leading: ${reason}`);
    this.listener?.deposed(reason);
  }
}
