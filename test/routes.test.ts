import { readFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { API_PREFIX, ENDPOINTS } from '@trainyard/shared';
import { renderRouteTable, type RouteInfo } from '@trainyard/master';
import { api, loginToken } from './helpers/api.js';
import { ROOT } from './helpers/cli.js';
import { createUsers } from './helpers/fixtures.js';
import { startTestMaster, type TestMaster } from './helpers/test-master.js';

let m: TestMaster;
test.before(async () => {
  m = await startTestMaster();
});
test.after.always(() => m?.stop());

test('every route is bound to one named check, and docs/routes.md is the router\'s own table', (t) => {
  const routes = m.master.routes;
  t.true(routes.length > 40, `${routes.length} routes`);
  t.deepEqual(routes.filter((r) => !r.binding).map((r) => `${r.method} ${r.path}`), [], 'routes added without Routes');
  // The shared client's table and the router are the same set: each endpoint served once.
  t.deepEqual(routes.map((r) => r.binding?.endpoint).sort(), Object.keys(ENDPOINTS).sort());
  const documented = readFileSync(path.join(ROOT, 'docs', 'routes.md'), 'utf8');
  t.is(documented, renderRouteTable(routes), 'docs/routes.md is stale: run `node scripts/route-table.mjs > docs/routes.md` after a build');
});

/** A concrete request for a route's path, with every parameter naming someone else's thing. */
function concretePath(route: RouteInfo, things: Record<string, string>): string {
  const concrete = route.path.replace(/:(\w+)/g, (_, name: string) => {
    const root = !route.path.startsWith(API_PREFIX);
    const key = `${route.path.split('/')[root ? 1 : 3]}:${name}`;
    const value = things[key] ?? things[name];
    if (value === undefined) throw new Error(`no value for ${key} in ${route.path}`);
    return encodeURIComponent(value);
  });
  // Routes about "yours, or someone else's with change_config" are walked on someone else's.
  const onOther = ['sessions.list', 'tokens.list', 'tokens.revoke', 'policy.show', 'quotas.usage'].includes(route.binding?.check ?? '');
  if (!route.path.startsWith(API_PREFIX)) return concrete;
  return (onOther ? `${concrete}?user=other` : concrete).slice(API_PREFIX.length);
}

const sendable = (route: RouteInfo) => (['POST', 'PUT', 'PATCH'].includes(route.method) ? { body: {} } : {});

test('walking every route as a user without change_config: 403 with a reason on each admin route, never a 5xx', async (t) => {
  const tokens = await createUsers(m.url, ['plain', 'other']);
  const admin = tokens.admin!;
  // Something real behind every parameter, all of it someone else's.
  await api(m.url, 'POST', '/groups', { token: admin, body: { path: 'research' } });
  await api(m.url, 'POST', '/groups/research/members', { token: admin, body: { username: 'other' } });
  await api(m.url, 'POST', '/roles', { token: admin, body: { name: 'operator', capabilities: ['operate_others'] } });
  await api(m.url, 'POST', '/roles', { token: admin, body: { name: 'scripter', capabilities: ['access_api'] } });
  await api(m.url, 'POST', '/roles/scripter/assignments', { token: admin, body: { user: 'other' } });
  await api(m.url, 'POST', '/tokens', { token: tokens.other, body: { name: 'ci' } });
  const task = await api(m.url, 'POST', '/tasks', { token: tokens.other, body: { kind: 'command', config: { image: 'busybox:latest', entrypoint: 'true' } } });
  const otherSession = (await api(m.url, 'GET', '/sessions', { token: tokens.other })).body.items[0].id;
  const things: Record<string, string> = {
    username: 'other',
    path: 'research',
    'roles:name': 'operator',
    'tokens:name': 'ci',
    'agent-tokens:name': 'local',
    'tasks:id': String(task.body.id),
    'sessions:id': String(otherSession),
    'agents:id': 'some-agent',
    'quotas:name': 'some-quota',
    taskId: String(task.body.id),
    streamId: '0123456789abcdef0123456789abcdef',
    'proxy:id': String(task.body.id),
    // An image operation (no agent here holds images, so none can be started: an id of the right form).
    'images:id': '0123456789abcdef',
    operationId: '0123456789abcdef',
  };

  // Logging out ends the walker's own session: that one goes last.
  const routes = [...m.master.routes].sort((a, b) => Number(a.path.endsWith('/auth/logout')) - Number(b.path.endsWith('/auth/logout')));
  let plain = await loginToken(m.url, 'plain', 'pw');
  for (const route of routes) {
    const where = `${route.method} ${route.path}`;
    const target = concretePath(route, things);
    const anonymous = route.path.startsWith(API_PREFIX)
      ? await api(m.url, route.method, target, sendable(route))
      : { status: (await fetch(`${m.url}${target}`, { method: route.method })).status, body: undefined };
    t.true(anonymous.status < 500, `${where} anonymously: ${anonymous.status}`);
    if (route.binding?.audience !== 'public') t.is(anonymous.status, 401, `${where} needs credentials`);
    if (!route.path.startsWith(API_PREFIX)) continue;

    const result = await api(m.url, route.method, target, { token: plain, ...sendable(route) });
    t.true(result.status < 500, `${where}: ${result.status} ${JSON.stringify(result.body)}`);
    // images.remove is also each loader's own (yard image rm of what they loaded): it first needs an image some
    // agent holds, and its refusal of others is test/images.test.ts's.
    if (route.binding?.capability === 'change_config' && route.binding.endpoint !== 'images.remove') {
      t.is(result.status, 403, `${where} is an admin route: ${JSON.stringify(result.body)}`);
      t.is(result.body.error.code, 'FORBIDDEN');
      t.regex(result.body.error.message, /^plain may not .+: that needs change_config, and plain does not hold it$/, where);
    }
    if (route.binding?.audience === 'agent') t.is(result.status, 401, `${where} takes agent tokens only`);
    if (result.status === 401 && route.binding?.audience === 'user') plain = await loginToken(m.url, 'plain', 'pw');
  }
  // The walk changed nothing that belongs to someone else.
  t.is((await api(m.url, 'GET', `/tasks/${task.body.id}`, { token: admin })).body.state, 'QUEUED');
  t.is((await api(m.url, 'GET', '/groups/research', { token: admin })).body.members.length, 1);
});
