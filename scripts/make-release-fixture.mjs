#!/usr/bin/env node
// Makes test/fixtures/release-0.1.0.db: a database file written by release 0.1.0 of the master,
// for the upgrade test (test/upgrade.test.ts) that opens a copy under the current master.
//
// RUN IT AT COMMIT 3160abe (the 0.1.0 release, the commit before the access model), after
// `node scripts/setup.mjs install`:
//
//   git worktree add /tmp/yard-0.1.0 3160abe && cd /tmp/yard-0.1.0 && node scripts/setup.mjs install
//   node /path/to/this/script /path/to/repo/test/fixtures
//
// It drives the release's own master and agent through their HTTP API only (nothing here knows the
// schema): users (admins and not, one deactivated, one linked to an agent user), sessions of both
// kinds, an agent token, and tasks of every kind in several end states, two of them run by a real
// process agent so that they have logs. It then checkpoints the WAL and copies the SQLite file.
// Next to the file it writes release-0.1.0.json: what the test must find, including the plain
// session tokens (test-only secrets of a throwaway database; the file stores only their hashes).
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const outDir = path.resolve(process.argv[2] ?? path.join(root, 'test', 'fixtures'));
const work = mkdtempSync(path.join(os.tmpdir(), 'yard-release-fixture-'));
const log = (message) => console.error(`[fixture] ${message}`);

const port = await new Promise((resolve, reject) => {
  const server = net.createServer();
  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address();
    server.close(() => resolve(port));
  });
  server.on('error', reject);
});
const url = `http://127.0.0.1:${port}`;

// Sessions last ten years so that the committed file's sessions are still live when the test runs.
writeFileSync(
  path.join(work, 'master.yaml'),
  [
    `listen: {host: 127.0.0.1, port: ${port}}`,
    'db: {path: ./trainyard.db}',
    'security: {session_ttl: 3650d}',
    'agents: {token_file: ./agent.token, heartbeat_interval: 500ms}',
    'log: {level: warn}',
    '',
  ].join('\n'),
);

const children = [];
function start(script, args) {
  const child = spawn(process.execPath, [path.join(root, script), ...args], { cwd: work, stdio: ['ignore', 'inherit', 'inherit'] });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  children.push(child);
  return { child, exited, stop: async () => (child.exitCode === null ? (child.kill('SIGTERM'), exited) : undefined) };
}

