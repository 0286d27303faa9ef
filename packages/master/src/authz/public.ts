import { openPolicy } from './policy.js';

/** Outside the API: the health and readiness checks load balancers and scripts poll. */
export const publicPolicies = {
  health: openPolicy('public', 'health', 'anyone'),
  ready: openPolicy('public', 'ready', 'anyone'),
};
