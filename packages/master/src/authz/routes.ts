import Router, { type RouterMiddleware } from '@koa/router';
import type { Middleware } from 'koa';
import { ENDPOINTS, type EndpointName } from '@trainyard/shared';
import type { AppState, RouteContext } from '../http/app-state.js';
import { DomainError } from '../errors.js';
import type { Actor } from './actor.js';
import { enforce } from './decision.js';
import type { AgentPolicy, AnyPolicy, OpenPolicy, RequestPolicy, UserPolicy } from './policy.js';

/** How requests prove who they are: a user's session or token, or an agent's token. */
export interface Guards {
  user: Middleware<AppState>;
  agent: Middleware<AppState>;
}

/** What the route table says about one route; kept on its handler so the router can be walked. */
export interface RouteBinding {
  /** The endpoint's name in the shared table (packages/shared/src/endpoints.ts). */
  endpoint: EndpointName;
  check: string;
  audience: AnyPolicy['audience'];
  capability: string | null;
  rule: string;
}

export interface RouteInfo {
  method: string;
  path: string;
  /** Undefined for a route added without this helper: the route-table test fails on it. */
  binding: RouteBinding | undefined;
}

const BINDING = Symbol('trainyard.route-binding');
type Bound = RouterMiddleware<AppState> & { [BINDING]?: RouteBinding };

type OpenHandler = (ctx: RouteContext) => Promise<void>;
type UserHandler = (ctx: RouteContext, actor: Actor) => Promise<void>;
interface TargetRoute<L> {
  /** Loads what the check decides on (validating the path's parameters); runs after authentication. */
  target: (ctx: RouteContext, actor: Actor) => Promise<L>;
  handle: (ctx: RouteContext, actor: Actor, target: L) => Promise<void>;
}
interface AgentTargetRoute<L> {
  /** Loads what the check decides on (the path's parameters, validated; what the request carries); for agents, after the agent token is known. */
  target: (ctx: RouteContext) => Promise<L>;
  handle: (ctx: RouteContext, target: L) => Promise<void>;
}

/**
 * The one way routes are defined: each binds an endpoint of the shared table (its method and path,
 * what clients call) to exactly one named check, which runs before the handler (after the check's
 * target, if it has one, is loaded). A denial is 403 FORBIDDEN with the check's reason.
 * `docs/routes.md` is generated from these bindings.
 */
export class Routes {
  readonly router = new Router<AppState>();

  constructor(private readonly guards: Guards) {}

  on<T, L extends T>(endpoint: EndpointName, policy: UserPolicy<T>, route: TargetRoute<L>): void;
  on(endpoint: EndpointName, policy: UserPolicy, handle: UserHandler): void;
  on<T, L extends T>(endpoint: EndpointName, policy: AgentPolicy<T>, route: AgentTargetRoute<L>): void;
  on<T, L extends T>(endpoint: EndpointName, policy: RequestPolicy<T>, route: AgentTargetRoute<L>): void;
  on(endpoint: EndpointName, policy: OpenPolicy, handle: OpenHandler): void;
  on(endpoint: EndpointName, policy: AnyPolicy, route: unknown): void {
    const { method, path } = ENDPOINTS[endpoint];
    const bound: Bound = async (ctx) => {
      if (policy.audience !== 'user' && typeof route === 'function') {
        enforce((policy as OpenPolicy).check());
        await (route as OpenHandler)(ctx);
        return;
      }
      if (policy.audience === 'public') {
        const { target, handle } = route as AgentTargetRoute<unknown>;
        const loaded = await target(ctx);
        enforce((policy as RequestPolicy<unknown>).check(loaded));
        await handle(ctx, loaded);
        return;
      }
      if (policy.audience === 'agent') {
        const { target, handle } = route as AgentTargetRoute<unknown>;
        const loaded = await target(ctx);
        enforce((policy as AgentPolicy<unknown>).check(agentTokenOf(ctx), loaded));
        await handle(ctx, loaded);
        return;
      }
      const actor = actorOf(ctx);
      const userPolicy = policy as UserPolicy<unknown>;
      if (typeof route === 'function') {
        enforce(userPolicy.check(actor, undefined));
        await (route as UserHandler)(ctx, actor);
        return;
      }
      const { target, handle } = route as TargetRoute<unknown>;
      const loaded = await target(ctx, actor);
      enforce(userPolicy.check(actor, loaded));
      await handle(ctx, actor, loaded);
    };
    bound[BINDING] = { endpoint, check: policy.name, audience: policy.audience, capability: policy.capability, rule: policy.rule };
    const guard = policy.audience === 'user' ? [this.guards.user] : policy.audience === 'agent' ? [this.guards.agent] : [];
    this.router.register(path, [method], [...guard, bound]);
  }
}

export function actorOf(ctx: RouteContext): Actor {
  const actor = ctx.state.actor;
  if (!actor) throw new DomainError('UNAUTHENTICATED', 'not logged in');
  return actor;
}

function agentTokenOf(ctx: RouteContext): number {
  const tokenId = ctx.state.agentTokenId;
  if (tokenId === undefined) throw new DomainError('UNAUTHENTICATED', 'this call needs an agent token');
  return tokenId;
}

/** Every route of these routers with its binding, by walking what @koa/router actually holds. */
export function listRoutes(routers: Array<Router<AppState>>): RouteInfo[] {
  const routes: RouteInfo[] = [];
  for (const router of routers) {
    for (const layer of router.stack) {
      const binding = layer.stack.map((fn) => (fn as Bound)[BINDING]).find((b) => b !== undefined);
      for (const method of layer.methods) {
        if (method === 'HEAD') continue;
        routes.push({ method, path: String(layer.path), binding });
      }
    }
  }
  return routes.sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method));
}

/** docs/routes.md: every route with its check, the capability it rests on, and who passes. */
export function renderRouteTable(routes: RouteInfo[]): string {
  const rows = routes.map((r) => {
    const b = r.binding;
    const who = b ? (b.audience === 'user' ? b.rule : `${b.audience}: ${b.rule}`) : 'UNBOUND';
    return `| ${r.method} | \`${r.path}\` | ${b?.endpoint ?? '-'} | \`${b?.check ?? 'none'}\` | ${b?.capability ?? '-'} | ${who} |`;
  });
  return [
    '# Routes',
    '',
    'Every route of the master, its endpoint name in the shared client (`packages/shared/src/endpoints.ts`), the one',
    'named check it is bound to (`packages/master/src/authz/`), the capability that check rests on, and who passes',
    'it. Generated from the running router by',
    '`node scripts/route-table.mjs > docs/routes.md`; `test/routes.test.ts` fails when this file and the',
    'router disagree. A refused request is 403 `FORBIDDEN` with the reason in its message.',
    '',
    'WebSocket upgrades (`tasks.shell`, `agent.stream`, WebSockets through the proxy) run through the same chain',
    'as every request (`http/upgrade.ts`), guard and check included. Every request beneath `/proxy/:id/` (any',
    "method and path: the task's service, HTTP and WebSocket) runs the user guard and the check `tasks.open` of",
    '`GET /proxy/:id` in `interactive/service-proxy.ts` before it is passed on.',
    '',
    '| Method | Path | Endpoint | Check | Capability | Who passes |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}
