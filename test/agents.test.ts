import { chownSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import test from 'ava';
import type { Agent, Page, Task, TaskLogPage } from '@trainyard/shared';
import { api, loginToken } from './helpers/api.js';
import { ROOT, Terminal } from './helpers/cli.js';
import { freePort, spawnMaster, startAgent, tempDir, waitFor, type MasterProcess } from './helpers/cluster.js';

const IMAGE = process.env.YARD_TEST_IMAGE;
const executors: Array<'process' | 'docker'> = ['process'];
if (IMAGE) {
  executors.push('docker');
} else {
  console.error(
    '\n!!! NO CONTAINER ENGINE: the Docker executor tests are NOT running. ' +
      '`npm test` starts one where it can (scripts/container-engine.sh); set YARD_TEST_IMAGE to run them by hand.\n',
  );
}
const image = IMAGE ?? 'busybox:latest';

async function cluster(
  t: { teardown(fn: () => Promise<void> | void): void },
  config: Record<string, unknown> | ((dir: string) => Record<string, unknown>) = {},
) {
  const dir = tempDir();
  const port = await freePort();
  const master = await spawnMaster(dir, port, typeof config === 'function' ? config(dir) : config);
  t.teardown(async () => {
    await master.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, port, master };
}

async function createUser(url: string, admin: string, name: string) {
  await api(url, 'POST', '/users', { token: admin, body: { username: name, password: 'pw' } });
  return loginToken(url, name, 'pw');
}

async function runTask(url: string, token: string, kind: string, config: Record<string, unknown>): Promise<Task> {
  const created = await api<Task>(url, 'POST', '/tasks', { token, body: { kind, config: { image, ...config } } });
  if (created.status !== 201) throw new Error(JSON.stringify(created.body));
  return created.body;
}

const getTask = async (url: string, token: string, id: number) => (await api<Task>(url, 'GET', `/tasks/${id}`, { token })).body;
const allLogs = async (url: string, token: string, id: number) =>
  (await api<TaskLogPage>(url, 'GET', `/tasks/${id}/logs?limit=5000`, { token })).body.items.map((l) => l.line);
const ended = (url: string, token: string, id: number, timeoutMs = 30_000) =>
  waitFor(`task ${id} to end`, async () => {
    const task = await getTask(url, token, id);
    return ['COMPLETED', 'FAILED', 'KILLED', 'LOST'].includes(task.state) ? task : undefined;
  }, timeoutMs);

/** The containers of a task of this file's agent (task ids repeat across the masters of parallel test runs). */
function containersOf(taskId: number, agent: string): string[] {
  const filters = ['--filter', `label=trainyard.task=${taskId}`, '--filter', `label=trainyard.agent=${agent}`];
  const out = execFileSync('docker', ['ps', '-a', ...filters, '--format', '{{.ID}}'], { encoding: 'utf8' });
  return out.split('\n').filter(Boolean);
}

/** The agent reports a run's outcome before it removes the container: the removal follows shortly. */
const containersRemoved = (taskId: number, agent: string) =>
  waitFor(`the containers of task ${taskId} to be removed`, () => containersOf(taskId, agent).length === 0, 15_000).then(() => containersOf(taskId, agent));

for (const executor of executors) {
  test.serial(`${executor}: tasks run as the linked uid:gid with a name, files in bind mounts belong to it; default_task for the unlinked`, async (t) => {
    // The policy lets tasks mount the test's shared directory, and nothing else.
    const allowShared = (dir: string) => ({ policy: { system: { mounts: { available: [{ host_path: path.join(dir, 'shared-data') }] } } } });
    const { dir, port, master } = await cluster(t, allowShared);
    const admin = await loginToken(master.url, 'admin');
    const aliceToken = await createUser(master.url, admin, 'alice');
    const bobToken = await createUser(master.url, admin, 'bob');
    await api(master.url, 'PUT', '/users/alice/agent-user', { token: admin, body: { uid: 1234, user: 'alice', gid: 1234, group: 'alice' } });
    const agent = startAgent(master, { name: `${executor}-1`, executor });
    t.teardown(() => agent.kill('SIGKILL'));

    const hostDir = path.join(dir, 'shared-data');
    mkdirSync(hostDir);
    chownSync(hostDir, 1234, 1234);
    const config = path.join(dir, 'mounts.yaml');
    // /srv: a place that exists on the machine too (the process executor never creates one).
    writeFileSync(config, `image: ${image}\nbind_mounts:\n  - {host_path: ${hostDir}, container_path: /srv}\n`);

    const alice = new Terminal(master.url);
    t.is((await alice.run(['user', 'login', 'alice', '--password-stdin'], { input: 'pw\n' })).code, 0);
    const run = await alice.run(['command', 'run', '-c', config, '-f', '--', 'sh', '-c', 'id -u; id -g; whoami; touch /srv/out']);
    t.is(run.code, 0, `${run.stdout}\n${run.stderr}\n${agent.output()}`);
    const lines = run.stdout.split('\n').filter((l) => !l.startsWith('[trainyard]') && !l.startsWith('Created'));
    t.deepEqual(lines.filter(Boolean), ['1234', '1234', 'alice']);
    const stat = statSync(path.join(hostDir, 'out'));
    t.is(stat.uid, 1234);
    t.is(stat.gid, 1234);

    const bobTask = await runTask(master.url, bobToken!, 'command', { entrypoint: ['sh', '-c', 'id -u; id -g; whoami'] });
    const bobDone = await ended(master.url, bobToken!, bobTask.id);
    t.is(bobDone.state, 'COMPLETED', agent.output());
    t.deepEqual((await allLogs(master.url, bobToken!, bobTask.id)).filter((l) => !l.startsWith('[trainyard]')), ['0', '0', 'root']);
    if (executor === 'docker') t.deepEqual(await containersRemoved(bobTask.id, `${executor}-1`), [], 'containers are removed when they end');

    // Another default_task, and a restart of the master under the running agent.
    await master.kill('SIGTERM');
    const restarted = await spawnMaster(dir, port, { ...allowShared(dir), security: { default_task: { user: 'trainee', uid: 4321, group: 'trainees', gid: 4322 } } });
    t.teardown(() => restarted.kill('SIGKILL'));
    const bobAgain = await loginToken(restarted.url, 'bob', 'pw');
    const second = await runTask(restarted.url, bobAgain, 'command', { entrypoint: ['sh', '-c', 'id -u; id -g; whoami; id -gn'] });
    const secondDone = await ended(restarted.url, bobAgain, second.id);
    t.is(secondDone.state, 'COMPLETED', agent.output());
    t.deepEqual((await allLogs(restarted.url, bobAgain, second.id)).filter((l) => !l.startsWith('[trainyard]')), ['4321', '4322', 'trainee', 'trainees']);
  });

  test.serial(`${executor}: logs -f follows a running task to its end; exit codes and final states are right`, async (t) => {
    const { master } = await cluster(t);
    const agent = startAgent(master, { name: `${executor}-logs`, executor });
    t.teardown(() => agent.kill('SIGKILL'));
    const admin = await loginToken(master.url, 'admin');
    const term = new Terminal(master.url);
    const experiment = path.join(tempDir(), 'exp.yaml');
    writeFileSync(experiment, `name: counting\nimage: ${image}\nentrypoint: "echo one; sleep 1; echo two >&2; sleep 1; echo three"\n`);
    const created = await term.json<Task>(['experiment', 'create', experiment]);
    const follow = await term.run(['experiment', 'logs', String(created.id), '-f']);
    t.is(follow.code, 0, follow.stderr);
    t.deepEqual(follow.stdout.split('\n').filter((l) => l && !l.startsWith('[trainyard]')), ['one', 'two', 'three']);
    const done = await getTask(master.url, admin, created.id);
    t.is(done.state, 'COMPLETED');
    t.is(done.exitCode, 0);
    t.is(done.agent, `${executor}-logs`);
    t.truthy(done.startedAt);
    t.truthy(done.endedAt);

    const failing = await term.run(['command', 'run', '--image', image, '-f', '--', 'sh', '-c', 'echo bye; exit 3']);
    t.is(failing.code, 3, '--follow exits with the task\'s own exit code');
    t.regex(failing.stderr, /ended: FAILED \(exit code 3\)/);
    const list = await term.json<Page<Task>>(['command', 'list']);
    t.is(list.items[0]!.state, 'FAILED');
    t.is(list.items[0]!.exitCode, 3);
  });

  test.serial(`${executor}: killing a running task as its owner ends it KILLED within the grace period`, async (t) => {
    const { master } = await cluster(t);
    const agent = startAgent(master, { name: `${executor}-kill`, executor });
    t.teardown(() => agent.kill('SIGKILL'));
    const admin = await loginToken(master.url, 'admin');
    const aliceToken = await createUser(master.url, admin, 'alice');
    const alice = new Terminal(master.url);
    await alice.run(['user', 'login', 'alice', '--password-stdin'], { input: 'pw\n' });
    // Ignores SIGTERM: only the SIGKILL after the grace period ends it.
    const task = await runTask(master.url, aliceToken!, 'command', { entrypoint: ['sh', '-c', 'trap "" TERM; echo up; while true; do sleep 0.1; done'] });
    await waitFor('the task to print', async () => (await allLogs(master.url, aliceToken!, task.id)).includes('up'));
    const kill = await alice.json<Task>(['command', 'kill', String(task.id)]);
    const done = await ended(master.url, aliceToken!, task.id, 15_000);
    t.is(done.state, 'KILLED');
    // It ignored SIGTERM, so only the SIGKILL sent once the grace was over ended it (the task's own times).
    t.is(done.exitCode, 128 + 9);
    const waited = Date.parse(done.endedAt!) - Date.parse(kill.updatedAt);
    t.true(waited >= 2000, `ended ${waited} ms after the kill was asked: before the 2 s grace was over`);
    if (executor === 'docker') t.deepEqual(await containersRemoved(task.id, `${executor}-kill`), [], 'container gone');
    else t.false(execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).includes('echo up; while true'), 'process gone');
  });

  test.serial(`${executor}: kill -9 of the agent: the task is LOST within the timeout; a restarted agent leaves no second run`, async (t) => {
    const { master } = await cluster(t);
    const workDir = tempDir('yard-agent-');
    const agent = startAgent(master, { name: `${executor}-crash`, executor, workDir });
    const admin = await loginToken(master.url, 'admin');
    const task = await runTask(master.url, admin, 'command', { entrypoint: ['sh', '-c', 'echo run-marker; sleep 60'] });
    await waitFor('the task to run', async () => (await allLogs(master.url, admin, task.id)).includes('run-marker'));
    await agent.kill('SIGKILL');

    const lost = await ended(master.url, admin, task.id, 15_000);
    t.is(lost.state, 'LOST');
    t.regex(lost.message ?? '', /stopped responding/);
    const agents = (await api<Page<Agent>>(master.url, 'GET', '/agents', { token: admin })).body.items;
    const crashed = agents.find((a) => a.id === `${executor}-crash`)!;
    t.is(crashed.state, 'lost');
    // Not before the 3 s timeout (the task's and the agent's own times).
    t.true(Date.parse(lost.endedAt!) - Date.parse(crashed.lastHeartbeatAt) >= 3000);

    const again = startAgent(master, { name: `${executor}-crash`, executor, workDir });
    t.teardown(() => again.kill('SIGKILL'));
    await waitFor('the agent to be alive again', async () =>
      (await api<Page<Agent>>(master.url, 'GET', '/agents', { token: admin })).body.items.find((a) => a.id === `${executor}-crash` && a.state === 'alive'),
    );
    if (executor === 'docker') {
      await waitFor('the orphaned container to be removed', () => containersOf(task.id, `${executor}-crash`).length === 0, 15_000);
    } else {
      await waitFor('the orphaned process to be stopped', () => !execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).includes('echo run-marker; sleep 60'), 15_000);
    }
    const after = await getTask(master.url, admin, task.id);
    t.is(after.state, 'LOST');
    t.is((await allLogs(master.url, admin, task.id)).filter((l) => l === 'run-marker').length, 1, 'it ran once');
    // The restarted agent takes new work.
    const next = await runTask(master.url, admin, 'command', { entrypoint: ['echo', 'fresh'] });
    t.is((await ended(master.url, admin, next.id)).state, 'COMPLETED', again.output());
  });

  test.serial(`${executor}: kill -9 of the master between assignment and acknowledgement: the task runs exactly once`, async (t) => {
    const { dir, port, master } = await cluster(t);
    const admin = await loginToken(master.url, 'admin');
    const token = readFileSync(master.tokenFile, 'utf8').trim();
    const agentId = `${executor}-exactly-once`;
    const task = await runTask(master.url, admin, 'command', { entrypoint: ['sh', '-c', 'echo ran-once'] });

    // The agent's poll reaches the master and gets the assignment, but the answer is lost:
    // the master dies before anyone acknowledges.
    const register = await fetch(`${master.url}/api/v1/agents/${agentId}/register`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ executor, resources: { cpus: 2, memoryBytes: 2 ** 31, gpus: [] } }),
    });
    t.is(register.status, 200);
    const poll = (await (await fetch(`${master.url}/api/v1/agents/${agentId}/work?wait=0`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
      actions: Array<{ type: string; spec: { taskId: number; leaseId: string } }>;
    };
    t.is(poll.actions[0]?.spec.taskId, task.id);
    t.is((await getTask(master.url, admin, task.id)).state, 'ASSIGNED');
    await master.kill('SIGKILL');

    const restarted = await spawnMaster(dir, port);
    t.teardown(() => restarted.kill('SIGKILL'));
    const agent = startAgent(restarted, { name: agentId, executor });
    t.teardown(() => agent.kill('SIGKILL'));
    const adminAgain = await loginToken(restarted.url, 'admin');
    const done = await ended(restarted.url, adminAgain, task.id).catch((error: Error) => {
      throw new Error(`${error.message}\nagent:\n${agent.output()}\nmaster:\n${restarted.output()}`);
    });
    t.is(done.state, 'COMPLETED', agent.output());
    t.is(done.restarts, 0);
    t.deepEqual((await allLogs(restarted.url, adminAgain, task.id)).filter((l) => l === 'ran-once'), ['ran-once']);
    // The first lease is the one that ran: acknowledging it again changes nothing, an old one is refused.
    const stale = await fetch(`${restarted.url}/api/v1/agents/${agentId}/tasks/${task.id}/ack`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ leaseId: 'not-the-lease' }),
    });
    t.is(stale.status, 409);
  });
}

