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
  constructor(private readonly deps: { db: Db; clock: Clock; audit: AuditService }) {}

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
    const now = clock.now();
    if (row.last_used_at === null || now - row.last_used_at > TOUCH_INTERVAL_MS) {
      await agentTokenRepository.update(db, row.id, { last_used_at: now });
    }
    return row;
  }

  /**
   * The local cluster's token (master.yaml agents.token_file): made with the file if missing,
   * and registered under the name "local" so that `yard agent token revoke local` works on it.
   */
  async ensureTokenFile(file: string): Promise<void> {
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
    const existing = await agentTokenRepository.findByName(db, LOCAL_TOKEN_NAME);
    if (existing) {
      await agentTokenRepository.update(db, existing.id, { token_hash: hash, revoked_at: null });
    } else {
      await agentTokenRepository.insert(db, {
        name: LOCAL_TOKEN_NAME,
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
