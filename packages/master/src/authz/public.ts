import { openPolicy } from './policy.js';

/** Outside the API: the health check load balancers and scripts poll. */
export const publicPolicies = {
  health: openPolicy('public', 'health', 'anyone'),
};
