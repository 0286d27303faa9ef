import { allow, deny } from './decision.js';
import { lacks, needs, userPolicy } from './policy.js';

/** Whose policy `yard policy show` asks about: a user (yourself by default), or a group's members. */
export type PolicySubjectTarget = { user: { id: number; username: string } } | { group: string };

/** The admission policy: anyone may see what applies to them; others' needs change_config; reloading too. */
export const admissionPolicies = {
  show: userPolicy<PolicySubjectTarget>({
    name: 'policy.show',
    capability: 'change_config',
    rule: "yourself, and groups you are a direct member of; anyone's with change_config",
    check: (actor, target) => {
      if (actor.can('change_config')) return allow;
      if ('user' in target) return target.user.id === actor.userId ? allow : deny(lacks(actor, `see the policy of ${target.user.username}`, 'change_config'));
      return actor.groups.some((g) => g.path === target.group)
        ? allow
        : deny(`${actor.username} may not see the policy of group ${target.group}: that needs membership of it or change_config, and ${actor.username} has neither`);
    },
  }),
  reload: needs('policy.reload', 'change_config', 'reload the admission policy'),
};
