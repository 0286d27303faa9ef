import { z } from 'zod';
import {
  ackSchema,
  agentIdSchema,
  agentLogsSchema,
  agentTaskParamsSchema,
  agentTokenNameSchema,
  assignmentSchema,
  auditQuerySchema,
  clusterHistoryQuerySchema,
  createAgentTokenSchema,
  createGroupSchema,
  createRoleSchema,
  createTaskSchema,
  createTokenSchema,
  createUserSchema,
  groupFairShareSchema,
  groupPathParamSchema,
  groupPoolSchema,
  groupUnixSchema,
  heartbeatSchema,
  imageListQuerySchema,
  imageLoadStartSchema,
  imagePullSchema,
  imageRemoveQuerySchema,
  imageReportSchema,
  linkAgentUserSchema,
  logoutSchema,
  logQuerySchema,
  loginSchema,
  memberParamsSchema,
  memberSchema,
  pageQuerySchema,
  patchAgentSchema,
  patchRoleSchema,
  patchTaskSchema,
  patchUserSchema,
  policyShowQuerySchema,
  pollQuerySchema,
  registerAgentSchema,
  releaseSchema,
  renameGroupSchema,
  reportStateSchema,
  roleNameParamSchema,
  sessionIdParamSchema,
  setPasswordSchema,
  streamFailureSchema,
  taskGetQuerySchema,
  taskIdParamSchema,
  taskListQuerySchema,
  tokenNameParamSchema,
  userQuerySchema,
  usageQuerySchema,
  usageSeriesQuerySchema,
  usernameParamSchema,
  type EndpointName,
  type EndpointTypes,
} from '@trainyard/shared';
import {
  agentPageSchema,
  agentSchema,
  masterVersionSchema,
  taskLogPageSchema,
  taskSchema,
  taskSummaryPageSchema,
  userPageSchema,
  userSchema,
} from '@trainyard/shared/response-schemas';
import { agentParams } from '../agents/agent-api-routes.js';
import { operationParams, reportParams, TARBALL_TYPES, watchQuery } from '../images/image-routes.js';
import { shellQuery, streamParams } from '../interactive/interactive-routes.js';
import {
  createQuotaSchema,
  guaranteeKeySchema,
  guaranteeListQuerySchema,
  quotaNameParamSchema,
  quotaPrincipalSchema,
  quotaUsageQuerySchema,
  setGuaranteeSchema,
  updateQuotaSchema,
} from '../quotas/quota-schema.js';

/**
 * What each endpoint's route validates (path parameters, query, body: the very schemas its handler
 * passes to `validate`) and, where shared has one, the zod schema of its answer. The OpenAPI
 * document is generated from this table, ENDPOINTS and the router; the compiler checks that every
 * endpoint is here and that what the shared client sends (EndpointTypes) is what the body schema
 * accepts, and test/openapi.test.ts that the document and the router have the same routes.
 */
export interface EndpointSchemas {
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
  /** The answer's schema; absent: an untyped JSON object (its TypeScript type is in EndpointTypes). */
  response?: z.ZodType;
  /** The success status when it is not 200 (201 for creations, 204 for answers without a body). */
  status?: 201 | 202 | 204 | 101 | 307;
  /** A non-JSON answer. */
  contentType?: string;
  /** A body that is not JSON but a stream of bytes, as one of these media types (a `docker save` tarball). */
  upload?: readonly string[];
}

const ok = z.object({ status: z.literal('ok') });
// With several masters (`ha`): whether this one leads, and the leader's URL (null while none leads).
const ready = z.object({ status: z.literal('ready'), role: z.enum(['leader', 'standby']).optional(), leader: z.string().nullable().optional() });
const probeQuery = z.strictObject({ probe: z.enum(['true', 'false']).optional() });
const agentIdParams = z.strictObject({ id: agentIdSchema });
const agentTokenParams = z.strictObject({ name: agentTokenNameSchema });