for (const executor of executors) {
  test.serial(`${executor}: a master restart loses no task: running ones keep running and are reported when the master is back`, async (t) => {
    const { dir, port, master } = await cluster(t);
    const agent = startAgent(master, { name: `${executor}-steady`, executor });
    t.teardown(() => agent.kill('SIGKILL'));
    const admin = await loginToken(master.url, 'admin');
    const running = await runTask(master.url, admin, 'command', { entrypoint: ['sh', '-c', 'echo before; sleep 6; echo after'] });
    await waitFor('it to run', async () => (await allLogs(master.url, admin, running.id)).includes('before'));
    const blocked = await runTask(master.url, admin, 'command', { entrypoint: ['true'], resources: { slots: 4 } });
    // The master is down for longer than lost_timeout (3 s), and the agent stays silent a while after
    // it is back (frozen): the time the master was away is not the agent's silence.
    process.kill(agent.child.pid!, 'SIGSTOP');
    t.teardown(() => void agent.child.kill('SIGCONT'));
    await master.kill('SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 4000));
    const restarted = await spawnMaster(dir, port);
    t.teardown(() => restarted.kill('SIGKILL'));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    process.kill(agent.child.pid!, 'SIGCONT');
    const adminAgain = await loginToken(restarted.url, 'admin');
    const done = await ended(restarted.url, adminAgain, running.id);
    t.is(done.state, 'COMPLETED', agent.output());
    t.deepEqual((await allLogs(restarted.url, adminAgain, running.id)).filter((l) => !l.startsWith('[trainyard]')), ['before', 'after']);
    t.is((await getTask(restarted.url, adminAgain, blocked.id)).state, 'QUEUED', 'queued stays queued');
  });
}

if (executors.includes('docker')) {
  test.serial('docker: an agent restarted in time reattaches to its container and reports it to the end, once', async (t) => {
    // "In time" is the point here, not the timeout (tested above): a loaded machine may take seconds to start node.
    const { master } = await cluster(t, { agents: { lost_timeout: '60s' } });
    const workDir = tempDir('yard-agent-');
    const first = startAgent(master, { name: 'docker-adopt', executor: 'docker', workDir });
    const admin = await loginToken(master.url, 'admin');
    const task = await runTask(master.url, admin, 'command', { entrypoint: ['sh', '-c', 'echo a; sleep 3; echo b'] });
    await waitFor('it to run', async () => (await allLogs(master.url, admin, task.id)).includes('a'));
    await first.kill('SIGKILL');
    const second = startAgent(master, { name: 'docker-adopt', executor: 'docker', workDir });
    t.teardown(() => second.kill('SIGKILL'));
    const done = await ended(master.url, admin, task.id);
    t.is(done.state, 'COMPLETED', `${second.output()}\n${master.output()}`);
    t.deepEqual((await allLogs(master.url, admin, task.id)).filter((l) => !l.startsWith('[trainyard]')), ['a', 'b']);
    t.deepEqual(await containersRemoved(task.id, 'docker-adopt'), []);
  });
}

test.serial('an assignment nobody acknowledges expires back to the queue and runs once elsewhere', async (t) => {
  const { master } = await cluster(t);
  const admin = await loginToken(master.url, 'admin');
  const token = readFileSync(master.tokenFile, 'utf8').trim();
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  await fetch(`${master.url}/api/v1/agents/silent/register`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ executor: 'process', resources: { cpus: 2, memoryBytes: 2 ** 31, gpus: [] } }),
  });
  const task = await runTask(master.url, admin, 'command', { entrypoint: ['sh', '-c', 'echo once'] });
  const poll = (await (await fetch(`${master.url}/api/v1/agents/silent/work?wait=0`, { headers })).json()) as { actions: Array<{ spec: { leaseId: string } }> };
  const staleLease = poll.actions[0]!.spec.leaseId;

  const agent = startAgent(master, { name: 'prompt', executor: 'process' });
  t.teardown(() => agent.kill('SIGKILL'));
  const done = await ended(master.url, admin, task.id);
  t.is(done.state, 'COMPLETED');
  t.is(done.agent, 'prompt');
  t.deepEqual((await allLogs(master.url, admin, task.id)).filter((l) => l === 'once'), ['once']);
  const late = await fetch(`${master.url}/api/v1/agents/silent/tasks/${task.id}/ack`, { method: 'POST', headers, body: JSON.stringify({ leaseId: staleLease }) });
  t.is(late.status, 409);
  t.is(((await late.json()) as { error: { code: string } }).error.code, 'LEASE_INVALID');
});

