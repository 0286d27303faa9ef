import type { Middleware } from 'koa';
import type { Actor } from '../actor.js';
import { DomainError } from '../errors.js';
import type { SessionService } from '../sessions/session-service.js';
import type { AppState, RouteContext } from './app-state.js';

/** Guard for user routes: a live session's bearer token; the actor is then on ctx.state. */
export function requireUser(sessions: SessionService): Middleware<AppState> {
  return async (ctx, next) => {
    const header = ctx.get('authorization');
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    ctx.state.actor = await sessions.authenticate(match?.[1]);
    await next();
  };
}

export function actorOf(ctx: RouteContext): Actor {
  const actor = ctx.state.actor;
  if (!actor) throw new DomainError('UNAUTHENTICATED', 'not logged in');
  return actor;
}

/** Throws FORBIDDEN unless the named policy check allowed it. */
export function authorize(allowed: boolean, message: string): void {
  if (!allowed) throw new DomainError('FORBIDDEN', message);
}
