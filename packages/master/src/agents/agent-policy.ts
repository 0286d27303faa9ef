import type { Actor } from '../actor.js';

/**
 * Who may do what to agents. Agents themselves are authenticated by their tokens
 * (`requireAgent`), never by user sessions.
 */

/** GET /agents: everyone may see the machines and what runs on them. */
export const canViewAgents = (_actor: Actor): boolean => true;

/** PATCH /agents/:id, and GET|POST|DELETE /agent-tokens: admins only. */
export const canManageAgents = (actor: Actor): boolean => actor.admin;
