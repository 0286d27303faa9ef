/**
 * Every endpoint of the master, once: its method and path here, its request and response types in
 * `EndpointTypes`. The master binds its routes by these names (so a path cannot drift from what
 * clients call), and `YardClient` (client.ts) takes a name and returns the endpoint's response type.
 * No zod here: only type imports, so that clients that load this start fast.
 */
import type { ApiTokenInfo, AuditEntry, CreatedApiToken, Group, GroupDetail, GroupPoolRequest, GroupUnixRequest, Role, RoleAssignment, RoleDetail, SessionListItem, UserAccess } from './access.js';
import type {
  Agent,
  AgentLogsRequest,
  AgentTokenInfo,
  CreatedAgentToken,
  HeartbeatResponse,
  LeaseRef,
  PollResponse,
  RegisterAgentRequest,
  RegisterAgentResponse,
  StreamFailureRequest,
  ReleaseRequest,
  ReportStateRequest,
  TaskRunSpec,
} from './agents.js';
import { HEALTH_PATH, METRICS_PATH, READY_PATH } from './api.js';
import type { ServiceStatus, ShellQuery } from './interactive.js';
import type { LoginRequest, LoginResponse, MeResponse } from './auth.js';
import type { Capability, TaskState } from './constants.js';
import type { Page } from './pagination.js';
import type { PolicyReload, PolicyView } from './policy.js';
import type { PoolView } from './pools.js';
import type { GuaranteeRequest, GuaranteeStatus, Quota, QuotaAssignment, QuotaRequest, QuotaUsage, QueueView } from './quotas.js';
import type { TaskWhy } from './why.js';
import type { CreateTaskRequest, Task, TaskListQuery, TaskLogPage, TaskPlan, TaskSummary, TaskTimelineEntry } from './tasks.js';
import type { ClusterHistory, ClusterOverview, UsageQuery, UsageReport, UsageSeries, UsageSeriesQuery } from './usage.js';
import type { CreateUserRequest, LinkAgentUserRequest, PatchUserRequest, User } from './users.js';
import type { MasterVersion } from './version.js';
import type { AgentImageList, ImageList, ImageListQuery, ImageLoadStartRequest, ImageOperation, ImagePullRequest, ImageRemoveQuery, ImageReport } from './images.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface EndpointDefinition {
  method: HttpMethod;
  /** Under API_PREFIX, with `:name` parameters; `root` ones (health, readiness) are not under it. */
  path: string;
  root?: boolean;
}

