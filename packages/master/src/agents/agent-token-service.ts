import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { AGENT_TOKEN_PREFIX, type AgentTokenInfo, type CreatedAgentToken } from '@trainyard/shared';
import type { AuditActor, AuditService } from '../audit/audit-service.js';
import { toIso, type Clock } from '../clock.js';
import type { Db } from '../db/database.js';
import type { AgentTokenRow } from '../db/schema.js';
import { DomainError } from '../errors.js';
import { hashToken } from '../sessions/session-tokens.js';
import { agentTokenRepository } from './agent-repository.js';

const newAgentToken = () => AGENT_TOKEN_PREFIX + randomBytes(32).toString('base64url');
const LOCAL_TOKEN_NAME = 'local';
// A token's last use is written at most this often (every agent request checks the token).
const TOUCH_INTERVAL_MS = 60_000;

const UNAUTHENTICATED = () =>
  new DomainError('UNAUTHENTICATED', 'agent token missing, unknown or revoked: create one with `yard agent token create NAME`');

/** Agent tokens: random, shown once, stored only as SHA-256, revocable. */
export class AgentTokenService {
  constructor(
    private readonly deps: {
      db: Db;
      clock: Clock;
      audit: AuditService;
      /** Whether a task still holds a lease (the tasks domain): a one-shot agent's token is valid only while it does. */
      leaseCurrent?: (taskId: number, leaseId: string) => Promise<boolean>;
    },
  ) {}

  async create(actor: AuditActor, name: string): Promise<CreatedAgentToken> {
    const { db, clock, audit } = this.deps;
    if (await agentTokenRepository.findByName(db, name)) {
      throw new DomainError('CONFLICT', `an agent token named '${name}' already exists`);
    }
    const token = newAgentToken();
    const row = await db.transaction().execute(async (trx) => {
      const created = await agentTokenRepository.insert(trx, {
        name,
        token_hash: hashToken(token),
        created_by: actor.userId,
        created_at: clock.now(),
        last_used_at: null,
        revoked_at: null,
      });
      await audit.record(trx, actor, { action: 'agent_token.create', targetType: 'agent_token', target: name });
      return created;
    });
    return { ...toInfo({ ...row, creator: actor.username }), token };
  }

  async list(): Promise<AgentTokenInfo[]> {
    return (await agentTokenRepository.list(this.deps.db)).map(toInfo);
  }

  async revoke(actor: AuditActor, name: string): Promise<AgentTokenInfo> {
    const { db, clock, audit } = this.deps;
    const row = await agentTokenRepository.findByName(db, name);
    if (!row) throw new DomainError('NOT_FOUND', `agent token '${name}' does not exist`);
    if (row.revoked_at === null) {
      await db.transaction().execute(async (trx) => {
        await agentTokenRepository.update(trx, row.id, { revoked_at: clock.now() });
        await audit.record(trx, actor, { action: 'agent_token.revoke', targetType: 'agent_token', target: name });
      });
    }
    const [updated] = await agentTokenRepository.list(db, row.id);
    return toInfo(updated!);
  }

  async authenticate(token: string | undefined): Promise<AgentTokenRow> {
    const { db, clock } = this.deps;
    if (!token?.startsWith(AGENT_TOKEN_PREFIX)) throw UNAUTHENTICATED();
    const row = await agentTokenRepository.findByHash(db, hashToken(token));
    if (!row || row.revoked_at !== null) throw UNAUTHENTICATED();
    if (row.task_id !== null && !(await this.deps.leaseCurrent?.(row.task_id, row.lease_id!))) {
      throw new DomainError('UNAUTHENTICATED', `this one-shot agent token was for task ${row.task_id} under a lease it no longer holds: the task ended, or runs elsewhere now`);
    }
    const now = clock.now();
    if (row.last_used_at === null || now - row.last_used_at > TOUCH_INTERVAL_MS) {
      await agentTokenRepository.update(db, row.id, { last_used_at: now });
    }
    return row;
  }

  // ---- For the resource-manager seam (issue 22): the credential of a one-shot agent ----

  /**
   * A token for the one-shot agent of one task's lease, handed to the job a resource manager
   * submits (Slurm: in the job's environment, which only the job's user and root can read). It
   * acts only as agent `task-<id>`, only on that task (requireAgent), and only while the task holds
   * this lease (authenticate): when the task ends or is placed again, it is worth nothing. Minting
   * revokes the task's earlier tokens. Not listed with the admin's tokens.
   */
  async mintForTask(taskId: number, leaseId: string): Promise<string> {
    const { db, clock } = this.deps;
    const token = newAgentToken();
    await db.transaction().execute(async (trx) => {
      await agentTokenRepository.revokeForTask(trx, taskId, clock.now());
      await agentTokenRepository.insert(trx, {
        // A name admins cannot give (":" is not allowed in theirs), so that none collides.
        name: `task:${taskId}:${leaseId}`,
        token_hash: hashToken(token),
        created_by: null,
        created_at: clock.now(),
        last_used_at: null,
        revoked_at: null,
        task_id: taskId,
        lease_id: leaseId,
      });
    });
    return token;
  }

  /** The task is over: its one-shot tokens are revoked, and deleted once no agent record names them. */
  async forgetTask(taskId: number): Promise<void> {
    const { db, clock } = this.deps;
    await agentTokenRepository.revokeForTask(db, taskId, clock.now());
    await agentTokenRepository.deleteForTask(db, taskId);
  }

  /**
   * The local cluster's token (master.yaml agents.token_file): made with the file if missing,
   * and registered under the name "local" so that `yard agent token revoke local` works on it.
   * Several masters each keep their own file, under a name of their own (`name`), so that one
   * master's start never replaces the token another's agents read.
   */
  async ensureTokenFile(file: string, name = LOCAL_TOKEN_NAME): Promise<void> {
    const { db, clock } = this.deps;
    if (!existsSync(file)) {
      mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      writeFileSync(file, `${newAgentToken()}\n`, { mode: 0o600, flag: 'wx' });
    }
    const token = readFileSync(file, 'utf8').trim();
    if (!token.startsWith(AGENT_TOKEN_PREFIX)) {
      throw new Error(`${file} does not hold an agent token (it must start with ${AGENT_TOKEN_PREFIX})`);
    }
    const hash = hashToken(token);
    if (await agentTokenRepository.findByHash(db, hash)) return;
    const existing = await agentTokenRepository.findByName(db, name);
    if (existing) {
      await agentTokenRepository.update(db, existing.id, { token_hash: hash, revoked_at: null });
    } else {
      await agentTokenRepository.insert(db, {
        name,
        token_hash: hash,
        created_by: null,
        created_at: clock.now(),
        last_used_at: null,
        revoked_at: null,
      });
    }
  }
}

function toInfo(row: AgentTokenRow & { creator: string | null }): AgentTokenInfo {
  return {
    id: row.id,
    name: row.name,
    createdBy: row.creator,
    createdAt: toIso(row.created_at),
    lastUsedAt: row.last_used_at === null ? null : toIso(row.last_used_at),
    revokedAt: row.revoked_at === null ? null : toIso(row.revoked_at),
  };
}
