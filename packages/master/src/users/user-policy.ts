import type { Actor } from '../actor.js';
import type { UserRow } from '../db/schema.js';

/**
 * Who may do what to users. Each check names the routes it guards; the routes call
 * them through `authorize` before touching the service.
 */

/** GET /users, GET /users/:username: every signed-in user sees who has an account. */
export const canViewUsers = (_actor: Actor): boolean => true;

/** POST /users, PATCH /users/:username, PUT|DELETE /users/:username/agent-user: admins only. */
export const canManageUsers = (actor: Actor): boolean => actor.admin;

/** POST /users/:username/password: yourself, or anyone if you are an admin. */
export const canChangePassword = (actor: Actor, target: Pick<UserRow, 'id'>): boolean =>
  actor.admin || actor.userId === target.id;
