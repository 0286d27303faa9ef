import type { Logger } from 'pino';
import type { AuditService } from '../audit/audit-service.js';
import type { Db } from '../db/database.js';
import type { TaskService } from '../tasks/task-service.js';
import type { UserService } from '../users/user-service.js';
import { hasBudget, type BudgetAccount } from './budgets.js';
import type { QuotaRecord } from './quota-repository.js';
import type { QuotaService } from './quota-service.js';

/** Told at these shares of a budget: 80% (a warning) and 100% (spent: new tasks wait). */
const LEVELS = [0.8, 1] as const;
/** Below this share a budget told before may be told again when it climbs back. */
const RESET_BELOW = 0.7;

/**
 * Budgets over time, watched by the master's monitor (every second): when a user's or a group's
 * budget reaches 80% of its window, and again when it is spent, the owner is told in the log of
 * each of their running tasks it covers and everyone who reads the audit log (admins) by an entry
 * (`budget.warning`, `budget.spent`, by the master). Said once per climb: again only after it fell
 * below 70% (its window slid on). A restarted master may say it once more.
 */
export class BudgetWatch {
  private readonly told = new Map<string, number>();

  constructor(
    private readonly deps: {
      db: Db;
      quotas: QuotaService;
      tasks: TaskService;
      audit: AuditService;
      users: Pick<UserService, 'requireById'>;
      logger: Logger;
      /** A spent budget has room again (its window slid on): the tasks it held may start now. */
      onRoomAgain: () => void;
    },
  ) {}

  async sweep(): Promise<void> {
    const { quotas } = this.deps;
    const rules = await quotas.currentRules();
    if (!rules.budgets) return;
    const snapshot = await quotas.budgets.snapshot(rules);
    const accounts: Array<{ quota: QuotaRecord; account: BudgetAccount }> = [];
    for (const [userId, list] of rules.byUser) for (const quota of list.filter(hasBudget)) accounts.push({ quota, account: `u:${userId}` });
    for (const layer of rules.byGroup.values()) for (const quota of layer.quotas.filter(hasBudget)) accounts.push({ quota, account: `g:${layer.id}` });
    for (const { quota, account } of accounts) {
      const use = snapshot.use(quota, account);
      for (const [resource, limit, used] of [
        ['gpu_hours', quota.gpuHours, use.gpuHours],
        ['cpu_hours', quota.cpuHours, use.cpuHours],
      ] as const) {
        if (limit === null) continue;
        const key = `${quota.id}|${account}|${resource}`;
        const share = used / limit;
        const before = this.told.get(key) ?? 0;
        const level = [...LEVELS].reverse().find((l) => share >= l) ?? 0;
        if (before >= 1 && share < 1) {
          // Nothing else happens when a window slides: the scheduler is told the tasks it held may start.
          this.told.set(key, level);
          this.deps.onRoomAgain();
        }
        if (share < RESET_BELOW && before > 0) this.told.set(key, 0);
        if (level <= (this.told.get(key) ?? 0)) continue;
        this.told.set(key, level);
        await this.tell(quota, account, resource, used, limit, level);
      }
    }
  }

  private async tell(quota: QuotaRecord, account: BudgetAccount, resource: 'gpu_hours' | 'cpu_hours', used: number, limit: number, level: number): Promise<void> {
    const { db, audit, tasks, users, quotas, logger } = this.deps;
    const rules = await quotas.currentRules();
    const id = Number(account.slice(2));
    const isUser = account.startsWith('u:');
    const who = isUser ? (await users.requireById(id)).username : (rules.pathOf(id) ?? `#${id}`);
    const window = quota.budgetWindow === 'month' ? 'this calendar month (UTC)' : `the last ${quota.budgetWindow}`;
    const what = resource === 'gpu_hours' ? 'GPU-hours' : 'CPU-hours';
    const spent = level >= 1;
    const sentence =
      `budget '${quota.name}' of ${isUser ? `user ${who}` : `group ${who}`}: ${round(used)} of ${limit} ${what} used over ${window} (${Math.round((used / limit) * 100)}%)` +
      (spent ? '; new tasks it covers wait until its window has room again' : '');
    logger.info({ quota: quota.name, account, resource, used, limit }, sentence);
    await db.transaction().execute((trx) =>
      audit.record(trx, { system: 'budgets' }, {
        action: spent ? 'budget.spent' : 'budget.warning',
        targetType: isUser ? 'user' : 'group',
        target: who,
        details: { quota: quota.name, resource, used: round(used), limit, window: quota.budgetWindow, percent: Math.round((used / limit) * 100) },
      }),
    );
    // The owner hears of it in the log of each running task the budget covers.
    const groupPath = isUser ? undefined : who;
    for (const row of await tasks.activeRows()) {
      if (row.state !== 'RUNNING' || (quota.pool !== null && row.pool !== quota.pool)) continue;
      const covered = isUser ? row.owner_id === id : row.group_path !== null && (row.group_path === groupPath || row.group_path.startsWith(`${groupPath}/`));
      if (covered) await tasks.appendLogs(row.id, [{ stream: 'system', line: `[trainyard] ${sentence}` }]);
    }
  }
}

const round = (n: number) => Math.round(n * 100) / 100;
