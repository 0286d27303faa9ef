import type Router from '@koa/router';
import type { Middleware } from 'koa';
import { matchWebPage } from '@trainyard/shared';
import { DomainError } from '../errors.js';
import type { AppState } from './app-state.js';

/**
 * The end of the chain, for requests nothing answered: a path that exists with other methods
 * is 405 with `Allow` (204 with `Allow` for OPTIONS), anything else a JSON 404.
 */
export function noRoute(routers: Router<AppState>[]): Middleware<AppState> {
  return async (ctx) => {
    const allowed = allowedMethods(ctx.path, routers);
    if (allowed.length === 0) throw new DomainError('NOT_FOUND', `no such endpoint: ${ctx.method} ${ctx.path}`);
    ctx.set('Allow', allowed.join(', '));
    if (ctx.method === 'OPTIONS') {
      ctx.status = 204;
      return;
    }
    throw new DomainError('METHOD_NOT_ALLOWED', `${ctx.method} is not allowed on ${ctx.path}; it takes ${allowed.join(', ')}`);
  };
}

function allowedMethods(path: string, routers: Router<AppState>[]): string[] {
  const methods = new Set<string>();
  for (const router of routers) {
    for (const layer of router.match(path, 'GET').path) for (const method of layer.methods) methods.add(method);
  }
  if (methods.size === 0 && matchWebPage(path)) return ['GET', 'HEAD'];
  return [...methods].sort();
}
