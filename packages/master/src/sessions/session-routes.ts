import Router from '@koa/router';
import { loginSchema, type MeResponse } from '@trainyard/shared';
import { toIso } from '../clock.js';
import type { Middleware } from 'koa';
import type { AppState } from '../http/app-state.js';
import { actorOf, refuseCrossSite } from '../http/authenticate.js';
import { validate } from '../http/validate.js';
import type { UserService } from '../users/user-service.js';
import { toUser } from '../users/user-mapper.js';
import { clearSessionCookie, setSessionCookie } from './session-cookie.js';
import type { SessionService } from './session-service.js';

/** POST /auth/login: open to anyone (throttled). */
export function loginRoutes(sessions: SessionService): Router<AppState> {
  const router = new Router<AppState>();
  router.post('/auth/login', async (ctx) => {
    const { username, password, kind, cookie } = validate(loginSchema, ctx.state.body);
    if (cookie) refuseCrossSite(ctx);
    const response = await sessions.login(username, password, kind, ctx.state.client.address);
    if (!cookie) {
      ctx.body = response;
      return;
    }
    // The browser holds the token where scripts cannot read it; the page gets the rest.
    setSessionCookie(ctx, response.token, new Date(response.session.expiresAt));
    ctx.body = { user: response.user, session: response.session };
  });
  return router;
}

/** POST /auth/logout and GET /me: about the caller's own session. */
export function sessionRoutes(sessions: SessionService, users: UserService, auth: Middleware<AppState>): Router<AppState> {
  const router = new Router<AppState>();
  router.post('/auth/logout', auth, async (ctx) => {
    await sessions.logout(actorOf(ctx));
    if (ctx.state.viaCookie) clearSessionCookie(ctx);
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
