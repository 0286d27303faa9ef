import Router from '@koa/router';
import { z } from 'zod';
import { API_PREFIX, imageListQuerySchema, imageLoadStartSchema, imagePullSchema, imageRemoveQuerySchema, imageReportSchema, agentIdSchema } from '@trainyard/shared';
import { agentPolicies } from '../authz/agents.js';
import { imagePolicies } from '../authz/images.js';
import { Routes, type Guards } from '../authz/routes.js';
import type { AgentService } from '../agents/agent-service.js';
import { DomainError } from '../errors.js';
import type { AppState, RouteContext } from '../http/app-state.js';
import { validate } from '../http/validate.js';
import type { ImageService } from './image-service.js';

export const operationParams = z.strictObject({ id: z.string().regex(/^[0-9a-f]{16}$/, 'not an image operation id') });
export const watchQuery = z.strictObject({
  wait: z.coerce.number().int().min(0).max(60).default(0),
  seen: z.coerce.number().int().min(0).optional(),
});
export const reportParams = z.strictObject({ id: agentIdSchema, operationId: operationParams.shape.id });

/** What a tarball may come as: `docker save`'s tar, or it gzipped. */
export const TARBALL_TYPES = ['application/octet-stream', 'application/x-tar', 'application/gzip', 'application/x-gzip'];

/**
 * `yard image ...`: the list, pull, removal, a load's start and its progress (JSON, API routes); a
 * load's tarball (`images.loadData`, a stream, mounted before the JSON body parser); agents' reports.
 */
export function imageRoutes(deps: { images: ImageService; agents: AgentService }, guards: Guards): { api: Router<AppState>; early: Router<AppState> } {
  const { images, agents } = deps;
  const api = new Routes(guards);
  const early = new Routes(guards);

  api.on('images.list', imagePolicies.list, async (ctx, actor) => {
    ctx.body = await images.list(actor, validate(imageListQuerySchema, ctx.query));
  });

  api.on('images.pull', imagePolicies.pull, async (ctx, actor) => {
    ctx.status = 202;
    ctx.body = await images.pull(actor, validate(imagePullSchema, ctx.state.body));
  });

  api.on('images.remove', imagePolicies.remove, {
    target: (ctx, actor) => images.removalTarget(actor, validate(imageRemoveQuerySchema, ctx.query)),
    handle: async (ctx, actor, target) => {
      ctx.status = 202;
      ctx.body = await images.remove(actor, target);
    },
  });

  api.on('images.loadStart', imagePolicies.load, async (ctx, actor) => {
    ctx.status = 201;
    ctx.body = await images.startLoad(actor, validate(imageLoadStartSchema, ctx.state.body));
  });

  api.on('images.operation', imagePolicies.operation, {
    target: async (ctx: RouteContext) => images.operationTarget(validate(operationParams, ctx.params).id),
    handle: async (ctx, _actor, target) => {
      const { wait, seen } = validate(watchQuery, ctx.query);
      ctx.body = await images.watch(target.id, seen, wait * 1000);
    },
  });

  // The tarball: read as it streams, so this route runs before the JSON body parser.
  early.on('images.loadData', imagePolicies.upload, {
    target: async (ctx: RouteContext) => images.loadTarget(validate(operationParams, ctx.params).id),
    handle: async (ctx, actor, target) => {
      const type = (ctx.get('content-type') || '').split(';')[0]!.trim().toLowerCase();
      if (!TARBALL_TYPES.includes(type)) {
        throw new DomainError('UNSUPPORTED_MEDIA_TYPE', `send the tarball as one of ${TARBALL_TYPES.join(', ')} (yard image load does), not ${type || 'no Content-Type'}`);
      }
      try {
        ctx.body = await images.receive(actor, target.id, ctx.req);
      } catch (error) {
        // Refused before the whole body was read: the connection closes after the answer rather than draining the rest.
        if (!ctx.req.readableEnded) ctx.set('Connection', 'close');
        throw error;
      }
    },
  });

  api.on('agent.imageReport', agentPolicies.bound, {
    target: async (ctx: RouteContext) => {
      const { id, operationId } = validate(reportParams, ctx.params);
      return { ...(await agents.binding(id)), operationId };
    },
    handle: async (ctx, { id, operationId }) => {
      images.report(id, operationId, validate(imageReportSchema, ctx.state.body));
      ctx.body = {};
    },
  });

  const prefixed = new Router<AppState>({ prefix: API_PREFIX });
  prefixed.use(early.router.routes());
  return { api: api.router, early: prefixed };
}
