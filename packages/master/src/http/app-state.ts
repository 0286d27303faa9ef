import type { ParameterizedContext } from 'koa';
import type { RouterContext } from '@koa/router';
import type { Logger } from 'pino';
import type { Actor } from '../authz/actor.js';
import type { ClientInfo, Site } from './site.js';

export interface AppState {
  requestId: string;
  log: Logger;
  /** Set by `siteGuard` for every request past the health and readiness checks. */
  client: ClientInfo;
  site: Site;
  /** Set by `requireUser` on every route that needs a user (`actor.via` says how it came). */
  actor?: Actor;
  /** Set by `requireAgent` on agent-facing routes. */
  agentTokenId?: number;
  /** Set by `requireAgent` when the token is a one-shot agent's: the one task and lease it serves. */
  agentTask?: { taskId: number; leaseId: string };
  /** The parsed JSON body, set by `jsonBody`. */
  body?: unknown;
}

export type AppContext = ParameterizedContext<AppState>;
export type RouteContext = RouterContext<AppState>;
