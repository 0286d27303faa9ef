import type Router from '@koa/router';
import { auditQuerySchema, decodeCursor } from '@trainyard/shared';
import { auditPolicies } from '../authz/audit.js';
import { Routes, type Guards } from '../authz/routes.js';
import { parseDuration } from '../config/duration.js';
import { DomainError } from '../errors.js';
import type { AppState } from '../http/app-state.js';
import { validate } from '../http/validate.js';
import type { UserService } from '../users/user-service.js';
import type { AuditService } from './audit-service.js';

export function auditRoutes(audit: AuditService, users: UserService, guards: Guards): Router<AppState> {
  const routes = new Routes(guards);

  /** Newest first; `user` (by or about them), `since` (a duration back from now). */
  routes.on('audit.list', auditPolicies.list, async (ctx) => {
    const query = validate(auditQuerySchema, ctx.query);
    const sinceMs = query.since === undefined ? undefined : parseDuration(query.since);
    if (query.since !== undefined && sinceMs === undefined) {
      throw new DomainError('INVALID_INPUT', `since: '${query.since}' is not a duration such as "1d", "12h" or "30m"`);
    }
    const beforeId = query.after === undefined ? undefined : decodeCursor(query.after);
    if (query.after !== undefined && beforeId === undefined) throw new DomainError('INVALID_INPUT', 'after: not a cursor this master issued');
    const user = query.user === undefined ? undefined : await users.require(query.user);
    ctx.body = await audit.list({
      ...(user ? { user: { id: user.id, username: user.username } } : {}),
      ...(sinceMs === undefined ? {} : { sinceMs }),
      ...(beforeId === undefined ? {} : { beforeId }),
      limit: query.limit,
    });
  });

  return routes.router;
}
