import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import test from 'ava';
import { stringify } from 'yaml';
import { createArgon2Hasher, type PasswordHasher } from '@trainyard/master';
import { api } from './helpers/api.js';
import { ROOT, runProcess, Terminal } from './helpers/cli.js';
import { freePort, spawnMaster, tempDir } from './helpers/cluster.js';
import { breakStore } from './helpers/store.js';
import { startTestMaster } from './helpers/test-master.js';

/** The real argon2 hasher, counting how many passwords it was asked to check. */
function countingHasher(): PasswordHasher & { checks: number } {
  const real = createArgon2Hasher();
  const hasher = {
    checks: 0,
    hash: real.hash,
    verify: (hash: string, password: string) => (hasher.checks++, real.verify(hash, password)),
    burn: (password: string) => (hasher.checks++, real.burn(password)),
  };
  return hasher;
}

test('20 parallel wrong logins for one user: only max_failures_per_user passwords are checked, the rest get 429', async (t) => {
  const hasher = countingHasher();
  const m = await startTestMaster({ security: { login_throttle: { max_failures_per_user: 5 } } }, undefined, { hasher });
  t.teardown(() => m.stop());
  const answers = await Promise.all(
    Array.from({ length: 20 }, () => api(m.url, 'POST', '/auth/login', { body: { username: 'admin', password: 'guess' } })),
  );
  t.is(hasher.checks, 5, 'passwords checked');
  t.is(answers.filter((a) => a.status === 401).length, 5);
  const throttled = answers.filter((a) => a.status === 429);
  t.is(throttled.length, 15);
  t.true(throttled.every((a) => a.body.error.code === 'TOO_MANY_REQUESTS' && Number(a.headers.get('retry-after')) > 0));

  // A right password still waits out the window, and is not checked either.
  t.is((await api(m.url, 'POST', '/auth/login', { body: { username: 'admin', password: '' } })).status, 429);
  t.is(hasher.checks, 5);
  // Successful logins give their attempt back: another user logs in as often as they like.
  for (let i = 0; i < 8; i++) t.is((await api(m.url, 'POST', '/auth/login', { body: { username: 'yard', password: '' } })).status, 200);
});

test('/readyz answers 503 NOT_READY when the database cannot be used, while /healthz still answers', async (t) => {
  const m = await startTestMaster();
  t.teardown(() => m.stop());
  t.is((await fetch(`${m.url}/readyz`)).status, 200);
  const repair = await breakStore(m);
  t.teardown(repair);
  const ready = await fetch(`${m.url}/readyz`);
  t.is(ready.status, 503);
  const body = (await ready.json()) as { error: { code: string; message: string } };
  t.is(body.error.code, 'NOT_READY');
  t.regex(body.error.message, /database/);
  t.is((await fetch(`${m.url}/healthz`)).status, 200);
});

test('`yard user logout` with the master down says the session stays valid there, and fails', async (t) => {
  const dir = tempDir('yard-logout-');
  const port = await freePort();
  let m = await startTestMaster({ listen: { port } }, dir);
  t.teardown(() => m.stop());
  const term = new Terminal(m.url);
  t.is((await term.run(['user', 'login', 'admin', '--password-stdin'], { input: '\n' })).code, 0);
  const token = Object.values(JSON.parse(readFileSync(term.tokenFile, 'utf8')) as Record<string, string>)[0]!;
  await m.stop();

  const logout = await term.run(['user', 'logout']);
  t.is(logout.code, 1);
  t.regex(logout.stderr, /^Error: logged out here only: the master at http:\/\/127\.0\.0\.1:\d+ could not be told \(ECONNREFUSED\), so admin's session stays valid on the master until it expires$/m);
  t.notRegex(logout.stdout, /Logged out/);
  t.false(readFileSync(term.tokenFile, 'utf8').includes(token), 'the token is forgotten here');

  m = await startTestMaster({ listen: { port } }, dir);
  t.is((await api(m.url, 'GET', '/me', { token })).status, 200, 'and, as it said, still valid on the master');
  const json = await term.run(['user', 'logout', '--json']);
  t.is(json.code, 0, 'nothing left to end: nobody was logged in');
});

test('`npm start` on a busy port refuses with a message and a non-zero exit, and joins no other cluster', async (t) => {
  const dir = tempDir('yard-busy-');
  const tokenFile = path.join(dir, 'agent.token');
  const other = await startTestMaster({ agents: { token_file: tokenFile } }, dir);
  t.teardown(() => other.stop());
  const config = path.join(dir, 'second.yaml');
  writeFileSync(config, stringify({ listen: { port: Number(new URL(other.url).port) }, db: { path: './second.db' }, agents: { token_file: tokenFile } }));

  const start = await runProcess(process.execPath, [path.join(ROOT, 'scripts', 'start-cluster.mjs')], {
    env: { YARD_CONFIG: config, YARD_EXECUTOR: 'process' },
    timeoutMs: 30_000,
  });
  t.not(start.code, 0);
  t.regex(start.stderr, /127\.0\.0\.1:\d+ is already in use \(another Trainyard cluster, or another program\)/);
  t.deepEqual(await other.master.services.agents.list(), [], 'no agent joined the cluster already there');
});

test("`npm start` refuses too when the port of tasks' services is taken, naming listen.services_port", async (t) => {
  const dir = tempDir('yard-busy-services-');
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.teardown(() => taken.close());
  const servicesPort = (taken.address() as net.AddressInfo).port;
  const config = path.join(dir, 'master.yaml');
  // listen.port + 1 is the default; here the taken port is named, which a fixed port cannot guarantee to be free.
  writeFileSync(config, stringify({ listen: { port: await freePort(), services_port: servicesPort }, db: { path: './trainyard.db' }, agents: { token_file: './agent.token' } }));
  const start = await runProcess(process.execPath, [path.join(ROOT, 'scripts', 'start-cluster.mjs')], {
    env: { YARD_CONFIG: config, YARD_EXECUTOR: 'process' },
    timeoutMs: 30_000,
  });
  t.not(start.code, 0);
  t.regex(start.stderr, new RegExp(`127\\.0\\.0\\.1:${servicesPort}, the port of tasks' services \\(listen\\.services_port; listen\\.port \\+ 1 unless set\\), is already in use`));
  t.false(existsSync(path.join(dir, 'trainyard.db')), 'no master started');
});

test('the master logs JSON lines when its output is not a terminal, and human-readable lines with log.format: pretty', async (t) => {
  for (const format of ['auto', 'pretty'] as const) {
    const dir = tempDir('yard-log-');
    const master = await spawnMaster(dir, await freePort(), { log: { level: 'info', format } });
    await fetch(`${master.url}/api/v1/me`);
    await master.kill();
    const first = master.output().split('\n').find((line) => line.includes('master listening'));
    t.truthy(first, master.output());
    if (format === 'auto') {
      t.like(JSON.parse(first!), { msg: 'master listening', level: 30 });
    } else {
      t.regex(first!, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: master listening/);
      t.throws(() => JSON.parse(first!));
    }
  }
});
