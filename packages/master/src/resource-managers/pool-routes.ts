import type Router from '@koa/router';
import { poolPolicies, seesPoolDetails } from '../authz/pools.js';
import { Routes, type Guards } from '../authz/routes.js';
import type { AppState } from '../http/app-state.js';
import type { Pools } from './pools.js';

/** `yard pool list`: every pool with its capacity, use and queue. */
export function poolRoutes(pools: Pools, guards: Guards): Router<AppState> {
  const routes = new Routes(guards);

  routes.on('pools.list', poolPolicies.list, async (ctx, actor) => {
    ctx.body = { items: await pools.view(seesPoolDetails(actor)) };
  });

  return routes.router;
}
