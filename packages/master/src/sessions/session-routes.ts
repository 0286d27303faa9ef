import Router from '@koa/router';
import { loginSchema, type MeResponse } from '@trainyard/shared';
import { toIso } from '../clock.js';
import type { Middleware } from 'koa';
import type { AppState } from '../http/app-state.js';
import { actorOf } from '../http/authenticate.js';
import { validate } from '../http/validate.js';
import type { UserService } from '../users/user-service.js';
import { toUser } from '../users/user-mapper.js';
import type { SessionService } from './session-service.js';

/** POST /auth/login: open to anyone (throttled). */
export function loginRoutes(sessions: SessionService): Router<AppState> {
  const router = new Router<AppState>();
  router.post('/auth/login', async (ctx) => {
    const { username, password, kind } = validate(loginSchema, ctx.state.body);
    ctx.body = await sessions.login(username, password, kind, ctx.ip);
  });
  return router;
}

/** POST /auth/logout and GET /me: about the caller's own session. */
export function sessionRoutes(sessions: SessionService, users: UserService, auth: Middleware<AppState>): Router<AppState> {
  const router = new Router<AppState>();
  router.post('/auth/logout', auth, async (ctx) => {
    await sessions.logout(actorOf(ctx));
    ctx.status = 204;
  });
  router.get('/me', auth, async (ctx) => {
    const actor = actorOf(ctx);
    const body: MeResponse = {
      user: toUser(await users.require(actor.username)),
      session: {
        kind: actor.session.kind,
        createdAt: toIso(actor.session.createdAt),
        expiresAt: toIso(actor.session.expiresAt),
      },
    };
    ctx.body = body;
  });
  return router;
}
