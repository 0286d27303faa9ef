import type { Middleware } from 'koa';
import { ZodError } from 'zod';
import { ERROR_STATUS, type ErrorBody, type ErrorCode } from '@trainyard/shared';
import { isUniqueViolation } from '../db/dialect.js';
import { DomainError } from '../errors.js';
import type { AppState } from './app-state.js';

/**
 * The one place errors become responses: typed domain errors keep their code, validation
 * errors become INVALID_INPUT, Koa's own HTTP errors are mapped, and anything else is a
 * 500 whose details stay in the log under the request id.
 */
export function errorMiddleware(): Middleware<AppState> {
  return async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      const body = toErrorBody(error, ctx.state.requestId);
      if (body.error.code === 'INTERNAL') {
        ctx.state.log.error({ err: error }, 'unexpected error');
      } else if (isUniqueViolation(error)) {
        ctx.state.log.warn({ err: error }, 'a write raced another one to the same name or id');
      }
      if (error instanceof DomainError && error.extra.retryAfterSeconds !== undefined) {
        ctx.set('Retry-After', String(error.extra.retryAfterSeconds));
      }
      ctx.status = ERROR_STATUS[body.error.code];
      ctx.body = body;
    }
  };
}

const HTTP_CODES: Partial<Record<number, ErrorCode>> = {
  400: 'INVALID_INPUT',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  408: 'REQUEST_TIMEOUT',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'TOO_MANY_REQUESTS',
  431: 'HEADER_TOO_LARGE',
};

function toErrorBody(error: unknown, requestId: string): ErrorBody {
  if (error instanceof DomainError) {
    return {
      error: {
        code: error.code,
        message: error.message,
        ...(error.extra.details ? { details: error.extra.details } : {}),
      },
    };
  }
  // Two requests raced past a service's check to the same unique name or id (the services check
  // first and say which; this is the rare race between two masters' connections): the loser
  // changed nothing, its transaction rolled back.
  if (isUniqueViolation(error)) {
    return { error: { code: 'CONFLICT', message: 'another request took the same name or id at the same moment; nothing was changed: look again and retry' } };
  }
  if (error instanceof ZodError) {
    const details = error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
    const first = details[0];
    const message = first ? (first.path ? `${first.path}: ${first.message}` : first.message) : 'invalid input';
    return { error: { code: 'INVALID_INPUT', message, details } };
  }
  // Koa and @koa/router throw http-errors with `status` and `expose` for client errors.
  const status = (error as { status?: unknown }).status;
  const expose = (error as { expose?: unknown }).expose === true;
  const code = typeof status === 'number' ? HTTP_CODES[status] : undefined;
  if (code && expose) {
    return { error: { code, message: (error as Error).message } };
  }
  return {
    error: {
      code: 'INTERNAL',
      message: `internal error: the master's log has the details under request id ${requestId}`,
      requestId,
    },
  };
}
