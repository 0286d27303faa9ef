import Router from '@koa/router';
import {
  createTaskSchema,
  decodeCursor,
  logQuerySchema,
  patchTaskSchema,
  taskIdParamSchema,
  taskListQuerySchema,
} from '@trainyard/shared';
import { DomainError } from '../errors.js';
import type { Middleware } from 'koa';
import type { AppState } from '../http/app-state.js';
import { actorOf, authorize } from '../http/authenticate.js';
import { validate } from '../http/validate.js';
import { toTask } from './task-mapper.js';
import { canChangeTask, canKillTask, canReadTask, filterVisibleTasks } from './task-policy.js';
import type { TaskService } from './task-service.js';

export function taskRoutes(tasks: TaskService, auth: Middleware<AppState>): Router<AppState> {
  const router = new Router<AppState>();

  router.get('/tasks', auth, async (ctx) => {
    const query = validate(taskListQuerySchema, ctx.query);
    const beforeId = query.after === undefined ? undefined : decodeCursor(query.after);
    if (query.after !== undefined && beforeId === undefined) {
      throw new DomainError('INVALID_INPUT', 'after: not a cursor this master issued');
    }
    ctx.body = await tasks.list({
      ...filterVisibleTasks(actorOf(ctx), query),
      ...(query.kind ? { kind: query.kind } : {}),
      ...(beforeId === undefined ? {} : { beforeId }),
      limit: query.limit,
    });
  });

  router.post('/tasks', auth, async (ctx) => {
    const { kind, config } = validate(createTaskSchema, ctx.state.body);
    ctx.status = 201;
    ctx.body = await tasks.create(actorOf(ctx), kind, config);
  });

  router.get('/tasks/:id', auth, async (ctx) => {
    const task = await tasks.require(validate(taskIdParamSchema, ctx.params).id);
    authorize(canReadTask(actorOf(ctx), task), `task ${task.id} belongs to ${task.owner}: only its owner or an admin may see its details`);
    ctx.body = toTask(task);
  });

  router.patch('/tasks/:id', auth, async (ctx) => {
    const task = await tasks.require(validate(taskIdParamSchema, ctx.params).id);
    authorize(canChangeTask(actorOf(ctx), task), `task ${task.id} belongs to ${task.owner}: only its owner or an admin may change it`);
    ctx.body = await tasks.rename(task, validate(patchTaskSchema, ctx.state.body));
  });

  router.post('/tasks/:id/kill', auth, async (ctx) => {
    const task = await tasks.require(validate(taskIdParamSchema, ctx.params).id);
    authorize(canKillTask(actorOf(ctx), task), `task ${task.id} belongs to ${task.owner}: only its owner or an admin may kill it`);
    ctx.body = await tasks.kill(task);
  });

  router.get('/tasks/:id/logs', auth, async (ctx) => {
    const task = await tasks.require(validate(taskIdParamSchema, ctx.params).id);
    authorize(canReadTask(actorOf(ctx), task), `task ${task.id} belongs to ${task.owner}: only its owner or an admin may read its logs`);
    const query = validate(logQuerySchema, ctx.query);
    ctx.body = await tasks.logs(task.id, query.after, query.limit, query.wait);
  });

  return router;
}