test.serial('a heartbeat listed before an acknowledgement never ends the lease, however late it arrives; one listed after it does', async (t) => {
  const { master } = await cluster(t);
  const admin = await loginToken(master.url, 'admin');
  const token = readFileSync(master.tokenFile, 'utf8').trim();
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const call = async <T>(method: string, suffix: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${master.url}/api/v1/agents/slow${suffix}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    t.is(response.status, 200, `${method} ${suffix}`);
    return (await response.json()) as T;
  };
  const registered = await call<{ at: number }>('POST', '/register', { executor: 'process', resources: { cpus: 2, memoryBytes: 2 ** 31, gpus: [] } });
  const task = await runTask(master.url, admin, 'command', { entrypoint: ['true'] });
  const { actions } = await call<{ actions: Array<{ spec: { leaseId: string } }> }>('GET', '/work?wait=5');
  const leaseId = actions[0]!.spec.leaseId;
  await call('POST', `/tasks/${task.id}/ack`, { leaseId });
  // Past every heartbeat interval: only the order of events may decide.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  // Its list was taken when the agent had heard only the registration: the lease may postdate it.
  const stale = await call<{ at: number }>('POST', '/heartbeat', { running: [], listedAfter: registered.at });
  t.is((await getTask(master.url, admin, task.id)).state, 'ASSIGNED');
  t.true(stale.at > registered.at);
  // Listed after an answer that came after the acknowledgement: the lease is really gone.
  await call('POST', '/heartbeat', { running: [], listedAfter: stale.at });
  const released = await getTask(master.url, admin, task.id);
  t.is(released.state, 'QUEUED', JSON.stringify(released));
  t.true((await allLogs(master.url, admin, task.id)).includes('[trainyard] agent slow no longer holds the task; it never started; queued again'));
});

