import type { Actor } from './actor.js';
import { allow, deny } from './decision.js';
import { signedIn, userPolicy } from './policy.js';

/** What a usage request asks to see: someone's runs (by name), the runs charged to a group, or neither (what the caller may see). */
export interface UsageTarget {
  user?: { id: number; username: string };
  group?: string;
}

/**
 * Whose runs a caller's reports include: everyone's with see_status; else their own, plus those
 * charged to each group they hold see_status scoped to (a role given to them, or to a group of
 * theirs, with `--scope GROUP`).
 */
export function usageVisibility(actor: Actor): { all: true } | { all: false; ownerId: number; user: string; groups: string[] } {
  if (actor.can('see_status')) return { all: true };
  return { all: false, ownerId: actor.userId, user: actor.username, groups: actor.scopesOf('see_status') };
}

const seesGroup = (actor: Actor, group: string) => actor.can('see_status') || actor.scopesOf('see_status').includes(group);

/**
 * Usage (`yard usage`, `GET /usage`, `GET /usage/series`): anyone their own; a group's (the runs
 * charged to it) with see_status scoped to that group; anyone's and every group's with see_status.
 * Asking for more than that is refused with the reason, never answered with a silently smaller report.
 */
export const usagePolicies = {
  report: userPolicy<UsageTarget>({
    name: 'usage.report',
    capability: 'see_status',
    rule: "your own; a group's with see_status scoped to it; everyone's with see_status",
    check: (actor, target) => {
      if (actor.can('see_status')) return allow;
      const scopes = actor.scopesOf('see_status');
      const held = scopes.length > 0 ? `${actor.username} holds it only for ${scopes.join(', ')}` : `${actor.username} does not hold it`;
      if (target.group !== undefined && !seesGroup(actor, target.group)) {
        return deny(`${actor.username} may not see the usage of group ${target.group}: that needs see_status, for everyone or scoped to ${target.group}, and ${held}`);
      }
      if (target.user && target.user.id !== actor.userId && target.group === undefined) {
        const hint = scopes.length > 0 ? ` (with --group ${scopes[0]}, the runs ${target.user.username} charged to it)` : '';
        return deny(`${actor.username} may not see the usage of ${target.user.username}: that needs see_status, and ${held}${hint}`);
      }
      return allow;
    },
  }),
  /** The cluster's capacity, queue and running tasks by user (what `list -a` and the queue show); agents' detail only with see_status. */
  overview: signedIn('cluster.overview', "any signed-in user (each agent's figures: holders of see_status)"),
  history: signedIn('cluster.history', 'any signed-in user'),
};

/** Whether the overview lists each agent (the agents page's facts). */
export const seesAgents = (actor: Actor): boolean => actor.can('see_status');
