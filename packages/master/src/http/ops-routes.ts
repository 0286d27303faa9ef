import Router from '@koa/router';
import { HEALTH_PATH, READY_PATH } from '@trainyard/shared';
import { DomainError } from '../errors.js';
import type { AppState } from './app-state.js';

/**
 * `/healthz` (the process answers) and `/readyz` (and it can use its database), for load
 * balancers and orchestrators: no auth and no Host check (probes often use an address or a
 * service name), nothing revealed but ok or why not.
 */
export function opsRoutes(checkDatabase: () => void): Router<AppState> {
  const router = new Router<AppState>();
  router.get(HEALTH_PATH, (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get(READY_PATH, (ctx) => {
    try {
      checkDatabase();
    } catch (error) {
      ctx.state.log.warn({ err: error }, 'not ready: the database cannot be read');
      throw new DomainError('NOT_READY', `not ready: the database cannot be read (${(error as Error).message})`);
    }
    ctx.body = { status: 'ready' };
  });
  return router;
}
