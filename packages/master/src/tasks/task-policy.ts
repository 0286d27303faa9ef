import type { Actor } from '../actor.js';
import type { TaskRow } from '../db/schema.js';

/**
 * Who may do what to tasks. Each check names the routes it guards.
 * Everyone sees that tasks exist (PEDL's `-a`); only the owner or an admin touches one.
 */

/** GET /tasks: your own by default; `all=true` shows every user's summaries (never their configs). */
export function filterVisibleTasks(actor: Actor, query: { all: boolean }): { ownerId?: number } {
  return query.all ? {} : { ownerId: actor.userId };
}

const ownerOrAdmin = (actor: Actor, task: Pick<TaskRow, 'owner_id'>) => actor.admin || task.owner_id === actor.userId;

/** GET /tasks/:id, GET /tasks/:id/logs, and the experiments a new tensorboard reads. */
export const canReadTask = ownerOrAdmin;
/** POST /tasks/:id/kill */
export const canKillTask = ownerOrAdmin;
/** PATCH /tasks/:id */
export const canChangeTask = ownerOrAdmin;
