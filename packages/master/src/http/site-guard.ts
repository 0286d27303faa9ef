import type { Middleware } from 'koa';
import { DomainError } from '../errors.js';
import type { AppState } from './app-state.js';
import type { Site } from './site.js';

/**
 * Establishes who asked for what (`ctx.state.client`, and `ctx.ip` for the throttle and the log),
 * and refuses requests whose Host names a site this master is not: a DNS-rebinding page gets
 * nothing, not even a session cookie.
 */
export function siteGuard(site: Site): Middleware<AppState> {
  return async (ctx, next) => {
    const client = site.client(ctx.req);
    ctx.state.client = client;
    ctx.state.site = site;
    ctx.request.ip = client.address;
    if (!client.host) throw new DomainError('HOST_NOT_ALLOWED', 'the request has no Host header: say which host it is for');
    if (!site.hostAllowed(client.hostname)) {
      throw new DomainError(
        'HOST_NOT_ALLOWED',
        `this master does not answer to the host name "${client.hostname}": if that is how people reach it, ` +
          'an admin adds the URL to http.public_url in master.yaml (loopback names and IP addresses always work)',
      );
    }
    await next();
  };
}
