import { createHash } from 'node:crypto';
import type { PolicyReload } from '@trainyard/shared';
import type { Logger } from 'pino';
import type { AuditActor, AuditService, SystemActor } from '../audit/audit-service.js';
import { checkPools } from '../config/check-pools.js';
import type { MasterConfig } from '../config/config-schema.js';
import { ConfigError, loadConfig, loadPolicy } from '../config/load-config.js';
import type { Db } from '../db/database.js';
import { DomainError } from '../errors.js';
import { Policy } from './policy.js';
import type { PolicyConfig } from './policy-schema.js';

const hashOf = (policy: PolicyConfig) => createHash('sha256').update(JSON.stringify(policy)).digest('hex').slice(0, 16);

/**
 * The policy in force, and its reload from master.yaml without a restart (`yard policy reload`,
 * SIGHUP). A reload reads the file's `policy` section only: an invalid one keeps the policy in
 * force and says what is wrong; other keys that changed are named as needing a restart. Tasks
 * already admitted keep the run spec they were admitted with. Every reload, and a policy that
 * changed while the master was down, is written to the audit log (with a hash, never the values:
 * env.set may hold what only admins should read).
 */
export class PolicyStore {
  private policy: Policy;
  /** The file as the master started with it (a test master's own overrides are not in it). */
  private readonly startedWith: MasterConfig;

  constructor(
    private readonly deps: {
      db: Db;
      audit: AuditService;
      logger: Logger;
      config: MasterConfig;
      /** master.yaml, when the master was started from one: what a reload reads. */
      configFile?: string;
    },
  ) {
    this.policy = this.compile(deps.config.policy);
    this.startedWith = (deps.configFile && safeLoad(deps.configFile)) || deps.config;
  }

  get current(): Policy {
    return this.policy;
  }

  /** At start: notes in the audit log a policy that differs from the one last recorded. */
  async recordStart(): Promise<void> {
    const { db, audit } = this.deps;
    const hash = hashOf(this.policy.config);
    const last = await audit.lastDetails(['policy.load', 'policy.reload']);
    if (last?.hash === hash) return;
    await db.transaction().execute((trx) =>
      audit.record(trx, null, { action: 'policy.load', targetType: 'policy', target: this.source, details: { hash, reason: last ? 'changed since the last start' : 'first start' } }),
    );
  }

  /** Reads master.yaml's `policy` again; the old policy stays when the new one is invalid (INVALID_CONFIG naming the key). */
  async reload(actor: AuditActor | SystemActor | null): Promise<PolicyReload> {
    const { db, audit, logger, configFile } = this.deps;
    if (!configFile) throw new DomainError('CONFLICT', 'this master was started without a config file: there is nothing to reload');
    let next: Policy;
    try {
      next = this.compile(this.withKnownPools(loadPolicy(configFile), configFile));
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      const message = `${error.message.replace(/\n\s*-\s*/g, ' ')} (the policy in force stays)`;
      await db.transaction().execute((trx) =>
        audit.record(trx, actor, { action: 'policy.reload_failed', targetType: 'policy', target: configFile, details: { error: message } }),
      );
      logger.warn({ file: configFile }, message);
      throw new DomainError('INVALID_CONFIG', message);
    }
    const result: PolicyReload = { file: configFile, changed: next.differences(this.policy), restartNeeded: this.restartNeeded() };
    this.policy = next;
    await db.transaction().execute((trx) =>
      audit.record(trx, actor, {
        action: 'policy.reload',
        targetType: 'policy',
        target: configFile,
        details: { hash: hashOf(next.config), changed: result.changed, ...(result.restartNeeded.length > 0 ? { restartNeeded: result.restartNeeded } : {}) },
      }),
    );
    logger.info({ file: configFile, changed: result.changed, restartNeeded: result.restartNeeded }, 'policy reloaded');
    return result;
  }

  /** A reloaded policy may allow only pools this master has (they change with a restart). */
  private withKnownPools(policy: PolicyConfig, file: string): PolicyConfig {
    const issues: string[] = [];
    checkPools({ ...this.deps.config, policy }, (key, message) => issues.push(`  - ${key}: ${message}`));
    if (issues.length > 0) throw new ConfigError(`invalid policy in ${file}:\n${issues.join('\n')}`);
    return policy;
  }

  private get source(): string {
    return this.deps.configFile ?? '(master options)';
  }

  private compile(config: PolicyConfig): Policy {
    const { ports } = this.deps.config.tasks;
    return new Policy(config, [ports.notebook, ports.tensorboard]);
  }

  /** Keys outside `policy` whose value in the file differs from what the master started with. */
  private restartNeeded(): string[] {
    let now: MasterConfig;
    try {
      now = loadConfig(this.deps.configFile!);
    } catch (error) {
      return [`the rest of the file is invalid too (the master would not start with it): ${(error as Error).message.replace(/\n\s*-\s*/g, ' ')}`];
    }
    const { policy: _old, ...before } = this.startedWith;
    const { policy: _new, ...after } = now;
    return changedKeys(before, after);
  }
}

function safeLoad(file: string): MasterConfig | undefined {
  try {
    return loadConfig(file);
  } catch {
    return undefined;
  }
}

/** Dotted paths of the leaves that differ between two plain objects. */
function changedKeys(a: unknown, b: unknown, path: string[] = []): string[] {
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (isObject(a) && isObject(b)) {
    return [...new Set([...Object.keys(a), ...Object.keys(b)])].sort().flatMap((key) => changedKeys(a[key], b[key], [...path, key]));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [path.join('.')];
}