export const ENDPOINTS = {
  health: { method: 'GET', path: HEALTH_PATH, root: true },
  ready: { method: 'GET', path: READY_PATH, root: true },
  /** The master's release and API version; no auth. */
  version: { method: 'GET', path: '/version' },
  /** Prometheus' text format; open on loopback, else to the bearer token of `metrics.token_file`. */
  metrics: { method: 'GET', path: METRICS_PATH, root: true },
  /** This API as an OpenAPI 3.1 document, made from these endpoints, their zod schemas and the router; no auth. */
  openapi: { method: 'GET', path: '/openapi.json' },
  /** The same, as a page people read (HTML, nothing loaded from elsewhere). */
  'openapi.page': { method: 'GET', path: '/api/docs', root: true },

  'auth.login': { method: 'POST', path: '/auth/login' },
  'auth.logout': { method: 'POST', path: '/auth/logout' },
  me: { method: 'GET', path: '/me' },
  'sessions.list': { method: 'GET', path: '/sessions' },
  'sessions.revoke': { method: 'DELETE', path: '/sessions/:id' },

  'users.list': { method: 'GET', path: '/users' },
  'users.create': { method: 'POST', path: '/users' },
  'users.get': { method: 'GET', path: '/users/:username' },
  'users.update': { method: 'PATCH', path: '/users/:username' },
  'users.access': { method: 'GET', path: '/users/:username/access' },
  'users.setPassword': { method: 'POST', path: '/users/:username/password' },
  'users.link': { method: 'PUT', path: '/users/:username/agent-user' },
  'users.unlink': { method: 'DELETE', path: '/users/:username/agent-user' },

  'groups.list': { method: 'GET', path: '/groups' },
  'groups.create': { method: 'POST', path: '/groups' },
  'groups.get': { method: 'GET', path: '/groups/:path' },
  'groups.rename': { method: 'PATCH', path: '/groups/:path' },
  'groups.delete': { method: 'DELETE', path: '/groups/:path' },
  'groups.setUnix': { method: 'PATCH', path: '/groups/:path/unix' },
  'groups.setPool': { method: 'PATCH', path: '/groups/:path/pool' },
  /** A group's weight in hierarchical fair share (issue 26). */
  'groups.setFairShare': { method: 'PATCH', path: '/groups/:path/fair-share' },
  'groups.addMember': { method: 'POST', path: '/groups/:path/members' },
  'groups.removeMember': { method: 'DELETE', path: '/groups/:path/members/:username' },

  'roles.list': { method: 'GET', path: '/roles' },
  'roles.create': { method: 'POST', path: '/roles' },
  'roles.get': { method: 'GET', path: '/roles/:name' },
  'roles.update': { method: 'PATCH', path: '/roles/:name' },
  'roles.delete': { method: 'DELETE', path: '/roles/:name' },
  'roles.assign': { method: 'POST', path: '/roles/:name/assignments' },
  'roles.unassign': { method: 'DELETE', path: '/roles/:name/assignments' },

  'tokens.list': { method: 'GET', path: '/tokens' },
  'tokens.create': { method: 'POST', path: '/tokens' },
  'tokens.revoke': { method: 'DELETE', path: '/tokens/:name' },

  'audit.list': { method: 'GET', path: '/audit' },

  'policy.show': { method: 'GET', path: '/policy' },
  'policy.reload': { method: 'POST', path: '/policy/reload' },

  'quotas.list': { method: 'GET', path: '/quotas' },
  'quotas.create': { method: 'POST', path: '/quotas' },
  'quotas.get': { method: 'GET', path: '/quotas/:name' },
  'quotas.update': { method: 'PATCH', path: '/quotas/:name' },
  'quotas.delete': { method: 'DELETE', path: '/quotas/:name' },
  'quotas.assign': { method: 'POST', path: '/quotas/:name/assignments' },
  'quotas.unassign': { method: 'DELETE', path: '/quotas/:name/assignments' },
  'quotas.usage': { method: 'GET', path: '/quota-usage' },
  queue: { method: 'GET', path: '/queue' },
  // Guarantees, borrowing and reclaim (issue 26): a group's guaranteed share of a pool.
  'guarantees.list': { method: 'GET', path: '/guarantees' },
  'guarantees.set': { method: 'PUT', path: '/guarantees' },
  'guarantees.delete': { method: 'DELETE', path: '/guarantees' },

  'tasks.list': { method: 'GET', path: '/tasks' },
  'tasks.create': { method: 'POST', path: '/tasks' },
  'tasks.plan': { method: 'POST', path: '/tasks/dry-run' },
  'tasks.get': { method: 'GET', path: '/tasks/:id' },
  'tasks.update': { method: 'PATCH', path: '/tasks/:id' },
  'tasks.kill': { method: 'POST', path: '/tasks/:id/kill' },
  'tasks.delete': { method: 'DELETE', path: '/tasks/:id' },
  'tasks.logs': { method: 'GET', path: '/tasks/:id/logs' },
  'tasks.timeline': { method: 'GET', path: '/tasks/:id/timeline' },
  /** Every reason a queued task waits, where it could run, its place in the queue and an estimated start (`yard why`). */
  'tasks.why': { method: 'GET', path: '/tasks/:id/why' },
  'tasks.service': { method: 'GET', path: '/tasks/:id/service' },
  /** A WebSocket (upgrade); a plain GET is refused. */
  'tasks.shell': { method: 'GET', path: '/tasks/:id/shell' },
  /** The proxy's entry (`/proxy/:id` -> `/proxy/:id/`); every `/proxy/:id/...` request runs the same check. */
  'tasks.proxy': { method: 'GET', path: '/proxy/:id', root: true },

  // Usage accounting (the usage ledger) and the cluster overview.
  'usage.report': { method: 'GET', path: '/usage' },
  'usage.series': { method: 'GET', path: '/usage/series' },
  'cluster.overview': { method: 'GET', path: '/cluster' },
  'cluster.history': { method: 'GET', path: '/cluster/history' },
  'pools.list': { method: 'GET', path: '/pools' },

  // Images on the agents (`yard image ...`).
  'images.list': { method: 'GET', path: '/images' },
  'images.pull': { method: 'POST', path: '/images/pull' },
  'images.remove': { method: 'DELETE', path: '/images' },
  /** A load: first the operation (where to, how big), then its tarball as the body of `images.loadData`. */
  'images.loadStart': { method: 'POST', path: '/images/loads' },
  /** The tarball itself, streamed (`application/octet-stream`, gzipped or not); not JSON, so not through `YardClient.call`. */
  'images.loadData': { method: 'PUT', path: '/images/loads/:id/data' },
  'images.operation': { method: 'GET', path: '/images/operations/:id' },

  'agents.list': { method: 'GET', path: '/agents' },
  'agents.update': { method: 'PATCH', path: '/agents/:id' },
  'agentTokens.list': { method: 'GET', path: '/agent-tokens' },
  'agentTokens.create': { method: 'POST', path: '/agent-tokens' },
  'agentTokens.revoke': { method: 'DELETE', path: '/agent-tokens/:name' },

  // What agents call, with their agent token.
  'agent.register': { method: 'POST', path: '/agents/:id/register' },
  'agent.heartbeat': { method: 'POST', path: '/agents/:id/heartbeat' },
  /** The connection the agent dials back for one stream the master asked for (`open` action): an upgrade to `trainyard-tcp` (a port) or a WebSocket (a shell). */
  'agent.stream': { method: 'GET', path: '/agents/:id/streams/:streamId' },
  /** The agent could not connect a stream it was asked for: the master answers the waiting user with why. */
  'agent.streamFailed': { method: 'POST', path: '/agents/:id/streams/:streamId/failure' },
  'agent.poll': { method: 'GET', path: '/agents/:id/work' },
  'agent.ack': { method: 'POST', path: '/agents/:id/tasks/:taskId/ack' },
  'agent.release': { method: 'POST', path: '/agents/:id/tasks/:taskId/release' },
  'agent.state': { method: 'POST', path: '/agents/:id/tasks/:taskId/state' },
  'agent.logs': { method: 'POST', path: '/agents/:id/tasks/:taskId/logs' },
  /** How an image operation the agent was handed goes (a pull's progress, a removal's end). */
  'agent.imageReport': { method: 'POST', path: '/agents/:id/image-operations/:operationId' },
} as const satisfies Record<string, EndpointDefinition>;

