import type { ParameterizedContext } from 'koa';
import { SESSION_COOKIE } from '@trainyard/shared';
import type { AppState } from '../http/app-state.js';

/**
 * The browser's session cookie: HttpOnly, SameSite=Strict, and Secure whenever the site is https
 * (see `Site.secureCookies`).
 */
export function setSessionCookie(ctx: ParameterizedContext<AppState>, token: string, expires: Date): void {
  const secure = ctx.state.site.secureCookies(ctx.state.client, ctx.get('origin') || undefined);
  // The cookies library refuses Secure on a connection it thinks is plain http; behind a TLS
  // proxy the connection is plain and the site is not, so it is told what the site decided.
  if (secure) ctx.cookies.secure = true;
  ctx.cookies.set(SESSION_COOKIE, token, { httpOnly: true, sameSite: 'strict', secure, path: '/', expires, overwrite: true });
}

export function clearSessionCookie(ctx: ParameterizedContext<AppState>): void {
  setSessionCookie(ctx, '', new Date(0));
}
