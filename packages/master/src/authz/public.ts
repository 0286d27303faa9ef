import { openPolicy } from './policy.js';

/** The health and readiness checks load balancers and scripts poll (outside the API), and the master's version. */
export const publicPolicies = {
  health: openPolicy('public', 'health', 'anyone'),
  ready: openPolicy('public', 'ready', 'anyone'),
  version: openPolicy('public', 'version', 'anyone'),
};
