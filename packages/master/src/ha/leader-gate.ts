import type { Middleware } from 'koa';
import { API_PREFIX, endpointPath } from '@trainyard/shared';
import type { AppState } from '../http/app-state.js';
import type { Leadership } from './leadership.js';

const VERSION_PATH = `${API_PREFIX}${endpointPath('version', {})}`;

/**
 * What a standby serves (docs/architecture.md, "Several masters"): `/healthz`, `/readyz` (before this
 * gate) and `GET /api/v1/version`. Every other API request, reads included, is 503 NOT_LEADER
 * naming the leader's URL: agents' polls and reports must reach the leader (its waits, kills and
 * leases live there), writes must be the leader's (only it wakes the agents a new task is for), and
 * a read served here could not wait for a change (`-f`, `task wait`: the changes happen on the
 * leader). The CLI and agents follow the URL themselves. Pages and task services (a browser) are
 * sent to the same path on the leader with a 307 (method and body kept) when a leader is known.
 */
export function leaderGate(leadership: Leadership): Middleware<AppState> {
  return async (ctx, next) => {
    if (leadership.isLeader() || (ctx.method === 'GET' && ctx.path === VERSION_PATH)) return next();
    const leader = leadership.leaderUrl();
    const api = ctx.path === API_PREFIX || ctx.path.startsWith(`${API_PREFIX}/`);
    if (!api && leader) {
      ctx.status = 307;
      ctx.set('Location', `${leader}${ctx.url}`);
      ctx.set('Retry-After', '1');
      ctx.body = { error: { code: 'NOT_LEADER', message: `this master is a standby: the leader is ${leader}`, details: { leader } } };
      return;
    }
    throw leadership.notLeader();
  };
}