test.serial("process executor: a notebook whose port another task serves there waits (NO_AGENT_FITS) instead of failing, and runs once the port is free", async (t) => {
  const { master } = await cluster(t, { policy: { system: { ports: { allow: ['1024-65535'] } } } });
  const admin = await loginToken(master.url, 'admin');
  const agent = startAgent(master, { name: 'ports', executor: 'process' });
  t.teardown(() => agent.kill('SIGKILL'));
  const port = await freePort();
  const serve = { entrypoint: [process.execPath, '-e', "require('http').createServer((q, s) => s.end('ok')).listen(process.env.TRAINYARD_PORT)"], port };
  const first = await runTask(master.url, admin, 'notebook', serve);
  await waitFor(`task ${first.id} to run\n${agent.output()}`, async () => (await getTask(master.url, admin, first.id)).state === 'RUNNING');
  const second = await runTask(master.url, admin, 'notebook', serve);
  const waiting = await waitFor('the second notebook to be passed over', async () => {
    const task = await getTask(master.url, admin, second.id);
    return task.pendingReason === 'NO_AGENT_FITS' && task;
  });
  t.is(waiting.state, 'QUEUED');
  t.is((await api(master.url, 'POST', `/tasks/${first.id}/kill`, { token: admin })).status, 200);
  await waitFor(`task ${second.id} to run`, async () => (await getTask(master.url, admin, second.id)).state === 'RUNNING');
  t.false((await allLogs(master.url, admin, second.id)).some((l) => l.includes('EADDRINUSE')));
  t.is((await api(master.url, 'POST', `/tasks/${second.id}/kill`, { token: admin })).status, 200);
  t.is((await ended(master.url, admin, second.id)).state, 'KILLED');
});