async function waitFor(what, check, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function api(method, apiPath, { token, body } = {}) {
  const headers = { 'user-agent': 'release-fixture' };
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${url}/api/v1${apiPath}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  const json = text ? JSON.parse(text) : undefined;
  if (!response.ok) throw new Error(`${method} ${apiPath}: HTTP ${response.status} ${text}`);
  return json;
}

const login = async (username, password, kind = 'login') => (await api('POST', '/auth/login', { body: { username, password, kind } })).token;

try {
  const master = start('packages/master/bin/yard-master.js', ['--config', path.join(work, 'master.yaml')]);
  await waitFor(`the master on ${url}`, async () => (await fetch(`${url}/healthz`)).ok);
  log(`master 0.1.0 on ${url}, files in ${work}`);

  const admin = await login('admin', '');
  const people = [
    { username: 'alice', password: 'alice-pw', admin: true },
    { username: 'bob', password: 'bob-pw', admin: false },
    { username: 'carol', password: 'carol-pw', admin: false },
    { username: 'dave', password: 'dave-pw', admin: false },
    { username: 'erin', password: 'erin-pw', admin: true },
  ];
  for (const p of people) await api('POST', '/users', { token: admin, body: p });
  await api('PUT', '/users/dave/agent-user', { token: admin, body: { uid: 1234, user: 'dave', gid: 1234, group: 'dave' } });

  const sessions = [
    { username: 'admin', kind: 'login', token: admin },
    { username: 'alice', kind: 'login', token: await login('alice', 'alice-pw') },
    { username: 'alice', kind: 'temporary', token: await login('alice', 'alice-pw', 'temporary') },
    { username: 'bob', kind: 'login', token: await login('bob', 'bob-pw') },
    { username: 'dave', kind: 'temporary', token: await login('dave', 'dave-pw', 'temporary') },
    { username: 'erin', kind: 'login', token: await login('erin', 'erin-pw') },
    { username: 'yard', kind: 'login', token: await login('yard', '') },
  ];
  const tokenOf = (name) => sessions.find((s) => s.username === name).token;
  const carol = await login('carol', 'carol-pw');

  const task = (token, kind, config) => api('POST', '/tasks', { token, body: { kind, config } });
  const ended = (id) => waitFor(`task ${id} to end`, async () => {
    const t = await api('GET', `/tasks/${id}`, { token: admin });
    return ['COMPLETED', 'FAILED', 'KILLED', 'LOST'].includes(t.state) && t;
  });

  // Two runs on a real process agent: one completes, one fails with an exit code; both have logs.
  const agentToken = await api('POST', '/agent-tokens', { token: admin, body: { name: 'rack-1' } });
  const agent = start('packages/agent/bin/yard-agent.js', [
    '--master', url, '--token-file', path.join(work, 'agent.token'), '--name', 'fixture-agent',
    '--executor', 'process', '--work-dir', path.join(work, 'agent'), '--log-level', 'warn',
  ]);
  const completed = await task(tokenOf('alice'), 'experiment', {
    name: 'mnist', image: 'busybox:latest', entrypoint: 'echo hello from alice; echo second line',
    resources: { slots: 0 }, environment: { EPOCHS: 3 }, description: 'made by release 0.1.0',
  });
  await ended(completed.id);
  const failed = await task(tokenOf('bob'), 'command', { image: 'busybox:latest', entrypoint: ['sh', '-c', 'echo out; echo err >&2; exit 3'] });
  await ended(failed.id);
  // Disabled before it stops: its last long poll may still be open on the master, and a disabled
  // agent is offered nothing, so the tasks below stay where this script puts them.
  await api('PATCH', '/agents/fixture-agent', { token: admin, body: { enabled: false } });
  await agent.stop();

  // The rest stay in the queue, or are killed there.
  const queued = await task(tokenOf('dave'), 'notebook', { name: 'daves-notebook' });
  const board = await task(tokenOf('alice'), 'tensorboard', { experiment_ids: [completed.id] });
  const shell = await task(tokenOf('bob'), 'shell', {});
  await api('POST', `/tasks/${shell.id}/kill`, { token: tokenOf('bob') });
  await api('PATCH', `/tasks/${queued.id}`, { token: tokenOf('dave'), body: { description: 'renamed once' } });
  await task(carol, 'command', { name: 'carols-command', entrypoint: 'true' });
  await api('PATCH', '/users/carol', { token: admin, body: { active: false } });

  const users = (await api('GET', '/users?limit=500', { token: admin })).items;
  const tasks = (await api('GET', '/tasks?all=true&limit=500', { token: admin })).items;
  const details = [];
  for (const summary of tasks) {
    const full = await api('GET', `/tasks/${summary.id}`, { token: admin });
    const logs = await api('GET', `/tasks/${summary.id}/logs?limit=5000`, { token: admin });
    details.push({ ...full, logs: logs.items.map((l) => ({ seq: l.seq, stream: l.stream, line: l.line })) });
  }
  const agentTokens = (await api('GET', '/agent-tokens', { token: admin })).items;
  await master.stop();

  // Everything in the main file: the WAL folded in and removed.
  const dbFile = path.join(work, 'trainyard.db');
  const db = new Database(dbFile);
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.pragma('journal_mode = DELETE');
  db.close();

  mkdirSync(outDir, { recursive: true });
  copyFileSync(dbFile, path.join(outDir, 'release-0.1.0.db'));
  const manifest = {
    release: '0.1.0',
    commit: '3160abe',
    note: 'Made by scripts/make-release-fixture.mjs. Plain tokens and passwords of a throwaway test database.',
    passwords: Object.fromEntries([['admin', ''], ['yard', ''], ...people.map((p) => [p.username, p.password])]),
    users,
    sessions,
    agentTokens: agentTokens.map((t) => ({ ...t, token: t.name === 'rack-1' ? agentToken.token : undefined })),
    localAgentToken: readFileSync(path.join(work, 'agent.token'), 'utf8').trim(),
    tasks: details.sort((a, b) => a.id - b.id),
  };
  writeFileSync(path.join(outDir, 'release-0.1.0.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  log(`wrote ${path.join(outDir, 'release-0.1.0.db')} and release-0.1.0.json: ${users.length} users, ${sessions.length} sessions, ${tasks.length} tasks`);
} finally {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
}
