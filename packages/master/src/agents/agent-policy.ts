import type { Actor } from '../actor.js';
import type { AgentRow } from '../db/schema.js';

/**
 * Who may do what to agents. Agents themselves are authenticated by their tokens
 * (`requireAgent`), never by user sessions.
 */

/** GET /agents: everyone may see the machines and what runs on them. */
export const canViewAgents = (_actor: Actor): boolean => true;

/** PATCH /agents/:id, and GET|POST|DELETE /agent-tokens: admins only. */
export const canManageAgents = (actor: Actor): boolean => actor.admin;

/** Agent calls: a token acts only for the agents it registered (rows from before 0.2 may have none). */
export const tokenMayActFor = (tokenId: number, agent: Pick<AgentRow, 'token_id'>): boolean =>
  agent.token_id === null || agent.token_id === tokenId;
