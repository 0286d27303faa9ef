import type Router from '@koa/router';
import { clusterHistoryQuerySchema, usageQuerySchema, usageSeriesQuerySchema } from '@trainyard/shared';
import { Routes, type Guards } from '../authz/routes.js';
import { usagePolicies, type UsageTarget } from '../authz/usage.js';
import type { AppState } from '../http/app-state.js';
import { validate } from '../http/validate.js';
import type { UserService } from '../users/user-service.js';
import type { ClusterService } from './cluster-service.js';
import type { UsageService } from './usage-service.js';

/** `yard usage`, the web UI's usage page and cluster overview. */
export function usageRoutes(deps: { usage: UsageService; cluster: ClusterService; users: UserService }, guards: Guards): Router<AppState> {
  const routes = new Routes(guards);
  /** Whose usage is asked for: loaded (the user by name) before the check decides. */
  const target = async (filters: { user?: string | undefined; group?: string | undefined }): Promise<UsageTarget> => {
    const user = filters.user === undefined ? undefined : await deps.users.require(filters.user);
    return { ...(user ? { user: { id: user.id, username: user.username } } : {}), ...(filters.group === undefined ? {} : { group: filters.group }) };
  };

  routes.on('usage.report', usagePolicies.report, {
    target: (ctx) => target(validate(usageQuerySchema, ctx.query)),
    handle: async (ctx, actor, loaded) => {
      ctx.body = await deps.usage.report(actor, validate(usageQuerySchema, ctx.query), loaded);
    },
  });

  routes.on('usage.series', usagePolicies.report, {
    target: (ctx) => target(validate(usageSeriesQuerySchema, ctx.query)),
    handle: async (ctx, actor, loaded) => {
      ctx.body = await deps.usage.series(actor, validate(usageSeriesQuerySchema, ctx.query), loaded);
    },
  });

  routes.on('cluster.overview', usagePolicies.overview, async (ctx, actor) => {
    ctx.body = await deps.cluster.overview(actor);
  });

  routes.on('cluster.history', usagePolicies.history, async (ctx) => {
    ctx.body = await deps.cluster.history(validate(clusterHistoryQuerySchema, ctx.query));
  });

  return routes.router;
}
