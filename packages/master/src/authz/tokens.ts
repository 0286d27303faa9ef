import { allow, deny } from './decision.js';
import { lacks, needs, selfOr, userPolicy } from './policy.js';

/**
 * Personal API tokens. Creating one needs access_api; seeing and revoking your own does not (a
 * token you may no longer use should still be yours to delete). `use` runs on every request made
 * with a token: it dies with its owner's access_api.
 */
export const tokenPolicies = {
  create: needs('tokens.create', 'access_api', 'create API tokens'),
  list: selfOr('tokens.list', 'change_config', (target) => `see the API tokens of ${target.username}`),
  revoke: selfOr('tokens.revoke', 'change_config', (target) => `revoke the API tokens of ${target.username}`),
  use: userPolicy({
    name: 'tokens.use',
    capability: 'access_api',
    rule: 'every request made with an API token: its owner holds access_api',
    check: (actor) =>
      actor.can('access_api')
        ? allow
        : deny(`${lacks(actor, `use API token '${actor.session.name ?? ''}'`, 'access_api')}; log in instead, or ask for access_api`),
  }),
};
