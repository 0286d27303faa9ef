import test from 'ava';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020, type AnySchema } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { ENDPOINTS } from '@trainyard/shared';
import { api, loginToken } from './helpers/api.js';
import { startTestMaster, type TestMaster } from './helpers/test-master.js';

type Operation = { operationId: string; responses: Record<string, { content?: Record<string, { schema: unknown }> }>; requestBody?: unknown };
type Document = { openapi: string; info: { version: string }; paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, unknown> } };

let m: TestMaster;
let doc: Document;
test.before(async () => {
  m = await startTestMaster();
  const response = await fetch(`${m.url}/api/v1/openapi.json`);
  if (response.status !== 200) throw new Error(`openapi.json: ${response.status}`);
  doc = (await response.json()) as Document;
});
test.after.always(() => m?.stop());

test('/api/v1/openapi.json is a valid OpenAPI 3.1 document, open to anyone', async (t) => {
  t.is(doc.openapi, '3.1.0');
  const validator = new Validator();
  const result = await validator.validate(structuredClone(doc));
  t.is(validator.version, '3.1');
  t.true(result.valid, JSON.stringify(result.errors, null, 1)?.slice(0, 3000));
  t.is(doc.info.version, (await api(m.url, 'GET', '/version')).body.version);
  // The validator does refuse: the same document with a parameter that says nowhere where it goes.
  const broken = structuredClone(doc) as unknown as { paths: Record<string, Record<string, { parameters: Array<Record<string, unknown>> }>> };
  delete broken.paths['/api/v1/tasks/{id}']!.get!.parameters[0]!.in;
  t.false((await new Validator().validate(broken)).valid);
});

test('the document and the router hold the same routes, both ways, each named by its endpoint', (t) => {
  const documented = Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`));
  const served = m.master.routes.map((r) => `${r.method} ${r.path}`);
  t.deepEqual([...documented].sort(), [...served].sort());
  t.is(new Set(documented).size, documented.length);
  const operationIds = Object.values(doc.paths).flatMap((methods) => Object.values(methods).map((op) => op.operationId));
  t.deepEqual([...operationIds].sort(), Object.keys(ENDPOINTS).sort());
  // Every route's binding names the same endpoint as its operation.
  for (const route of m.master.routes) {
    const op = doc.paths[route.path.replace(/:(\w+)/g, '{$1}')]![route.method.toLowerCase()]!;
    t.is(op.operationId, route.binding!.endpoint, `${route.method} ${route.path}`);
  }
});

test("answers match the document's response schemas (version, users, tasks, logs, agents, errors)", async (t) => {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  ajv.addSchema({ $id: 'doc', components: doc.components }, 'doc');
  const check = (method: string, path: string, status: string, body: unknown) => {
    const op = doc.paths[path]![method]!;
    const schema = op.responses[status]?.content?.['application/json']?.schema ?? op.responses.default!.content!['application/json']!.schema;
    const resolved = JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"doc#/components/'));
    const valid = ajv.validate(resolved, body);
    t.true(valid, `${method} ${path} ${status}: ${ajv.errorsText()}\n${JSON.stringify(body).slice(0, 500)}`);
  };
  const admin = await loginToken(m.url, 'admin');
  check('get', '/api/v1/version', '200', (await api(m.url, 'GET', '/version')).body);
  check('get', '/api/v1/users', '200', (await api(m.url, 'GET', '/users', { token: admin })).body);
  const created = await api(m.url, 'POST', '/tasks', { token: admin, body: { kind: 'command', config: { image: 'busybox:latest', entrypoint: ['true'] } } });
  check('post', '/api/v1/tasks', '201', created.body);
  check('get', '/api/v1/tasks', '200', (await api(m.url, 'GET', '/tasks', { token: admin })).body);
  check('get', '/api/v1/tasks/{id}', '200', (await api(m.url, 'GET', `/tasks/${created.body.id}`, { token: admin })).body);
  check('post', '/api/v1/tasks/{id}/kill', '200', (await api(m.url, 'POST', `/tasks/${created.body.id}/kill`, { token: admin })).body);
  check('get', '/api/v1/tasks/{id}/logs', '200', (await api(m.url, 'GET', `/tasks/${created.body.id}/logs`, { token: admin })).body);
  check('get', '/api/v1/agents', '200', (await api(m.url, 'GET', '/agents', { token: admin })).body);
  const refused = await api(m.url, 'GET', '/tasks/999999', { token: admin });
  t.is(refused.status, 404);
  check('get', '/api/v1/tasks/{id}', 'default', refused.body);
  // The documented request schema refuses what the route refuses.
  const body = (doc.paths['/api/v1/tasks']!.post!.requestBody as { content: { 'application/json': { schema: AnySchema } } }).content['application/json'].schema;
  t.false(ajv.validate(body, { kind: 'command', config: {}, extra: 1 }));
  t.is((await api(m.url, 'POST', '/tasks', { token: admin, body: { kind: 'command', config: {}, extra: 1 } })).status, 400);
});

test('/api/docs renders every operation as a page that loads nothing from elsewhere', async (t) => {
  const response = await fetch(`${m.url}/api/docs`);
  t.is(response.status, 200);
  t.regex(response.headers.get('content-type') ?? '', /^text\/html/);
  t.regex(response.headers.get('content-security-policy') ?? '', /default-src 'none'/);
  const html = await response.text();
  for (const name of Object.keys(ENDPOINTS)) t.true(html.includes(`id="${name}"`), name);
  t.false(/<script|<link|<img|<iframe|(src|href)="(https?:)?\/\//i.test(html), 'nothing external, no script');
  t.true(html.includes('href="/api/v1/openapi.json"'));
});
