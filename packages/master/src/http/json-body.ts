import getRawBody from 'raw-body';
import type { Middleware } from 'koa';
import { findUnsafeStructure } from '@trainyard/shared';
import { DomainError } from '../errors.js';
import type { AppState } from './app-state.js';

const METHODS_WITH_BODY = new Set(['POST', 'PUT', 'PATCH']);

/** Reads a JSON body up to `limit` bytes into ctx.state.body; anything else is a clear 4xx. */
export function jsonBody(limit: number): Middleware<AppState> {
  return async (ctx, next) => {
    if (!METHODS_WITH_BODY.has(ctx.method)) return next();
    const length = ctx.request.length;
    if (length !== undefined && length > limit) throw tooLarge(limit);
    let text: string;
    try {
      text = await getRawBody(ctx.req, { limit, encoding: 'utf8', length });
    } catch (error) {
      if ((error as { type?: string }).type === 'entity.too.large') throw tooLarge(limit);
      throw new DomainError('INVALID_INPUT', `could not read the request body: ${(error as Error).message}`);
    }
    if (text.trim() === '') {
      ctx.state.body = {};
    } else {
      if (!ctx.request.is('application/json')) {
        throw new DomainError('UNSUPPORTED_MEDIA_TYPE', 'request bodies must be JSON (Content-Type: application/json)');
      }
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch (error) {
        throw new DomainError('INVALID_JSON', `the request body is not valid JSON: ${(error as Error).message}`);
      }
      // Before anything recurses into it: a 100k-deep array would overflow the stack of whatever
      // walks it next, and "__proto__" would be dropped silently on its way into a record.
      const problem = findUnsafeStructure(body);
      if (problem) throw new DomainError('INVALID_INPUT', `the request body cannot be used: ${problem}`);
      ctx.state.body = body;
    }
    await next();
  };
}

const tooLarge = (limit: number) =>
  new DomainError('PAYLOAD_TOO_LARGE', `the request body is larger than the limit of ${limit} bytes`);
