import type Router from '@koa/router';
import { publicPolicies } from '../authz/public.js';
import { Routes, type Guards } from '../authz/routes.js';
import { DomainError } from '../errors.js';
import type { AppState } from './app-state.js';

/**
 * `/healthz` (the process answers) and `/readyz` (and it can use its database), for load
 * balancers and orchestrators: no auth and no Host check (probes often use an address or a
 * service name), nothing revealed but ok or why not. With several masters (`ha`) a standby is
 * ready too (it answers, naming the leader); the answer says which it is (`role`, `leader`), for a
 * load balancer that sends everything to the leader.
 */
export function opsRoutes(
  guards: Guards,
  checkDatabase: () => Promise<void>,
  leadership?: () => { role: 'leader' | 'standby'; leader: string | null },
): Router<AppState> {
  const routes = new Routes(guards);
  routes.on('health', publicPolicies.health, async (ctx) => {
    ctx.body = { status: 'ok' };
  });
  routes.on('ready', publicPolicies.ready, async (ctx) => {
    try {
      await checkDatabase();
    } catch (error) {
      ctx.state.log.warn({ err: error }, 'not ready: the database cannot be read');
      throw new DomainError('NOT_READY', `not ready: the database cannot be read (${(error as Error).message})`);
    }
    ctx.body = leadership ? { status: 'ready', ...pick(leadership()) } : { status: 'ready' };
  });
  return routes.router;
}

const pick = ({ role, leader }: { role: 'leader' | 'standby'; leader: string | null }) => ({ role, leader });
