import type { Middleware } from 'koa';
import type { AppState } from '../http/app-state.js';
import type { AgentTokenService } from './agent-token-service.js';

/** Guard for the agent-facing routes: a valid, unrevoked agent token. */
export function requireAgent(tokens: AgentTokenService): Middleware<AppState> {
  return async (ctx, next) => {
    const match = /^Bearer\s+(\S+)$/i.exec(ctx.get('authorization'));
    ctx.state.agentTokenId = (await tokens.authenticate(match?.[1])).id;
    await next();
  };
}
