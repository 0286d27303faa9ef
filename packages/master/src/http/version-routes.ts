import type Router from '@koa/router';
import { publicPolicies } from '../authz/public.js';
import { Routes, type Guards } from '../authz/routes.js';
import type { AppState } from './app-state.js';
import { MASTER_VERSION } from './master-version.js';

/**
 * `GET /api/v1/version`: the master's release and API version, for clients that must tell whether
 * they understand it (`yard` names both when they differ in a way that matters). No auth: a client
 * asks before it knows whom to log in as. Every answer also carries them in headers (request-context).
 */
export function versionRoutes(guards: Guards): Router<AppState> {
  const routes = new Routes(guards);
  routes.on('version', publicPolicies.version, async (ctx) => {
    ctx.body = MASTER_VERSION;
  });
  return routes.router;
}