export type EndpointName = keyof typeof ENDPOINTS;

type PageQuery = { limit?: number; after?: string };
type AssignmentRequest = { user?: string; group?: string; scope?: string };

/** What each endpoint takes (`query`, `body`) and answers (`response`; `void` for 204). */
export interface EndpointTypes {
  health: { response: { status: 'ok' } };
  /** With `ha`: whether this master leads, and where the leader is (null while none leads). */
  ready: { response: { status: 'ready'; role?: 'leader' | 'standby'; leader?: string | null } };
  version: { response: MasterVersion };
  /** Prometheus' text exposition format (not JSON). */
  metrics: { response: string };
  openapi: { response: Record<string, unknown> };
  /** HTML. */
  'openapi.page': { response: string };

  'auth.login': { body: LoginRequest; response: LoginResponse };
  'auth.logout': { body: { all?: boolean }; response: void };
  me: { response: MeResponse };
  'sessions.list': { query: { user?: string }; response: Page<SessionListItem> };
  'sessions.revoke': { response: void };

  'users.list': { query: PageQuery; response: Page<User> };
  'users.create': { body: CreateUserRequest; response: User };
  'users.get': { response: User };
  'users.update': { body: PatchUserRequest; response: User };
  'users.access': { response: UserAccess };
  'users.setPassword': { body: { password: string }; response: void };
  'users.link': { body: LinkAgentUserRequest; response: User };
  'users.unlink': { response: User };

