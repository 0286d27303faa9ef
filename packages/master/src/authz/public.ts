import { openPolicy } from './policy.js';

/** The health and readiness checks load balancers and scripts poll (outside the API), the master's version and its API's description. */
export const publicPolicies = {
  health: openPolicy('public', 'health', 'anyone'),
  ready: openPolicy('public', 'ready', 'anyone'),
  version: openPolicy('public', 'version', 'anyone'),
  openapi: openPolicy('public', 'openapi', 'anyone'),
  openapiPage: openPolicy('public', 'openapi.page', 'anyone'),
};
