import Koa, { type Middleware } from 'koa';
import Router from '@koa/router';
import type { Logger } from 'pino';
import { API_PREFIX } from '@trainyard/shared';
import { listRoutes, type Guards, type RouteInfo } from '../authz/routes.js';
import type { AppState } from './app-state.js';
import { errorMiddleware } from './error-middleware.js';
import { jsonBody } from './json-body.js';
import { noRoute } from './no-route.js';
import { opsRoutes } from './ops-routes.js';
import { requestContext } from './request-context.js';
import { requestFraming } from './request-framing.js';
import { siteGuard } from './site-guard.js';
import type { Site } from './site.js';
import { webUi } from './web-ui.js';

/**
 * The Koa chain, outermost first: request id and access log, the one error mapper, the refusal
 * of ambiguous requests, health and readiness, the Host check, body parsing, API routes, the web UI's files and pages, and the
 * JSON 404/405 for everything else. Each piece does one thing. Returns the app and its route table.
 */
export function createApp(options: {
  logger: Logger;
  bodyLimit: number;
  guards: Guards;
  routers: Router<AppState>[];
  /** Served outside the API, before body parsing (the proxy streams bodies as they come). */
  early?: { middleware: Middleware<AppState>[]; routers: Router<AppState>[] };
  webRoot: string;
  site: Site;
  checkDatabase: () => Promise<void>;
  /** Sees every answer as sent, outside the error mapper (the metrics' request observer). */
  observe?: Middleware<AppState>;
  /** More routes beside `/healthz` and `/readyz`, before the Host check (`/metrics`). */
  opsRouters?: Router<AppState>[];
}): { app: Koa<AppState>; routes: RouteInfo[] } {
  const app = new Koa<AppState>();
  app.use(requestContext(options.logger));
  if (options.observe) app.use(options.observe);
  app.use(errorMiddleware());
  app.use(requestFraming());
  // Outside the API, before the Host check and body parsing, each bound to its own (open) check too.
  const ops = [opsRoutes(options.guards, options.checkDatabase), ...(options.opsRouters ?? [])];
  for (const router of ops) app.use(router.routes());
  app.use(siteGuard(options.site));
  for (const middleware of options.early?.middleware ?? []) app.use(middleware);
  const early = options.early?.routers ?? [];
  for (const router of early) app.use(router.routes());
  app.use(jsonBody(options.bodyLimit));

  // Every route is bound to its check by `Routes` (authz/routes.ts), guard included: router-level
  // middleware in @koa/router also runs for sibling routers' paths, so it cannot carry auth.
  const api = new Router<AppState>({ prefix: API_PREFIX });
  for (const router of options.routers) api.use(router.routes());
  app.use(api.routes());
  for (const middleware of webUi(options.webRoot)) app.use(middleware);
  app.use(noRoute([...ops, ...early, api]));
  return { app, routes: listRoutes([...ops, ...early, api]) };
}