  'groups.list': { response: Page<Group> };
  'groups.create': { body: { path: string }; response: Group };
  'groups.get': { response: GroupDetail };
  'groups.rename': { body: { path: string }; response: Group };
  'groups.delete': { response: { path: string; deleted: true; members: string[] } };
  'groups.setUnix': { body: GroupUnixRequest; response: GroupDetail };
  'groups.setPool': { body: GroupPoolRequest; response: GroupDetail };
  'groups.setFairShare': { body: { weight: number }; response: GroupDetail };
  'groups.addMember': { body: { username: string }; response: Group };
  'groups.removeMember': { response: Group };

  'roles.list': { response: Page<Role> };
  'roles.create': { body: { name: string; description?: string; capabilities?: Array<Capability | string> }; response: RoleDetail };
  'roles.get': { response: RoleDetail };
  'roles.update': { body: { description?: string; capabilities?: Array<Capability | string> }; response: RoleDetail };
  'roles.delete': { response: { name: string; deleted: true; assignments: RoleAssignment[] } };
  'roles.assign': { body: AssignmentRequest; response: RoleAssignment };
  'roles.unassign': { query: AssignmentRequest; response: RoleAssignment };

  'tokens.list': { query: { user?: string }; response: Page<ApiTokenInfo> };
  'tokens.create': { body: { name: string; expires?: string }; response: CreatedApiToken };
  'tokens.revoke': { query: { user?: string }; response: ApiTokenInfo };

  'audit.list': { query: PageQuery & { user?: string; since?: string }; response: Page<AuditEntry> };

  'policy.show': { query: { user?: string; group?: string }; response: PolicyView };
  'policy.reload': { response: PolicyReload };

  'quotas.list': { response: { items: Quota[] } };
  'quotas.create': { body: QuotaRequest & { name: string }; response: Quota };
  'quotas.get': { response: Quota };
  'quotas.update': { body: Omit<QuotaRequest, 'name'>; response: Quota };
  'quotas.delete': { response: { name: string; deleted: true } };
  'quotas.assign': { body: { user?: string; group?: string }; response: QuotaAssignment };
  'quotas.unassign': { query: { user?: string; group?: string }; response: QuotaAssignment };
  'quotas.usage': { query: { user?: string; group?: string }; response: QuotaUsage };
  queue: { response: QueueView };
  'guarantees.list': { query: { pool?: string; group?: string }; response: { items: GuaranteeStatus[] } };
  'guarantees.set': { body: GuaranteeRequest; response: GuaranteeStatus };
  'guarantees.delete': { query: { group: string; pool: string }; response: { group: string; pool: string; deleted: true } };

  'tasks.list': { query: TaskListQuery; response: Page<TaskSummary> };
  'tasks.create': { body: CreateTaskRequest; response: Task };
  'tasks.plan': { body: CreateTaskRequest; response: TaskPlan };
  /** With `wait` and `seen` (a `taskStatusKey`): held until the task's status differs, it ends, or `wait` seconds pass. */
  'tasks.get': { query: { wait?: number; seen?: string }; response: Task };
  'tasks.update': { body: { name?: string; description?: string }; response: Task };
  'tasks.kill': { response: Task };
  'tasks.delete': { response: { id: number; deleted: true } };
  'tasks.logs': { query: { after?: number; limit?: number; wait?: number; seen?: string; tail?: number; since?: string }; response: TaskLogPage };
  'tasks.timeline': { response: { items: TaskTimelineEntry[] } };
  'tasks.why': { response: TaskWhy };
  'tasks.service': { query: { probe?: boolean }; response: ServiceStatus };
  'tasks.shell': { query: ShellQuery; response: never };
  'tasks.proxy': { response: never };

  'usage.report': { query: Omit<UsageQuery, 'by'> & { by?: string }; response: UsageReport };
  'usage.series': { query: UsageSeriesQuery; response: UsageSeries };
  'cluster.overview': { response: ClusterOverview };
  'cluster.history': { query: { since?: string; until?: string }; response: ClusterHistory };
  'pools.list': { response: { items: PoolView[] } };

