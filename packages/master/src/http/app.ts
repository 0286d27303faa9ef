import Koa from 'koa';
import Router from '@koa/router';
import type { Logger } from 'pino';
import { API_PREFIX } from '@trainyard/shared';
import { publicPolicies } from '../authz/public.js';
import { listRoutes, Routes, type Guards, type RouteInfo } from '../authz/routes.js';
import { DomainError } from '../errors.js';
import type { AppState } from './app-state.js';
import { errorMiddleware } from './error-middleware.js';
import { jsonBody } from './json-body.js';
import { requestContext } from './request-context.js';
import { webUi } from './web-ui.js';

/**
 * The Koa chain, outermost first: request id and access log, the one error mapper,
 * body parsing, then routes. Each piece does one thing. Returns the app and its route table.
 */
export function createApp(options: {
  logger: Logger;
  bodyLimit: number;
  guards: Guards;
  routers: Router<AppState>[];
  webRoot: string;
}): { app: Koa<AppState>; routes: RouteInfo[] } {
  const app = new Koa<AppState>();
  app.use(requestContext(options.logger));
  app.use(errorMiddleware());

  // Outside the API and before body parsing: health is bound to its own (open) check too.
  const root = new Routes(options.guards);
  root.on('health', publicPolicies.health, async (ctx) => {
    ctx.body = { status: 'ok' };
  });
  app.use(root.router.routes());
  app.use(jsonBody(options.bodyLimit));

  // Every route is bound to its check by `Routes` (authz/routes.ts), guard included: router-level
  // middleware in @koa/router also runs for sibling routers' paths, so it cannot carry auth.
  const api = new Router<AppState>({ prefix: API_PREFIX });
  for (const router of options.routers) api.use(router.routes());
  app.use(api.routes());
  for (const middleware of webUi(options.webRoot)) app.use(middleware);
  app.use(async (ctx) => {
    throw new DomainError('NOT_FOUND', `no such endpoint: ${ctx.method} ${ctx.path}`);
  });
  return { app, routes: listRoutes([root.router, api]) };
}
