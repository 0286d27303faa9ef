import { GUARANTEE_RESOURCES, type GuaranteeAmounts, type GuaranteeStatus } from '@trainyard/shared';
import type { AuditActor, AuditService } from '../audit/audit-service.js';
import { toIso, type Clock } from '../clock.js';
import type { Db } from '../db/database.js';
import { DomainError } from '../errors.js';
import type { GroupService } from '../groups/group-service.js';
import { Cohorts, type QueuedDemand } from './cohorts.js';
import { guaranteeRepository, type GuaranteeColumns, type GuaranteeRecord } from './guarantee-repository.js';
import type { ActiveLoad } from './quota-repository.js';
import type { QuotaRules } from './quota-rules.js';
import type { SetGuarantee } from './quota-schema.js';

/**
 * Guarantees (issue 26): a group's guaranteed share of a pool, with how much it may borrow beyond it
 * from its cohort (its siblings with a guarantee in the same pool) and how much of it it lends. Set
 * and removed by change_config holders (audited); read by the scheduler, cached until they change.
 */
export class GuaranteeService {
  private cache: GuaranteeRecord[] | undefined;

  constructor(
    private readonly deps: {
      db: Db;
      clock: Clock;
      audit: AuditService;
      groups: Pick<GroupService, 'require'>;
      pools: () => string[];
      /** A guarantee changed: the scheduler looks again (waiting tasks may fit, borrowed ones may have to give room back). */
      onChanged?: () => void;
    },
  ) {}

  async records(): Promise<GuaranteeRecord[]> {
    this.cache ??= await guaranteeRepository.list(this.deps.db);
    return this.cache;
  }

  /** Every guarantee (or those `filter` names) with what its group holds, borrows and lends now. */
  async statuses(rules: QuotaRules, active: ActiveLoad[], demand: QueuedDemand[]): Promise<Array<{ groupId: number; status: GuaranteeStatus }>> {
    const cohorts = new Cohorts(await this.records(), rules, active, demand);
    return cohorts.status().map(({ member, inUse, borrowed, lent }) => ({
      groupId: member.guarantee.groupId,
      status: { ...present(member.guarantee), cohort: member.parentPath, inUse, borrowed, lent },
    }));
  }

  async set(actor: AuditActor, request: SetGuarantee): Promise<GuaranteeRecord> {
    const { db, clock, audit, pools } = this.deps;
    if (!pools().includes(request.pool)) throw new DomainError('POOL_NOT_FOUND', `pool '${request.pool}' does not exist (pools: ${pools().join(', ')})`);
    const saved = await db.transaction().execute(async (trx) => {
      const group = await this.deps.groups.require(request.group, trx);
      const before = await guaranteeRepository.find(trx, group.id, request.pool);
      const pick = (r: (typeof GUARANTEE_RESOURCES)[number], part: 'guaranteed' | 'borrowingLimit' | 'lendingLimit', asked: number | null | undefined) =>
        asked !== undefined ? asked : (before?.[part][r] ?? null);
      const columns: GuaranteeColumns = {
        gpus: pick('gpus', 'guaranteed', request.gpus),
        cpu: pick('cpu', 'guaranteed', request.cpu),
        borrow_gpus: pick('gpus', 'borrowingLimit', request.borrowingLimit?.gpus),
        borrow_cpu: pick('cpu', 'borrowingLimit', request.borrowingLimit?.cpu),
        lend_gpus: pick('gpus', 'lendingLimit', request.lendingLimit?.gpus),
        lend_cpu: pick('cpu', 'lendingLimit', request.lendingLimit?.cpu),
      };
      if (columns.gpus === null && columns.cpu === null) {
        throw new DomainError('INVALID_INPUT', `a guarantee needs GPUs or CPUs (group ${request.group}, pool ${request.pool}): give gpus or cpu`);
      }
      for (const r of GUARANTEE_RESOURCES) {
        const lend = r === 'gpus' ? columns.lend_gpus : columns.lend_cpu;
        const guaranteed = r === 'gpus' ? columns.gpus : columns.cpu;
        if (lend !== null && guaranteed !== null && lend > guaranteed) {
          throw new DomainError('INVALID_INPUT', `lendingLimit.${r} ${lend} is more than the guarantee of ${guaranteed}: a group lends only of its guarantee`);
        }
      }
      await guaranteeRepository.upsert(trx, group.id, request.pool, columns, clock.now());
      await audit.record(trx, actor, {
        action: before ? 'guarantee.update' : 'guarantee.create',
        targetType: 'group',
        target: request.group,
        details: { pool: request.pool, ...columns },
      });
      return (await guaranteeRepository.find(trx, group.id, request.pool))!;
    });
    this.changed();
    return saved;
  }

  async delete(actor: AuditActor, groupPath: string, pool: string): Promise<{ group: string; pool: string; deleted: true }> {
    const { db, audit } = this.deps;
    await db.transaction().execute(async (trx) => {
      const group = await this.deps.groups.require(groupPath, trx);
      if (!(await guaranteeRepository.delete(trx, group.id, pool))) {
        throw new DomainError('GUARANTEE_NOT_FOUND', `group ${groupPath} has no guarantee in pool ${pool} (yard quota guarantee list shows them)`);
      }
      await audit.record(trx, actor, { action: 'guarantee.delete', targetType: 'group', target: groupPath, details: { pool } });
    });
    this.changed();
    return { group: groupPath, pool, deleted: true };
  }

  /** The group tree changed (a group renamed or deleted): paths are read again. */
  forget(): void {
    this.cache = undefined;
  }

  private changed(): void {
    this.cache = undefined;
    this.deps.onChanged?.();
  }
}

export function present(g: GuaranteeRecord): Omit<GuaranteeStatus, 'cohort' | 'inUse' | 'borrowed' | 'lent'> {
  const amounts = (a: GuaranteeAmounts): GuaranteeAmounts => ({ gpus: a.gpus, cpu: a.cpu });
  return {
    group: g.group,
    pool: g.pool,
    guaranteed: amounts(g.guaranteed),
    borrowingLimit: amounts(g.borrowingLimit),
    lendingLimit: amounts(g.lendingLimit),
    createdAt: toIso(g.createdAt),
    updatedAt: toIso(g.updatedAt),
  };
}
