import type Router from '@koa/router';
import { metricsPolicy, type ScrapeAccess, type ScrapeRequest } from '../authz/metrics.js';
import { Routes, type Guards } from '../authz/routes.js';
import type { AppState, RouteContext } from '../http/app-state.js';
import type { Site } from '../http/site.js';
import type { MasterMetrics } from './master-metrics.js';

const FORWARDING_HEADERS = ['x-forwarded-for', 'forwarded', 'x-real-ip'];

/**
 * `GET /metrics`, Prometheus' text format. Outside the API and before the Host check, like
 * `/healthz` (Prometheus scrapes by address or service name); the check `metrics.scrape` decides
 * on the request's own address, Host and bearer token instead (authz/metrics.ts).
 */
export function metricsRoutes(guards: Guards, metrics: MasterMetrics, access: ScrapeAccess, site: Site): Router<AppState> {
  const routes = new Routes(guards);
  routes.on('metrics', metricsPolicy(access), {
    target: async (ctx) => scrapeRequest(ctx, site),
    handle: async (ctx) => {
      const { contentType, text } = await metrics.scrape();
      ctx.type = contentType;
      ctx.set('cache-control', 'no-store');
      ctx.body = text;
    },
  });
  return routes.router;
}

function scrapeRequest(ctx: RouteContext, site: Site): ScrapeRequest {
  const client = site.client(ctx.req);
  const authorization = ctx.get('authorization');
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  return {
    address: client.address,
    hostAllowed: site.hostAllowed(client.hostname),
    // Resolved through a trusted proxy, the address is the client's; otherwise forwarding headers
    // mean a proxy this master does not know stands between, and the peer address says nothing.
    forwarded: client.address === ctx.req.socket.remoteAddress && FORWARDING_HEADERS.some((name) => ctx.get(name) !== ''),
    // Any other scheme is a credential that cannot be the token.
    bearer: authorization === '' ? undefined : (match?.[1] ?? ''),
  };
}