  'images.list': { query: ImageListQuery; response: ImageList };
  'images.pull': { body: ImagePullRequest; response: ImageOperation };
  'images.remove': { query: ImageRemoveQuery; response: ImageOperation };
  'images.loadStart': { body: ImageLoadStartRequest; response: ImageOperation };
  'images.loadData': { response: ImageOperation };
  /** With `wait` and `seen` (the operation's `version`): held until it changes, or `wait` seconds pass. */
  'images.operation': { query: { wait?: number; seen?: number }; response: ImageOperation };

  'agents.list': { response: Page<Agent> };
  'agents.update': { body: { enabled: boolean }; response: Agent };
  'agentTokens.list': { response: Page<AgentTokenInfo> };
  'agentTokens.create': { body: { name: string }; response: CreatedAgentToken };
  'agentTokens.revoke': { response: AgentTokenInfo };

  'agent.register': { body: RegisterAgentRequest; response: RegisterAgentResponse };
  'agent.heartbeat': { body: { running: LeaseRef[]; listedAfter?: number; images?: string[] | null; imageDetails?: AgentImageList }; response: HeartbeatResponse };
  'agent.poll': { query: { wait: number }; response: PollResponse };
  'agent.ack': { body: { leaseId: string }; response: TaskRunSpec };
  'agent.release': { body: ReleaseRequest; response: { state: TaskState } };
  'agent.state': { body: ReportStateRequest; response: { state: TaskState } };
  'agent.logs': { body: AgentLogsRequest; response: { received: number } };
  'agent.stream': { response: never };
  'agent.streamFailed': { body: StreamFailureRequest; response: Record<string, never> };
  'agent.imageReport': { body: ImageReport; response: Record<string, never> };
}

/** `/users/:username/access` -> `{username: string | number}`. */
type ParamNames<P extends string> = P extends `${string}:${infer Name}/${infer Rest}`
  ? Name | ParamNames<`/${Rest}`>
  : P extends `${string}:${infer Name}`
    ? Name
    : never;

export type EndpointParams<K extends EndpointName> = { [N in ParamNames<(typeof ENDPOINTS)[K]['path']>]: string | number };
export type EndpointResponse<K extends EndpointName> = EndpointTypes[K]['response'];

/** What a call to endpoint K takes: only the parts it has. */
export type EndpointInput<K extends EndpointName> = ([ParamNames<(typeof ENDPOINTS)[K]['path']>] extends [never]
  ? { params?: undefined }
  : { params: EndpointParams<K> }) &
  (EndpointTypes[K] extends { query: infer Q } ? { query?: Q } : { query?: undefined }) &
  (EndpointTypes[K] extends { body: infer B } ? { body: B } : { body?: undefined });

export interface CallOptions {
  signal?: AbortSignal;
  /**
   * Abort after this long; default: the client's `requestTimeoutMs`, plus the `wait` seconds of a
   * long poll (its own bounded wait).
   */
  timeoutMs?: number;
}

/** A call's arguments: the input may be left out when nothing in it is required. */
export type CallArgs<K extends EndpointName> = {} extends EndpointInput<K>
  ? [input?: EndpointInput<K>, options?: CallOptions]
  : [input: EndpointInput<K>, options?: CallOptions];

/** The concrete path of a call: parameters encoded, query appended. */
export function endpointPath<K extends EndpointName>(name: K, input: { params?: Record<string, string | number>; query?: unknown }): string {
  const definition: EndpointDefinition = ENDPOINTS[name];
  const path = definition.path.replace(/:(\w+)/g, (_, param: string) => {
    const value = input.params?.[param];
    if (value === undefined) throw new Error(`${name}: the path parameter '${param}' is missing`);
    return encodeURIComponent(String(value));
  });
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(typeof input.query === 'object' && input.query !== null ? input.query : {})) {
    if (value !== undefined && value !== null) query.set(key, String(value));
  }
  const search = query.toString();
  return search ? `${path}?${search}` : path;
}
