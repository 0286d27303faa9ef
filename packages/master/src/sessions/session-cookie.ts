import type { ParameterizedContext } from 'koa';
import { SESSION_COOKIE } from '@trainyard/shared';
import { DomainError } from '../errors.js';
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

/**
 * The browser's session token, if its request carries the cookie. Cookies are per host, not per
 * port, so a page of another origin on this host (a task's service, on listen.services_port) can
 * set a `yard_session` of its own with a narrower path (`path=/api`), which the browser sends
 * first: taking the first one would let a notebook make its viewer act as whoever it chose (its
 * owner's session), and taking the last is no surer. So two are refused, and every cookie of that
 * name on a narrower path this request was sent with is cleared in the same answer (ours is on
 * `/`), so that the next request is the person's own again.
 */
export function sessionCookieOf(ctx: ParameterizedContext<AppState>): string | undefined {
  const values = (ctx.get('cookie') || '')
    .split(';')
    .map((pair) => pair.trim())
    .filter((pair) => pair.slice(0, pair.indexOf('=')).trim() === SESSION_COOKIE)
    .map((pair) => pair.slice(pair.indexOf('=') + 1).trim());
  if (values.length <= 1) return values[0] || undefined;
  for (const path of narrowerPaths(ctx.path)) ctx.cookies.set(SESSION_COOKIE, '', { path, expires: new Date(0), httpOnly: true, sameSite: 'strict' });
  throw new DomainError(
    'INVALID_INPUT',
    `the request carries ${values.length} ${SESSION_COOKIE} cookies: a page of another origin on this host (a task's service) set one of its own; ` +
      'the master cleared it with this answer: send the request again (and sign in again if asked)',
  );
}

/** The paths a cookie may have been set for and still be sent with a request for `path`, `/` left out. */
function narrowerPaths(path: string): string[] {
  const paths: string[] = [];
  for (let at = path.indexOf('/', 1); ; at = path.indexOf('/', at + 1)) {
    const prefix = at === -1 ? path : path.slice(0, at);
    if (prefix.length > 1) paths.push(prefix, `${prefix}/`);
    if (at === -1) break;
  }
  return [...new Set(paths)];
}
