import type { Capability } from '@trainyard/shared';
import type { Actor } from './actor.js';
import { allow, deny, type Decision } from './decision.js';
import { signedIn, userPolicy } from './policy.js';

/** What a check on one task needs to know: whose it is, and the groups that owner is a direct member of. */
export interface TaskTarget {
  id: number;
  ownerId: number;
  owner: string;
  ownerGroupIds: readonly number[];
}

/**
 * "carol may not kill task 12: it belongs to alice, and carol holds operate_others only for
 * research/vision". A scoped grant covers the task when its owner is a direct member of the scope.
 */
function onOthersTask(actor: Actor, task: TaskTarget, capability: Capability, action: string, ownerToo: boolean): Decision {
  if (ownerToo && actor.userId === task.ownerId) return allow;
  if (actor.canFor(capability, task.ownerGroupIds)) return allow;
  const whose = actor.userId === task.ownerId ? `it is ${actor.username}'s own` : `it belongs to ${task.owner}`;
  const scopes = actor.scopesOf(capability);
  const held = scopes.length > 0 ? `holds ${capability} only for ${scopes.join(', ')}` : `does not hold ${capability}`;
  return deny(`${actor.username} may not ${action} task ${task.id}: ${whose}, and ${actor.username} ${held}`);
}

const onTask = (name: string, action: string) =>
  userPolicy<TaskTarget>({
    name,
    capability: 'operate_others',
    rule: "the task's owner; operate_others (scoped: for tasks of the scope group's members)",
    check: (actor, task) => onOthersTask(actor, task, 'operate_others', action, true),
  });

/** Everyone sees that tasks exist (PEDL's `-a`); details, logs and changes are the owner's or operate_others'. */
export const taskPolicies = {
  list: signedIn('tasks.list', "any signed-in user: their own, or (all=true) everyone's summaries"),
  create: signedIn('tasks.create', 'any signed-in user (the task is theirs; admission decides what it runs as and with)'),
  /** Creating a task in a group (`--group`, `group:`, the default group): direct members only. */
  createIn: userPolicy<{ path: string }>({
    name: 'tasks.create_in_group',
    capability: null,
    rule: 'direct members of the group',
    check: (actor, group) =>
      actor.groups.some((g) => g.path === group.path)
        ? allow
        : deny(`${actor.username} may not create tasks in group ${group.path}: ${actor.username} is not a direct member of it`),
  }),
  read: onTask('tasks.read', 'see the details of'),
  logs: onTask('tasks.logs', 'read the logs of'),
  alter: onTask('tasks.alter', 'change'),
  kill: onTask('tasks.kill', 'kill'),
  /**
   * Opening a task's service through `/proxy/:id/...` or a shell in it (`/tasks/:id/shell`):
   * the same people as its details. Every proxied request and every upgrade runs it.
   */
  open: onTask('tasks.open', 'open the service or a shell of'),
  delete: userPolicy<TaskTarget>({
    name: 'tasks.delete',
    capability: 'delete_tasks',
    rule: "delete_tasks, even for your own tasks (scoped: for tasks of the scope group's members)",
    check: (actor, task) => onOthersTask(actor, task, 'delete_tasks', 'delete', false),
  }),
};

/** GET /tasks: your own by default; `all=true` shows every user's summaries (never their configs). */
export function visibleTasks(actor: Actor, query: { all: boolean }): { ownerId?: number } {
  return query.all ? {} : { ownerId: actor.userId };
}
