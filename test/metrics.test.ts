import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import test from 'ava';
import type { Task } from '@trainyard/shared';
import { api, loginToken } from './helpers/api.js';
import { startAgent, tempDir, waitFor } from './helpers/cluster.js';
import { debianTool } from './helpers/debian-tool.js';
import { parsePrometheusText, sampleValue } from './helpers/prometheus-text.js';
import { startTestMaster, type TestMaster } from './helpers/test-master.js';

/** GET /metrics with node:http (fetch will not send another Host). */
const scrape = (url: string, headers: Record<string, string> = {}) =>
  new Promise<{ status: number; type: string | undefined; text: string }>((resolve, reject) => {
    const request = http.get(`${url}/metrics`, { headers }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, type: response.headers['content-type'], text }));
    });
    request.on('error', reject);
  });

const parse = parsePrometheusText;
const value = sampleValue;

/**
 * Prometheus' own reader and linter (`promtool check metrics`): exit 1 is text it cannot parse,
 * exit 3 lint problems, one per line. Undefined when promtool cannot be had (said loudly).
 */
function promtoolCheck(t: { log(...values: unknown[]): void }, text: string): { status: number | null; problems: string[] } | undefined {
  const tool = debianTool('promtool', 'prometheus');
  if ('missing' in tool) {
    console.error(`\n!!! NO PROMTOOL (${tool.missing}): /metrics is checked by the JS parser only, not by Prometheus' own.\n`);
    return undefined;
  }
  const result = spawnSync(tool.path, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  const problems = `${result.stdout}${result.stderr}`.split('\n').filter(Boolean);
  t.log(`promtool check metrics: exit ${result.status}; ${problems.join('; ') || 'no problems'}`);
  return { status: result.status, problems };
}

let m: TestMaster;
let dir: string;
test.before(async () => {
  dir = tempDir('yard-metrics-');
  writeFileSync(path.join(dir, 'metrics.token'), 'a-long-enough-metrics-token-0123456789\n', { mode: 0o600 });
  m = await startTestMaster(
    {
      agents: { token_file: path.join(dir, 'agent.token'), heartbeat_interval: '500ms' },
      metrics: { token_file: path.join(dir, 'metrics.token') },
      security: { login_throttle: { max_failures_per_user: 2 } },
      http: { trust_proxy: 'loopback' },
      policy: { system: { images: { allow: ['.*busybox.*'] } } },
    },
    dir,
  );
});
test.after.always(async () => {
  await m?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test.serial('/metrics is valid Prometheus text, and its counters move when tasks run, logins fail and rules refuse', async (t) => {
  const before = await scrape(m.url);
  t.is(before.status, 200);
  t.regex(before.type ?? '', /^text\/plain; version=0\.0\.4/);
  const start = parse(before.text);
  // The reader is strict: what Prometheus would refuse, it refuses too.
  t.throws(() => parse('x{a="1"} 1\nx{a="2"} one\n'), { message: /bad value one/ });
  t.throws(() => parse('x{a="1} 1\n'), { message: /unterminated|expected/ });
  t.is(value(start, 'trainyard_task_transitions_total', { state: 'COMPLETED', kind: 'command' }), 0);

  // A real agent runs a real task.
  const agent = startAgent({ url: m.url, tokenFile: path.join(dir, 'agent.token') }, { name: 'metrics-agent', executor: 'process' });
  t.teardown(() => agent.kill('SIGKILL'));
  const admin = await loginToken(m.url, 'admin');
  await waitFor('the agent to register', async () => (await api(m.url, 'GET', '/agents', { token: admin })).body.items.length === 1);
  const created = await api<Task>(m.url, 'POST', '/tasks', { token: admin, body: { kind: 'command', config: { image: 'busybox:latest', entrypoint: ['true'] } } });
  t.is(created.status, 201, JSON.stringify(created.body));
  const done = await waitFor(`task ${created.body.id} to end\n${agent.output()}`, async () => {
    const task = (await api<Task>(m.url, 'GET', `/tasks/${created.body.id}`, { token: admin })).body;
    return ['COMPLETED', 'FAILED', 'KILLED', 'LOST'].includes(task.state) ? task : undefined;
  }, 30_000);
  t.is(done.state, 'COMPLETED');

  // Logins: one good (above), two wrong, then throttled.
  await api(m.url, 'POST', '/users', { token: admin, body: { username: 'bob', password: 'right' } });
  for (let i = 0; i < 2; i++) t.is((await api(m.url, 'POST', '/auth/login', { body: { username: 'bob', password: 'wrong' } })).status, 401);
  t.is((await api(m.url, 'POST', '/auth/login', { body: { username: 'bob', password: 'wrong' } })).status, 429);
  // An image the policy does not allow (the admin holds use_any_image: carol asks), and a quota that allows nothing.
  await api(m.url, 'POST', '/users', { token: admin, body: { username: 'carol', password: 'pw' } });
  const carol = await loginToken(m.url, 'carol', 'pw');
  const refused = await api(m.url, 'POST', '/tasks', { token: carol, body: { kind: 'command', config: { image: 'evil:latest', entrypoint: ['true'] } } });
  t.is(refused.body.error?.code, 'POLICY_DENIED', JSON.stringify(refused.body));
  t.is((await api(m.url, 'POST', '/quotas', { token: admin, body: { name: 'none-at-all', maxSubmitted: 0 } })).status, 201);
  t.is((await api(m.url, 'POST', '/quotas/none-at-all/assignments', { token: admin, body: { user: 'carol' } })).status, 201);
  const overQuota = await api(m.url, 'POST', '/tasks', { token: carol, body: { kind: 'command', config: { image: 'busybox:latest', entrypoint: ['true'] } } });
  t.is(overQuota.body.error?.code, 'QUOTA_EXCEEDED', JSON.stringify(overQuota.body));

  const after = await scrape(m.url);
  const lint = promtoolCheck(t, after.text);
  if (lint) {
    t.not(lint.status, 1, 'promtool parses the text');
    // prom-client's own process metrics name three gauges *_total (nodejs_active_handles_total...); ours lint clean.
    t.deepEqual(lint.problems.filter((p) => !p.startsWith('nodejs_')), []);
  }
  const end = parse(after.text);
  for (const state of ['QUEUED', 'ASSIGNED', 'RUNNING', 'COMPLETED']) {
    t.true(value(end, 'trainyard_task_transitions_total', { state, kind: 'command' }) >= 1, `a command entered ${state}`);
  }
  t.is(value(end, 'trainyard_tasks', { state: 'COMPLETED', kind: 'command' }), 1);
  t.is(value(end, 'trainyard_queue_length'), 0);
  t.is(value(end, 'trainyard_task_queue_wait_seconds', { kind: 'command' }), 1, 'one wait observed');
  t.is(value(end, 'trainyard_task_start_seconds', { kind: 'command' }), 1, 'one start observed');
  t.true(value(end, 'trainyard_dispatch_decision_seconds', { outcome: 'assigned' }) >= 1);
  const recent = end.get('trainyard_dispatch_decision_seconds_recent');
  t.is(recent?.type, 'summary');
  t.true((recent?.samples.find((s) => s.name === 'trainyard_dispatch_decision_seconds_recent_count')?.value ?? 0) >= 1, 'the summary counts the decisions too');
  t.true(value(end, 'trainyard_dispatch_decision_seconds_recent', { quantile: '0.99' }) > 0, 'a p99 over the recent decisions');
  t.is(value(end, 'trainyard_agents', { status: 'alive' }), 1);
  t.true(value(end, 'trainyard_agent_cpus', { status: 'alive' }) >= 1);
  t.true(value(end, 'trainyard_agent_memory_bytes', { status: 'alive' }) > 0);
  t.is(value(end, 'trainyard_logins_total', { outcome: 'ok' }), 2);
  t.is(value(end, 'trainyard_logins_total', { outcome: 'failed' }), 2);
  t.is(value(end, 'trainyard_logins_total', { outcome: 'throttled' }), 1);
  t.is(value(end, 'trainyard_admission_refusals_total', { rule: 'images.allow', layer: 'system' }), 1);
  t.is(value(end, 'trainyard_quota_refusals_total', { quota: 'none-at-all', resource: 'submitted' }), 1);
  // Requests by route pattern, never by raw path: the task's id is not a label value.
  t.is(value(end, 'trainyard_http_request_duration_seconds', { method: 'POST', route: '/api/v1/tasks', status: '201' }), 1);
  t.true(value(end, 'trainyard_http_request_duration_seconds', { method: 'GET', route: '/api/v1/tasks/:id', status: '200' }) >= 1);
  const routes = new Set(end.get('trainyard_http_request_duration_seconds')!.samples.map((s) => s.labels.route!));
  t.false([...routes].some((route) => /\/\d+/.test(route)), [...routes].join(', '));
  t.is(value(end, 'trainyard_build_info', { version: JSON.parse(readFileSync(path.join('packages', 'master', 'package.json'), 'utf8')).version }), 1);
  // Node's own (process) metrics come along.
  t.true(end.has('process_cpu_seconds_total'));
});

test.serial('/metrics: open on loopback, else the bearer token of metrics.token_file; refusals in the error shape', async (t) => {
  const token = readFileSync(path.join(dir, 'metrics.token'), 'utf8').trim();
  t.is((await scrape(m.url)).status, 200, 'loopback needs no token');
  t.is((await scrape(m.url, { authorization: `Bearer ${token}` })).status, 200);

  const wrong = await scrape(m.url, { authorization: 'Bearer not-the-token-at-all' });
  t.is(wrong.status, 401);
  t.deepEqual(JSON.parse(wrong.text), { error: { code: 'UNAUTHENTICATED', message: 'not the metrics token (metrics.token_file)' } });
  t.is((await scrape(m.url, { authorization: `Basic ${Buffer.from(`x:${token}`).toString('base64')}` })).status, 401, 'only a bearer token');

  // Through the trusted proxy (loopback), the client is who X-Forwarded-For says: not this machine.
  const remote = await scrape(m.url, { 'x-forwarded-for': '10.1.2.3' });
  t.is(remote.status, 401);
  t.regex(JSON.parse(remote.text).error.message, /bearer token of metrics\.token_file/);
  t.is((await scrape(m.url, { 'x-forwarded-for': '10.1.2.3', authorization: `Bearer ${token}` })).status, 200);
  // A DNS-rebinding page on this machine names its own host: no open door for it.
  t.is((await scrape(m.url, { host: 'evil.example' })).status, 401);
  t.is((await scrape(m.url, { host: 'evil.example', authorization: `Bearer ${token}` })).status, 200, 'Prometheus may scrape by any name with the token');
});

test('/metrics without a token file: loopback only; a proxy nobody declared trusted is not loopback; loopback: false closes it', async (t) => {
  const open = await startTestMaster();
  t.teardown(() => open.stop());
  t.is((await scrape(open.url)).status, 200);
  const proxied = await scrape(open.url, { 'x-forwarded-for': '203.0.113.9' });
  t.is(proxied.status, 403);
  t.is(JSON.parse(proxied.text).error.code, 'FORBIDDEN');
  t.regex(JSON.parse(proxied.text).error.message, /set metrics\.token_file/);
  t.is((await scrape(open.url, { authorization: 'Bearer anything-at-all-here' })).status, 401);

  const closed = await startTestMaster({ metrics: { loopback: false } });
  t.teardown(() => closed.stop());
  const refused = await scrape(closed.url);
  t.is(refused.status, 403);
  t.regex(JSON.parse(refused.text).error.message, /metrics are turned off/);
});

test('a metrics.token_file that is missing is made (0600); one too short stops the start, naming it', async (t) => {
  const where = tempDir('yard-metrics-token-');
  t.teardown(() => rmSync(where, { recursive: true, force: true }));
  const made = await startTestMaster({ metrics: { token_file: path.join(where, 'sub', 'metrics.token') } }, where);
  await made.master.close();
  const file = path.join(where, 'sub', 'metrics.token');
  t.true(readFileSync(file, 'utf8').trim().length >= 32);
  t.is(statSync(file).mode & 0o777, 0o600);
  writeFileSync(path.join(where, 'short.token'), 'abc\n');
  const error = await t.throwsAsync(startTestMaster({ metrics: { token_file: path.join(where, 'short.token') } }, where));
  t.regex(error!.message, /cannot use metrics\.token_file: .*short\.token must hold one token of at least 16 characters/);
});
