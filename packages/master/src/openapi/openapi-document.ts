import { z } from 'zod';
import { errorBodySchema } from '@trainyard/shared/response-schemas';
import type { RouteInfo } from '../authz/routes.js';
import { MASTER_VERSION } from '../http/master-version.js';
import { ENDPOINT_SCHEMAS, type EndpointSchemas } from './endpoint-schemas.js';

type JsonSchema = Record<string, unknown>;

/**
 * JSON Schema (2020-12, OpenAPI 3.1's dialect) of what a request may carry: the schema's input
 * side, so defaults and coercions show as what a client sends. Refinements and transforms have no
 * JSON Schema; the master's answer names what they refuse.
 */
const jsonSchema = (schema: z.ZodType, io: 'input' | 'output'): JsonSchema => {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema;
  return rest;
};

const SECURITY: Record<string, Array<Record<string, string[]>>> = {
  // Either a bearer token (a login session `yard_...` or a personal API token `yard_pat_...`) or the web UI's cookie.
  user: [{ bearer: [] }, { session: [] }],
  agent: [{ agentToken: [] }],
  public: [],
};

/**
 * The OpenAPI 3.1 document of this master: one operation per route the router holds, named by
 * its endpoint (`operationId`), with its check and who passes it (the route table's), the
 * parameters, query and body its handler validates (ENDPOINT_SCHEMAS, zod made JSON Schema), and
 * its answer where shared has a schema for it. Made from the running router, so it lists exactly
 * what is served.
 */
export function openApiDocument(routes: RouteInfo[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const binding = route.binding;
    if (!binding) continue;
    const name = binding.endpoint;
    const schemas: EndpointSchemas = ENDPOINT_SCHEMAS[name];
    const path = route.path.replace(/:(\w+)/g, '{$1}');
    const who = binding.capability ? `${binding.rule} (capability \`${binding.capability}\`)` : binding.rule;
    paths[path] ??= {};
    paths[path][route.method.toLowerCase()] = {
      operationId: name,
      summary: `${name}`,
      description: `Authorization: check \`${binding.check}\`, passed by ${who}. A refusal is 403 \`FORBIDDEN\` with the reason.`,
      tags: [name.split('.')[0]],
      security: name === 'metrics' ? [{}, { metricsToken: [] }] : SECURITY[binding.audience],
      parameters: [...pathParameters(route.path, schemas.params), ...queryParameters(schemas.query)],
      ...(schemas.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(schemas.body, 'input') } } } } : {}),
      responses: responses(schemas, binding.audience),
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Trainyard master API',
      version: MASTER_VERSION.version,
      description:
        `The API of the Trainyard master (release ${MASTER_VERSION.version}, API ${MASTER_VERSION.apiVersion}). JSON in and out; ` +
        'errors are `{"error": {"code", "message", "details"?}}` with a fitting status. Lists page by keyset: `?limit=&after=<cursor>`, ' +
        'answering `{items, next}`. Generated from the shared endpoint table, its zod schemas and the running router.',
    },
    servers: [{ url: '/' }],
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'A login session (`yard user login`, `POST /api/v1/auth/login`) or a personal API token (`yard token create`).' },
        session: { type: 'apiKey', in: 'cookie', name: 'yard_session', description: "The web UI's session cookie (changes must come from the master's own pages)." },
        agentToken: { type: 'http', scheme: 'bearer', description: 'An agent token (`yard agent token create`), for the agents\' own calls.' },
        metricsToken: { type: 'http', scheme: 'bearer', description: 'The token of `metrics.token_file`; not needed from loopback.' },
      },
      schemas: { Error: jsonSchema(errorBodySchema, 'output') },
    },
  };
}

function pathParameters(path: string, params: z.ZodType | undefined): JsonSchema[] {
  const properties = (params ? jsonSchema(params, 'input').properties : undefined) as Record<string, JsonSchema> | undefined;
  return [...path.matchAll(/:(\w+)/g)].map(([, name]) => ({ name, in: 'path', required: true, schema: properties?.[name!] ?? { type: 'string' } }));
}

function queryParameters(query: z.ZodType | undefined): JsonSchema[] {
  if (!query) return [];
  const schema = jsonSchema(query, 'input');
  const required = new Set((schema.required as string[] | undefined) ?? []);
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  return Object.entries(properties).map(([name, property]) => ({
    name,
    in: 'query',
    required: required.has(name),
    schema: property,
    ...(typeof property.description === 'string' ? { description: property.description } : {}),
  }));
}

function responses(schemas: EndpointSchemas, audience: string): Record<string, unknown> {
  const status = String(schemas.status ?? 200);
  const error = { description: 'refused: the error body', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
  const success =
    schemas.status === 204
      ? { description: 'done; no body' }
      : schemas.status === 101
        ? { description: 'Switching Protocols: a WebSocket (or the agent tunnel); a plain GET is refused' }
        : schemas.status === 307
          ? { description: "a redirect to the task's service" }
          : {
              description: schemas.response ? 'the answer' : 'the answer (untyped here: its TypeScript type is EndpointTypes in packages/shared/src/endpoints.ts)',
              content: {
                [schemas.contentType ?? 'application/json']: { schema: schemas.response ? jsonSchema(schemas.response, 'output') : schemas.contentType?.startsWith('text/') ? { type: 'string' } : { type: 'object' } },
              },
            };
  return {
    [status]: success,
    ...(audience === 'public' ? {} : { '401': { ...error, description: 'not authenticated' }, '403': { ...error, description: 'not allowed: the reason names the rule' } }),
    default: error,
  };
}
