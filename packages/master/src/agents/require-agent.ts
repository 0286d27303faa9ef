import type { Middleware } from 'koa';
import { oneShotAgentId } from '@trainyard/shared';
import { DomainError } from '../errors.js';
import type { AppState } from '../http/app-state.js';
import type { AgentTokenService } from './agent-token-service.js';

/**
 * Guard for the agent-facing routes: a valid, unrevoked agent token. A one-shot agent's token
 * (scoped to one task) acts only as that task's agent id and only on that task, whatever the
 * route: so it can never register as, or speak for, another agent, nor be handed other work.
 */
export function requireAgent(tokens: AgentTokenService): Middleware<AppState> {
  return async (ctx, next) => {
    const match = /^Bearer\s+(\S+)$/i.exec(ctx.get('authorization'));
    const row = await tokens.authenticate(match?.[1]);
    ctx.state.agentTokenId = row.id;
    if (row.task_id !== null) {
      const params = (ctx as { params?: Record<string, string> }).params ?? {};
      const own = oneShotAgentId(row.task_id);
      if (params.id !== own || (params.taskId !== undefined && params.taskId !== String(row.task_id))) {
        throw new DomainError('FORBIDDEN', `this token belongs to the one-shot agent of task ${row.task_id}: it acts only as agent '${own}', on task ${row.task_id}`);
      }
      ctx.state.agentTask = { taskId: row.task_id, leaseId: row.lease_id! };
    }
    await next();
  };
}