export const ENDPOINT_SCHEMAS = {
  health: { response: ok },
  ready: { response: ready },
  version: { response: masterVersionSchema },
  metrics: { contentType: 'text/plain; version=0.0.4' },
  openapi: { contentType: 'application/json' },
  'openapi.page': { contentType: 'text/html' },

  'auth.login': { body: loginSchema },
  'auth.logout': { body: logoutSchema, status: 204 },
  me: {},
  'sessions.list': { query: userQuerySchema },
  'sessions.revoke': { params: sessionIdParamSchema, status: 204 },

  'users.list': { query: pageQuerySchema, response: userPageSchema },
  'users.create': { body: createUserSchema, response: userSchema, status: 201 },
  'users.get': { params: usernameParamSchema, response: userSchema },
  'users.update': { params: usernameParamSchema, body: patchUserSchema, response: userSchema },
  'users.access': { params: usernameParamSchema },
  'users.setPassword': { params: usernameParamSchema, body: setPasswordSchema, status: 204 },
  'users.link': { params: usernameParamSchema, body: linkAgentUserSchema, response: userSchema },
  'users.unlink': { params: usernameParamSchema, response: userSchema },

  'groups.list': {},
  'groups.create': { body: createGroupSchema, status: 201 },
  'groups.get': { params: groupPathParamSchema },
  'groups.rename': { params: groupPathParamSchema, body: renameGroupSchema },
  'groups.delete': { params: groupPathParamSchema },
  'groups.setUnix': { params: groupPathParamSchema, body: groupUnixSchema },
  'groups.setPool': { params: groupPathParamSchema, body: groupPoolSchema },
  'groups.setFairShare': { params: groupPathParamSchema, body: groupFairShareSchema },
  'groups.addMember': { params: groupPathParamSchema, body: memberSchema },
  'groups.removeMember': { params: memberParamsSchema },

  'roles.list': {},
  'roles.create': { body: createRoleSchema, status: 201 },
  'roles.get': { params: roleNameParamSchema },
  'roles.update': { params: roleNameParamSchema, body: patchRoleSchema },
  'roles.delete': { params: roleNameParamSchema },
  'roles.assign': { params: roleNameParamSchema, body: assignmentSchema, status: 201 },
  'roles.unassign': { params: roleNameParamSchema, query: assignmentSchema },

  'tokens.list': { query: userQuerySchema },
  'tokens.create': { body: createTokenSchema, status: 201 },
  'tokens.revoke': { params: tokenNameParamSchema, query: userQuerySchema },

  'audit.list': { query: auditQuerySchema },

  'policy.show': { query: policyShowQuerySchema },
  'policy.reload': {},

  'quotas.list': {},
  'quotas.create': { body: createQuotaSchema, status: 201 },
  'quotas.get': { params: quotaNameParamSchema },
  'quotas.update': { params: quotaNameParamSchema, body: updateQuotaSchema },
  'quotas.delete': { params: quotaNameParamSchema },
  'quotas.assign': { params: quotaNameParamSchema, body: quotaPrincipalSchema, status: 201 },
  'quotas.unassign': { params: quotaNameParamSchema, query: quotaPrincipalSchema },
  'quotas.usage': { query: quotaUsageQuerySchema },
  'guarantees.list': { query: guaranteeListQuerySchema },
  'guarantees.set': { body: setGuaranteeSchema },
  'guarantees.delete': { query: guaranteeKeySchema },
  queue: {},

  'tasks.list': { query: taskListQuerySchema, response: taskSummaryPageSchema },
  'tasks.create': { body: createTaskSchema, response: taskSchema, status: 201 },
  'tasks.plan': { body: createTaskSchema },
  'tasks.get': { params: taskIdParamSchema, query: taskGetQuerySchema, response: taskSchema },
  'tasks.update': { params: taskIdParamSchema, body: patchTaskSchema, response: taskSchema },
  'tasks.kill': { params: taskIdParamSchema, response: taskSchema },
  'tasks.delete': { params: taskIdParamSchema },
  'tasks.logs': { params: taskIdParamSchema, query: logQuerySchema, response: taskLogPageSchema },
  'tasks.timeline': { params: taskIdParamSchema },
  'tasks.why': { params: taskIdParamSchema },
  'tasks.service': { params: taskIdParamSchema, query: probeQuery },
  'tasks.shell': { params: taskIdParamSchema, query: shellQuery, status: 101 },
  'tasks.proxy': { params: taskIdParamSchema, status: 307 },

  'usage.report': { query: usageQuerySchema },
  'usage.series': { query: usageSeriesQuerySchema },
  'cluster.overview': {},
  'cluster.history': { query: clusterHistoryQuerySchema },
  'pools.list': {},

  'agents.list': { response: agentPageSchema },
  'agents.update': { params: agentIdParams, body: patchAgentSchema, response: agentSchema },
  'images.list': { query: imageListQuerySchema },
  'images.pull': { body: imagePullSchema, status: 202 },
  'images.remove': { query: imageRemoveQuerySchema, status: 202 },
  'images.loadStart': { body: imageLoadStartSchema, status: 201 },
  'images.loadData': { params: operationParams, upload: TARBALL_TYPES },
  'images.operation': { params: operationParams, query: watchQuery },

  'agentTokens.list': {},
  'agentTokens.create': { body: createAgentTokenSchema, status: 201 },
  'agentTokens.revoke': { params: agentTokenParams },

  'agent.register': { params: agentParams, body: registerAgentSchema },
  'agent.heartbeat': { params: agentParams, body: heartbeatSchema },
  'agent.stream': { params: streamParams, status: 101 },
  'agent.streamFailed': { params: streamParams, body: streamFailureSchema },
  'agent.poll': { params: agentParams, query: pollQuerySchema },
  'agent.ack': { params: agentTaskParamsSchema, body: ackSchema },
  'agent.release': { params: agentTaskParamsSchema, body: releaseSchema },
  'agent.state': { params: agentTaskParamsSchema, body: reportStateSchema },
  'agent.logs': { params: agentTaskParamsSchema, body: agentLogsSchema },
  'agent.imageReport': { params: reportParams, body: imageReportSchema },
} as const satisfies Record<EndpointName, EndpointSchemas>;

// What the shared client sends as a body must be what the route's schema accepts, field for field
// (the schema may default what the client always sends): the build fails, naming the endpoint,
// when its body type and its schema part ways.
type BodyFits<K extends EndpointName> = EndpointTypes[K] extends { body: infer B }
  ? (typeof ENDPOINT_SCHEMAS)[K] extends { body: infer S extends z.ZodType }
    ? [B] extends [z.input<S>]
      ? [keyof B] extends [keyof z.input<S>]
        ? [keyof z.input<S>] extends [keyof B]
          ? true
          : K
        : K
      : K
    : K
  : true;
type Misfits = { [K in EndpointName]: BodyFits<K> }[EndpointName];
export const bodiesFit: [Exclude<Misfits, true>] extends [never] ? true : Exclude<Misfits, true> = true;
