import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import { API_VERSION_HEADER, REQUEST_ID_HEADER, VERSION_HEADER } from '@trainyard/shared';
import type { AppState } from './app-state.js';
import { MASTER_VERSION } from './master-version.js';

/**
 * Gives each request an id (echoed in a header and every log line) and logs how it ended. Every
 * answer names the master's release and API version, so a client can tell at no extra request.
 */
export function requestContext(logger: Logger): Middleware<AppState> {
  return async (ctx, next) => {
    const requestId = randomUUID();
    const started = performance.now();
    ctx.state.requestId = requestId;
    ctx.state.log = logger.child({ reqId: requestId });
    ctx.set(REQUEST_ID_HEADER, requestId);
    ctx.set(VERSION_HEADER, MASTER_VERSION.version);
    ctx.set(API_VERSION_HEADER, String(MASTER_VERSION.apiVersion));
    try {
      await next();
    } finally {
      // Agents heartbeat and poll all the time: their routine requests are debug lines.
      const routine = ctx.state.agentTokenId !== undefined && ctx.status < 400;
      ctx.state.log[routine ? 'debug' : 'info'](
        {
          method: ctx.method,
          path: ctx.path,
          status: ctx.status,
          ms: Math.round((performance.now() - started) * 10) / 10,
          user: ctx.state.actor?.username,
          ip: ctx.ip,
        },
        'request',
      );
    }
  };
}
