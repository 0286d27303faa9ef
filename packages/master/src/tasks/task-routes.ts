import type Router from '@koa/router';
import {
  createTaskSchema,
  decodeCursor,
  logQuerySchema,
  patchTaskSchema,
  taskIdParamSchema,
  taskGetQuerySchema,
  taskListQuerySchema,
  type TaskWhy,
} from '@trainyard/shared';
import { Routes, type Guards } from '../authz/routes.js';
import { taskPolicies, visibleTasks } from '../authz/tasks.js';
import { DomainError } from '../errors.js';
import type { AppState, RouteContext } from '../http/app-state.js';
import { validate } from '../http/validate.js';
import { toTask } from './task-mapper.js';
import type { TaskService } from './task-service.js';
import type { TaskWithOwner } from './task-repository.js';

/** `why`: the scheduler's explanation of a task (`yard why`): the tasks domain does not import the scheduler. */
export function taskRoutes(tasks: TaskService, guards: Guards, deps: { why: (task: TaskWithOwner) => Promise<TaskWhy> }): Router<AppState> {
  const routes = new Routes(guards);
  const task = (ctx: RouteContext) => tasks.target(validate(taskIdParamSchema, ctx.params).id);

  routes.on('tasks.list', taskPolicies.list, async (ctx, actor) => {
    const query = validate(taskListQuerySchema, ctx.query);
    const beforeId = query.after === undefined ? undefined : decodeCursor(query.after);
    if (query.after !== undefined && beforeId === undefined) {
      throw new DomainError('INVALID_INPUT', 'after: not a cursor this master issued');
    }
    ctx.body = await tasks.list({
      // Naming an owner lists their summaries, as `all` does everyone's.
      ...visibleTasks(actor, { all: query.all || query.owner !== undefined }),
      ...(query.kind ? { kind: query.kind } : {}),
      ...(beforeId === undefined ? {} : { beforeId }),
      ...(query.state ? { states: query.state } : {}),
      ...(query.owner ? { owner: query.owner } : {}),
      ...(query.group ? { group: query.group } : {}),
      ...(query.since ? { since: query.since } : {}),
      ...(query.until ? { until: query.until } : {}),
      ...(query.name ? { name: query.name } : {}),
      ...(query.pool ? { pool: query.pool } : {}),
      limit: query.limit,
    });
  });

  routes.on('tasks.timeline', taskPolicies.read, {
    target: task,
    handle: async (ctx, _actor, target) => {
      ctx.body = { items: await tasks.timeline(target.task) };
    },
  });

  routes.on('tasks.why', taskPolicies.read, {
    target: task,
    handle: async (ctx, _actor, target) => {
      ctx.body = await deps.why(target.task);
    },
  });

  routes.on('tasks.create', taskPolicies.create, async (ctx, actor) => {
    const request = validate(createTaskSchema, ctx.state.body);
    ctx.status = 201;
    ctx.body = await tasks.create(actor, request);
  });

  routes.on('tasks.plan', taskPolicies.create, async (ctx, actor) => {
    ctx.body = await tasks.plan(actor, validate(createTaskSchema, ctx.state.body));
  });

  routes.on('tasks.get', taskPolicies.read, {
    target: task,
    handle: async (ctx, _actor, target) => {
      const query = validate(taskGetQuerySchema, ctx.query);
      ctx.body = query.wait > 0 ? await tasks.watch(target.task, query.wait, query.seen) : toTask(target.task);
    },
  });

  routes.on('tasks.update', taskPolicies.alter, {
    target: task,
    handle: async (ctx, _actor, target) => {
      ctx.body = await tasks.rename(target.task, validate(patchTaskSchema, ctx.state.body));
    },
  });

  routes.on('tasks.kill', taskPolicies.kill, {
    target: task,
    handle: async (ctx, actor, target) => {
      ctx.body = await tasks.kill(target.task, actor);
    },
  });

  routes.on('tasks.delete', taskPolicies.delete, {
    target: task,
    handle: async (ctx, actor, target) => {
      ctx.body = await tasks.delete(actor, target.task);
    },
  });

  routes.on('tasks.logs', taskPolicies.logs, {
    target: task,
    handle: async (ctx, _actor, target) => {
      const query = validate(logQuerySchema, ctx.query);
      ctx.body = await tasks.logs(target.id, {
        after: query.after,
        limit: query.limit,
        waitSeconds: query.wait,
        seen: query.seen,
        tail: query.tail,
        sinceAt: query.since === undefined ? undefined : tasks.sinceAt(query.since, 'since'),
      });
    },
  });

  return routes.router;
}
