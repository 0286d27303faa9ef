import { allow, deny } from './decision.js';
import { needs, signedIn, userPolicy } from './policy.js';
import type { Actor } from './actor.js';

/** Whose quota usage is asked for: a user (yourself by default), or a group. */
export type QuotaSubjectTarget = { user: { id: number; username: string } } | { group: { id: number; path: string } };

const seesOthers = (actor: Actor) => actor.can('see_status') || actor.can('change_config');

/**
 * Quotas: changing them (create, set, delete, assign, unassign) needs change_config; anyone may see
 * their own usage and the quotas covering them (and their groups'); others' and the full list need
 * see_status or change_config.
 */
export const quotaPolicies = {
  list: userPolicy({
    name: 'quotas.list',
    capability: 'see_status',
    rule: 'holders of see_status or change_config',
    check: (actor) =>
      seesOthers(actor) ? allow : deny(`${actor.username} may not list quotas: that needs see_status or change_config, and ${actor.username} holds neither (yard quota show shows yours)`),
  }),
  get: userPolicy({
    name: 'quotas.get',
    capability: 'see_status',
    rule: 'holders of see_status or change_config',
    check: (actor) =>
      seesOthers(actor) ? allow : deny(`${actor.username} may not see quotas: that needs see_status or change_config, and ${actor.username} holds neither (yard quota show shows yours)`),
  }),
  create: needs('quotas.create', 'change_config', 'create quotas'),
  update: needs('quotas.update', 'change_config', 'change quotas'),
  delete: needs('quotas.delete', 'change_config', 'delete quotas'),
  assign: needs('quotas.assign', 'change_config', 'assign quotas'),
  unassign: needs('quotas.unassign', 'change_config', 'unassign quotas'),
  usage: userPolicy<QuotaSubjectTarget>({
    name: 'quotas.usage',
    capability: 'see_status',
    rule: "yourself and your groups; anyone's with see_status or change_config",
    check: (actor, target) => {
      if (seesOthers(actor)) return allow;
      if ('user' in target) {
        return target.user.id === actor.userId
          ? allow
          : deny(`${actor.username} may not see the quota usage of ${target.user.username}: that needs see_status or change_config, and ${actor.username} holds neither`);
      }
      return actor.groups.some((g) => g.id === target.group.id)
        ? allow
        : deny(`${actor.username} may not see the quota usage of group ${target.group.path}: that needs membership of it, see_status or change_config`);
    },
  }),
  /** The queue in dispatch order: task summaries and owners, which everyone may see in `list -a`; and the guarantees' figures. */
  queue: signedIn('queue'),
  /** Guarantees and what each group holds, borrows and lends: as the queue, for everyone signed in. */
  guarantees: signedIn('guarantees.list'),
  setGuarantee: needs('guarantees.set', 'change_config', 'set guarantees'),
  deleteGuarantee: needs('guarantees.delete', 'change_config', 'delete guarantees'),
};
