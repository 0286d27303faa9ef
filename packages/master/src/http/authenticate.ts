import type Koa from 'koa';
import type { Middleware } from 'koa';
import type { ActorResolver } from '../authz/actor-resolver.js';
import { DomainError } from '../errors.js';
import { sessionCookieOf } from '../sessions/session-cookie.js';
import type { AppState, RouteContext } from './app-state.js';

/**
 * Guard for user routes: a live session or personal API token, as a bearer token (CLI, scripts)
 * or the browser's session cookie, resolved to the request's Actor. Cookie requests that change
 * something must come from this site's own pages.
 */
export function requireUser(resolver: ActorResolver): Middleware<AppState> {
  return async (ctx, next) => {
    const match = /^Bearer\s+(\S+)$/i.exec(ctx.get('authorization'));
    const cookie = match ? undefined : sessionCookieOf(ctx);
    if (cookie) refuseCrossSite(ctx);
    ctx.state.actor = await resolver.resolve(match?.[1] ?? cookie, cookie ? 'cookie' : 'session');
    await next();
  };
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * CSRF: a state-changing cookie request needs an Origin that is this site's own (a public URL's,
 * or the URL the request came to as trusted proxies report it), or else `Sec-Fetch-Site:
 * same-origin`. Not Koa's ctx.origin: Koa 3 answers that from the Origin header itself.
 */
export function refuseCrossSite(ctx: Koa.ParameterizedContext<AppState> | RouteContext): void {
  if (SAFE_METHODS.has(ctx.method)) return;
  const origin = ctx.get('origin');
  const fetchSite = ctx.get('sec-fetch-site');
  const sameOrigin = origin ? ctx.state.site.isOwnOrigin(origin, ctx.state.client) : fetchSite === 'same-origin';
  if (!sameOrigin) {
    throw new DomainError('FORBIDDEN', 'cross-site request refused: this change must come from the Trainyard pages themselves');
  }
}