test.serial('forged and revoked agent tokens get 401 and no work', async (t) => {
  const { master } = await cluster(t);
  const admin = await loginToken(master.url, 'admin');
  await runTask(master.url, admin, 'command', { entrypoint: ['true'] });
  for (const forged of ['yard_agent_forged', `yard_agent_${'A'.repeat(43)}`, admin]) {
    const response = await fetch(`${master.url}/api/v1/agents/x/work?wait=0`, { headers: { authorization: `Bearer ${forged}` } });
    t.is(response.status, 401);
    t.is(((await response.json()) as { error: { code: string } }).error.code, 'UNAUTHENTICATED');
  }
  const term = new Terminal(master.url);
  const created = await term.run(['-u', 'admin', 'agent', 'token', 'create', 'rack-1'], { env: { YARD_PASSWORD: '' } });
  t.is(created.code, 0, created.stderr);
  const token = created.stdout.trim();
  t.regex(token, /^yard_agent_/);
  const tokenFile = path.join(tempDir(), 'agent.token');
  writeFileSync(tokenFile, token, { mode: 0o600 });
  const listed = await term.run(['-u', 'admin', 'agent', 'token', 'list']);
  t.regex(listed.stdout, /^rack-1\s+admin\s/m);
  t.notRegex(listed.stdout, /yard_agent_/, 'tokens are never listed');
  t.is((await term.run(['agent', 'token', 'list'])).code, 1, 'not for non-admins');

  t.is((await term.run(['-u', 'admin', 'agent', 'token', 'revoke', 'rack-1'])).code, 0);
  const revoked = await fetch(`${master.url}/api/v1/agents/x/register`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ executor: 'process', resources: { cpus: 1, memoryBytes: 1, gpus: [] } }),
  });
  t.is(revoked.status, 401);
  const agent = startAgent(master, { name: 'revoked', executor: 'process', tokenFile });
  t.is(await agent.exited, 1);
  t.regex(agent.output(), /rejected the agent token/);
  const tasks = await api<Page<Task>>(master.url, 'GET', '/tasks?all=true', { token: admin });
  t.is(tasks.body.items[0]!.state, 'QUEUED', 'no work was handed out');
});

