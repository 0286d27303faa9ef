import type Router from '@koa/router';
import { loginSchema, logoutSchema, sessionIdParamSchema, userQuerySchema, type MeResponse } from '@trainyard/shared';
import { Routes, type Guards } from '../authz/routes.js';
import { sessionPolicies } from '../authz/sessions.js';
import { toIso } from '../clock.js';
import type { AppState } from '../http/app-state.js';
import { refuseCrossSite } from '../http/authenticate.js';
import { validate } from '../http/validate.js';
import type { UserService } from '../users/user-service.js';
import { clearSessionCookie, setSessionCookie } from './session-cookie.js';
import type { SessionService } from './session-service.js';

/** Login, logout, who am I, and the sessions a user has open. */
export function sessionRoutes(sessions: SessionService, users: UserService, guards: Guards): Router<AppState> {
  const routes = new Routes(guards);

  routes.on('auth.login', sessionPolicies.login, async (ctx) => {
    const { username, password, kind, cookie } = validate(loginSchema, ctx.state.body);
    if (cookie) refuseCrossSite(ctx);
    const response = await sessions.login(username, password, kind, { address: ctx.state.client.address, client: ctx.get('user-agent') });
    if (!cookie) {
      ctx.body = response;
      return;
    }
    // The browser holds the token where scripts cannot read it; the page gets the rest.
    setSessionCookie(ctx, response.token, new Date(response.session.expiresAt));
    ctx.body = { user: response.user, session: response.session };
  });

  routes.on('auth.logout', sessionPolicies.logout, async (ctx, actor) => {
    const { all } = validate(logoutSchema, ctx.state.body);
    if (all) await sessions.logoutAll(actor.userId);
    else if (actor.via !== 'api_token') await sessions.logout(actor.session.id);
    if (actor.via === 'cookie') clearSessionCookie(ctx);
    ctx.status = 204;
  });

  routes.on('me', sessionPolicies.me, async (ctx, actor) => {
    const { session } = actor;
    const body: MeResponse = {
      user: await users.presentOne(await users.requireById(actor.userId)),
      session: {
        via: actor.via,
        kind: session.kind,
        createdAt: toIso(session.createdAt),
        expiresAt: session.expiresAt === null ? null : toIso(session.expiresAt),
        ...(session.name === undefined ? {} : { name: session.name }),
      },
      capabilities: actor.effectiveCapabilities(),
    };
    ctx.body = body;
  });

  /** `?user=NAME` for someone else's (change_config); your own without it. */
  routes.on('sessions.list', sessionPolicies.list, {
    target: async (ctx, actor) => {
      const { user } = validate(userQuerySchema, ctx.query);
      return user === undefined ? { id: actor.userId, username: actor.username } : users.require(user);
    },
    handle: async (ctx, actor, user) => {
      ctx.body = { items: await sessions.list(user, actor.via === 'api_token' ? undefined : actor.session.id), next: null };
    },
  });

  routes.on('sessions.revoke', sessionPolicies.revoke, {
    target: async (ctx) => sessions.require(validate(sessionIdParamSchema, ctx.params).id),
    handle: async (ctx, actor, session) => {
      await sessions.revoke(actor, session);
      ctx.status = 204;
    },
  });

  return routes.router;
}
