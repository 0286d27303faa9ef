import Koa from 'koa';
import Router from '@koa/router';
import type { Logger } from 'pino';
import { API_PREFIX, HEALTH_PATH } from '@trainyard/shared';
import { DomainError } from '../errors.js';
import type { AppState } from './app-state.js';
import { errorMiddleware } from './error-middleware.js';
import { jsonBody } from './json-body.js';
import { requestContext } from './request-context.js';

export interface RouteGroups {
  /** Mounted under /api/v1 without authentication (login). */
  open: Router<AppState>[];
  /** Mounted under /api/v1 behind `guard` (users' routes). */
  authenticated: Router<AppState>[];
  guard: Koa.Middleware<AppState>;
}

/**
 * The Koa chain, outermost first: request id and access log, the one error mapper,
 * body parsing, then routes. Each piece does one thing.
 */
export function createApp(options: { logger: Logger; bodyLimit: number; routes: RouteGroups }): Koa<AppState> {
  const app = new Koa<AppState>();
  app.use(requestContext(options.logger));
  app.use(errorMiddleware());
  app.use(async (ctx, next) => {
    if (ctx.path !== HEALTH_PATH) return next();
    ctx.body = { status: 'ok' };
  });
  app.use(jsonBody(options.bodyLimit));

  const api = new Router<AppState>({ prefix: API_PREFIX });
  for (const group of options.routes.open) api.use(group.routes(), group.allowedMethods({ throw: true }));
  const protectedApi = new Router<AppState>();
  protectedApi.use(options.routes.guard);
  for (const group of options.routes.authenticated) {
    protectedApi.use(group.routes(), group.allowedMethods({ throw: true }));
  }
  api.use(protectedApi.routes());
  app.use(api.routes());
  app.use(async (ctx) => {
    throw new DomainError('NOT_FOUND', `no such endpoint: ${ctx.method} ${ctx.path}`);
  });
  return app;
}