test.serial('yard agent list shows agents and what they run; a disabled agent takes nothing new', async (t) => {
  const { master } = await cluster(t);
  const agent = startAgent(master, { name: 'node-a', executor: 'process' });
  t.teardown(() => agent.kill('SIGKILL'));
  const admin = await loginToken(master.url, 'admin');
  const term = new Terminal(master.url);
  // Seeing agents needs see_status (admin holds it); `yard` does not.
  const asAdmin = { env: { YARD_PASSWORD: '' } };
  t.regex((await term.run(['agent', 'list'])).stderr, /yard may not see the agents: that needs see_status/);
  await waitFor('the agent to register', async () => (await term.json<Page<Agent>>(['-u', 'admin', 'agent', 'list'], asAdmin)).items.length === 1);
  const running = await runTask(master.url, admin, 'command', { entrypoint: ['sh', '-c', 'echo go; sleep 30'] });
  await waitFor('it to run', async () => (await getTask(master.url, admin, running.id)).state === 'RUNNING');
  const list = await term.run(['-u', 'admin', 'agent', 'list']);
  t.regex(list.stdout.split('\n')[0]!, /^ID\s+STATE\s+EXECUTOR\s+VERSION\s+CPUS\s+MEMORY\s+GPUS\s+TASKS\s+LAST SEEN$/);
  // The agent reports its release (its package's version) when it registers.
  const version = JSON.parse(readFileSync(path.join(ROOT, 'packages', 'agent', 'package.json'), 'utf8')).version as string;
  t.regex(list.stdout, new RegExp(`^node-a\\s+alive\\s+process\\s+${version.replaceAll('.', '\\.')}\\s+\\d+\\s+[\\d.]+ GiB\\s+0\\s+${running.id}\\s`, 'm'));

  t.is((await term.run(['agent', 'disable', 'node-a'])).code, 1, 'admins only');
  t.is((await term.run(['-u', 'admin', 'agent', 'disable', 'node-a'])).code, 0);
  const waiting = await runTask(master.url, admin, 'command', { entrypoint: ['echo', 'later'] });
  await new Promise((resolve) => setTimeout(resolve, 1500));
  t.is((await getTask(master.url, admin, waiting.id)).state, 'QUEUED');
  t.is((await getTask(master.url, admin, running.id)).state, 'RUNNING', 'what it runs goes on');
  t.regex((await term.run(['-u', 'admin', 'agent', 'list'])).stdout, /^node-a\s+alive \(disabled\)/m);
  t.is((await term.run(['-u', 'admin', 'agent', 'enable', 'node-a'])).code, 0);
  t.is((await ended(master.url, admin, waiting.id)).state, 'COMPLETED');
});

test.serial('tasks wait for an agent with room: resources are respected first come first served', async (t) => {
  const { master } = await cluster(t);
  const admin = await loginToken(master.url, 'admin');
  const agent = startAgent(master, { name: 'small', executor: 'process' });
  t.teardown(() => agent.kill('SIGKILL'));
  const gpuTask = await runTask(master.url, admin, 'command', { entrypoint: ['true'], resources: { slots: 1 } });
  const cpuTask = await runTask(master.url, admin, 'command', { entrypoint: ['true'], resources: { cpu: 1 } });
  t.is((await ended(master.url, admin, cpuTask.id)).state, 'COMPLETED');
  const gpu = await getTask(master.url, admin, gpuTask.id);
  t.is(gpu.state, 'QUEUED', 'no agent here has a GPU');
});
