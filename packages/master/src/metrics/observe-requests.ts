import type { Middleware } from 'koa';
import { API_PREFIX, ENDPOINTS, isErrorBody, type EndpointDefinition } from '@trainyard/shared';
import type { AppState } from '../http/app-state.js';
import type { MasterMetrics } from './master-metrics.js';

/** `GET /api/v1/tasks/:id` -> `tasks.get`: the route patterns @koa/router reports, named as the shared table names them. */
const ENDPOINT_BY_ROUTE = new Map(
  Object.entries(ENDPOINTS as Record<string, EndpointDefinition>).map(([name, e]) => [`${e.method} ${e.root ? '' : API_PREFIX}${e.path}`, name]),
);

/**
 * Outside the error mapper, so it sees every answer as sent: its status, its error body, and the
 * route pattern that matched (`ctx._matchedRoute`, set by @koa/router), never the raw path. Paths
 * no route matched (the web UI's files and pages, 404s) are `other`, requests to tasks' services
 * `/proxy/:id/*`, so the label has as many values as the master has routes.
 */
export function observeRequests(metrics: MasterMetrics): Middleware<AppState> {
  return async (ctx, next) => {
    const started = performance.now();
    try {
      await next();
    } finally {
      const matched = (ctx as { _matchedRoute?: unknown })._matchedRoute;
      const route = typeof matched === 'string' ? matched : ctx.path.startsWith('/proxy/') ? '/proxy/:id/*' : 'other';
      metrics.answered({
        method: ctx.method,
        route,
        status: ctx.status,
        seconds: (performance.now() - started) / 1000,
        endpoint: ENDPOINT_BY_ROUTE.get(`${ctx.method} ${route}`),
        error: ctx.status >= 400 && isErrorBody(ctx.body) ? ctx.body.error : undefined,
      });
    }
  };
}
