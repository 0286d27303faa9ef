import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import type { Agent, Task, TaskLogPage } from '@trainyard/shared';
import { api, proxyFetch } from './helpers/api.js';
import { ROOT, Terminal } from './helpers/cli.js';
import { FAST_AGENTS, freePort, tempDir, waitFor } from './helpers/cluster.js';
import { createUsers } from './helpers/fixtures.js';
import { UnixUsers, type UnixUser } from './helpers/slurm.js';
import { startTestMaster, type TestMaster } from './helpers/test-master.js';

// The one-shot agent (issue 22) without Slurm: a task leased to `task-<id>` the way the Slurm
// manager will (OneShotAgents.place), and `yard-agent --one-shot` started by hand as a throwaway
// Unix user, as a Slurm job would start it: the task runs as that user, its logs, exit code and
// kill arrive, its notebook answers through /proxy/<id>/, a shell runs as the user, and the
// token it got is good for that one task only. test/slurm-one-shot.test.ts does it in real jobs.
const AGENT_BIN = path.join(ROOT, 'packages', 'agent', 'bin', 'yard-agent.js');
const SERVER = path.join(ROOT, 'test', 'fixtures', 'web-service', 'server.mjs');

if (process.getuid?.() !== 0) {
  console.error('\n!!! NOT ROOT: the one-shot agent tests are NOT running (they make throwaway Unix users to run tasks as).\n');
  test.skip('one-shot agent tests (need root)', () => {});
} else {
  registerTests();
}

interface OneShot {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

function registerTests() {
  const users = new UnixUsers('yos');
  const agents: OneShot[] = [];
  let m: TestMaster;
  let tokens: Record<'admin' | 'alice' | 'bruno', string>;
  let dir: string;

  test.before(async () => {
    dir = tempDir('yard-one-shot-');
    m = await startTestMaster(
      {
        // A one-shot agent takes its lease within seconds here; lost (and forgotten, once its task ended) 3 s after its last heartbeat.
        agents: { ...FAST_AGENTS, lease_timeout: '60s', token_file: path.join(dir, 'agent.token') },
        policy: { system: { ports: { allow: ['1024-65535'] } } },
      },
      dir,
    );
    tokens = await createUsers(m.url, ['alice', 'bruno']);
  });

  test.after.always(async () => {
    for (const agent of agents) if (agent.child.exitCode === null && agent.child.signalCode === null) agent.child.kill('SIGKILL');
    users.removeAll();
    await m?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A Trainyard user linked to a fresh Unix user, so that its tasks run as that uid:gid. */
  async function linkedUser(name: string): Promise<UnixUser> {
    const unix = users.create();
    const linked = await api(m.url, 'PUT', `/users/${name}/agent-user`, { token: tokens.admin, body: { uid: unix.uid, user: unix.name, gid: unix.gid, group: unix.name } });
    if (linked.status !== 200) throw new Error(`link: ${JSON.stringify(linked.body)}`);
    return unix;
  }

  const create = async (owner: keyof typeof tokens, kind: string, config: Record<string, unknown>) => {
    const created = await api<Task>(m.url, 'POST', '/tasks', { token: tokens[owner], body: { kind, config } });
    if (created.status !== 201) throw new Error(`create: ${JSON.stringify(created.body)}`);
    return created.body;
  };
  const task = async (id: number) => (await api<Task>(m.url, 'GET', `/tasks/${id}`, { token: tokens.admin })).body;
  const logs = async (id: number) => (await api<TaskLogPage>(m.url, 'GET', `/tasks/${id}/logs?limit=1000`, { token: tokens.admin })).body.items.map((l) => `${l.stream}: ${l.line}`).join('\n');
  const until = (id: number, what: string, check: (t: Task) => boolean, timeoutMs = 30_000) =>
    waitFor(`task ${id} ${what}`, async () => {
      const current = await task(id);
      return check(current) ? current : undefined;
    }, timeoutMs);

  /** What the Slurm manager does: lease the queued task to its one-shot agent and mint that agent's token. */
  async function place(taskId: number) {
    const placement = await m.master.services.oneShotAgents.place(taskId);
    if (!placement) throw new Error(`task ${taskId} could not be placed`);
    return placement;
  }

  /** `yard-agent --one-shot` as `user`, the way the batch script starts it (token in the environment). */
  function startOneShot(user: UnixUser, taskId: number, token: string): OneShot {
    const child = spawn(process.execPath, [AGENT_BIN, '--one-shot', '--task', String(taskId), '--master', m.url], {
      uid: user.uid,
      gid: user.gid,
      cwd: user.home,
      env: { PATH: process.env.PATH, HOME: user.home, YARD_AGENT_TOKEN: token },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const agent = { child, output: () => output, exited: new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code))) };
    agents.push(agent);
    return agent;
  }

  const processesOf = (user: UnixUser) => {
    try {
      return execFileSync('pgrep', ['-u', String(user.uid), '-a'], { encoding: 'utf8' }).trim();
    } catch {
      return '';
    }
  };

  test.serial("a task leased to a one-shot agent runs as the agent's user: id and HOME in its logs, its exit code, and the agent exits with it", async (t) => {
    const alice = await linkedUser('alice');
    const { id } = await create('alice', 'command', { entrypoint: ['sh', '-c', 'id; echo "HOME=$HOME"; echo "TOKEN=${YARD_AGENT_TOKEN:-none}"; echo oops >&2; exit 3'] });
    t.is((await task(id)).state, 'QUEUED', 'no agent takes it: it waits for its placement');
    const { agentId, token } = await place(id);
    t.is(agentId, `task-${id}`);
    t.like(await task(id), { state: 'ASSIGNED' });

    const agent = startOneShot(alice, id, token);
    t.is(await agent.exited, 3, agent.output());
    const ended = await until(id, 'to end', (x) => x.state === 'FAILED');
    t.is(ended.exitCode, 3);
    const printed = await logs(id);
    t.true(printed.includes(`stdout: uid=${alice.uid}(${alice.name}) gid=${alice.gid}(${alice.name})`), printed);
    t.true(printed.includes(`stdout: HOME=${alice.home}`), `the user's own home:\n${printed}`);
    t.true(printed.includes('stdout: TOKEN=none'), `the agent's token never reaches the task:\n${printed}`);
    t.true(printed.includes('stderr: oops'), printed);
    t.regex(agent.output(), new RegExp(`one-shot agent for task ${id} as ${alice.name}`));

    // Its token died with the lease.
    const after = await api(m.url, 'POST', `/agents/${agentId}/heartbeat`, { token, body: { running: [] } });
    t.is(after.status, 401);
    t.regex(after.body.error.message, new RegExp(`one-shot agent token was for task ${id} under a lease it no longer holds`));
    // And once it stopped heartbeating, the agent is forgotten rather than lost.
    const listed = async () => (await api<{ items: Agent[] }>(m.url, 'GET', '/agents', { token: tokens.admin })).body.items.map((a) => a.id);
    await waitFor('the one-shot agent to be forgotten', async () => !(await listed()).includes(agentId), 20_000);
    t.false((await listed()).includes(agentId));
  });

  /** A task that prints a line and sleeps, running on its one-shot agent as a fresh user of alice's. */
  async function runningSleeper() {
    const alice = await linkedUser('alice');
    const { id } = await create('alice', 'command', { entrypoint: ['sh', '-c', 'echo started; sleep 300'] });
    const { token } = await place(id);
    const agent = startOneShot(alice, id, token);
    await until(id, 'to run', (x) => x.state === 'RUNNING');
    await waitFor('its first line', async () => (await logs(id)).includes('stdout: started'));
    return { alice, id, agent };
  }

  test.serial('kill: the task stops within the grace and ends KILLED; the agent exits; nothing of the user is left running', async (t) => {
    const { alice, id, agent } = await runningSleeper();
    t.is((await api(m.url, 'POST', `/tasks/${id}/kill`, { token: tokens.alice })).status, 200);
    const ended = await until(id, 'to be killed', (x) => x.state === 'KILLED');
    t.is(ended.exitCode, 143, 'SIGTERM ended it, within kill_grace');
    t.is(await agent.exited, 143, agent.output());
    await waitFor(`no process of ${alice.name} left`, () => processesOf(alice) === '', 10_000);
    t.is(processesOf(alice), '');
  });

  test.serial('a notebook on a one-shot agent answers through /proxy/<id>/, and a shell on it runs id as the user', async (t) => {
    const bruno = await linkedUser('bruno');
    const port = await freePort();
    const { id } = await create('bruno', 'notebook', { entrypoint: [process.execPath, SERVER], port });
    const { token } = await place(id);
    const agent = startOneShot(bruno, id, token);
    await until(id, 'to run', (x) => x.state === 'RUNNING');
    const page = await waitFor(`the notebook through the proxy\n${agent.output()}`, async () => {
      const response = await proxyFetch(m.url, `/proxy/${id}/`, tokens.bruno);
      return response.status === 200 ? response.text() : undefined;
    });
    t.regex(page, /yard test service/);
    const echo = (await (await proxyFetch(m.url, `/proxy/${id}/echo`, tokens.bruno)).json()) as { url: string };
    t.is(echo.url, `/proxy/${id}/echo`);

    const terminal = new Terminal(m.url);
    t.is((await terminal.run(['user', 'login', 'bruno'], { env: { YARD_PASSWORD: 'pw' } })).code, 0);
    const shell = await terminal.run(['shell', 'open', String(id), '--', 'id']);
    t.is(shell.code, 0, shell.stderr);
    t.true(shell.stdout.includes(`uid=${bruno.uid}(${bruno.name}) gid=${bruno.gid}(${bruno.name})`), shell.stdout);

    t.is((await api(m.url, 'POST', `/tasks/${id}/kill`, { token: tokens.bruno })).status, 200);
    await until(id, 'to be killed', (x) => x.state === 'KILLED');
    await agent.exited;
  });

  test.serial('the one-shot agent runs nothing as anyone else: started as another user, the task fails saying so', async (t) => {
    await linkedUser('alice');
    const intruder = users.create();
    const { id } = await create('alice', 'command', { entrypoint: ['sh', '-c', 'touch /tmp/should-not-exist-$$; echo ran'] });
    const { token } = await place(id);
    const agent = startOneShot(intruder, id, token);
    const ended = await until(id, 'to fail', (x) => x.state === 'FAILED');
    t.regex(ended.message ?? '', new RegExp(`^the one-shot agent runs as uid ${intruder.uid} gid ${intruder.gid}, but the task must run as uid \\d+ \\(\\w+\\)`));
    t.false((await logs(id)).includes('stdout: ran'));
    t.is(await agent.exited, 1);
  });

  test.serial('SIGTERM from outside (Slurm ending the job): the task stops and ends KILLED saying why', async (t) => {
    const { alice, id, agent } = await runningSleeper();
    agent.child.kill('SIGTERM');
    const ended = await until(id, 'to be killed', (x) => x.state === 'KILLED');
    t.is(ended.message, 'the one-shot agent was stopped (SIGTERM) before its task ended');
    t.not(await agent.exited, 0);
    await waitFor(`no process of ${alice.name} left`, () => processesOf(alice) === '', 10_000);
  });

  test.serial('kill -9 of the one-shot agent (its job died): the task ends LOST once it is silent, and the agent is forgotten, not kept as lost', async (t) => {
    const { id, agent } = await runningSleeper();
    agent.child.kill('SIGKILL');
    const ended = await until(id, 'to be lost', (x) => x.state === 'LOST', 20_000);
    t.is(ended.message, `agent task-${id} stopped responding`);
    const agents = (await api<{ items: Agent[] }>(m.url, 'GET', '/agents', { token: tokens.admin })).body.items;
    t.false(agents.some((a) => a.id === `task-${id}`), JSON.stringify(agents));
    // (Its task's processes outlived it here, with no Slurm to end the job: they go with the test's users.)
    t.is((await api(m.url, 'POST', `/tasks/${id}/kill`, { token: tokens.alice })).status, 409, 'ended already');
  });

  test.serial('the master restarts while a one-shot agent runs: the agent waits for it, and the task ends once, COMPLETED', async (t) => {
    const restartDir = tempDir('yard-one-shot-restart-');
    const port = await freePort();
    const config = { listen: { port }, agents: { ...FAST_AGENTS, lease_timeout: '60s' } };
    let master = await startTestMaster(config, restartDir);
    try {
      const names = await createUsers(master.url, ['carol']);
      const carol = users.create();
      await api(master.url, 'PUT', '/users/carol/agent-user', { token: names.admin, body: { uid: carol.uid, user: carol.name, gid: carol.gid, group: carol.name } });
      const created = await api<Task>(master.url, 'POST', '/tasks', { token: names.carol, body: { kind: 'command', config: { entrypoint: ['sh', '-c', 'echo before; sleep 3; echo after'] } } });
      const id = created.body.id;
      const placement = (await master.master.services.oneShotAgents.place(id))!;
      const child = spawn(process.execPath, [AGENT_BIN, '--one-shot', '--task', String(id), '--master', master.url], {
        uid: carol.uid, gid: carol.gid, cwd: carol.home, env: { PATH: process.env.PATH, HOME: carol.home, YARD_AGENT_TOKEN: placement.token }, stdio: 'ignore',
      });
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      const read = async () => (await api<Task>(master.url, 'GET', `/tasks/${id}`, { token: names.admin })).body;
      await waitFor('the task to run', async () => (await read()).state === 'RUNNING');
      await master.stop();
      // Down while the task ends (its sleep is gone), then back on the same port and database.
      const sleeping = () => {
        try {
          return execFileSync('pgrep', ['-u', String(carol.uid), '-x', 'sleep']).length > 0;
        } catch {
          return false;
        }
      };
      await waitFor('the task to end while the master is down', () => !sleeping());
      master = await startTestMaster(config, restartDir);
      t.is(await exited, 0);
      const ended = await read();
      t.like(ended, { state: 'COMPLETED', exitCode: 0, restarts: 0 });
      const lines = (await api<TaskLogPage>(master.url, 'GET', `/tasks/${id}/logs`, { token: names.admin })).body.items.filter((l) => l.stream === 'stdout').map((l) => l.line);
      t.deepEqual(lines, ['before', 'after'], 'every line once');
    } finally {
      await master.stop();
      rmSync(restartDir, { recursive: true, force: true });
    }
  });

  test.serial("a one-shot token is good for its own task only: no other agent id, no other task, no other work, not listed, and nothing after its task", async (t) => {
    await linkedUser('alice');
    const first = await create('alice', 'command', { entrypoint: ['true'] });
    const second = await create('alice', 'command', { entrypoint: ['true'] });
    const { agentId, leaseId, token } = await place(first.id);
    const body = { executor: 'process', resources: { cpus: 1, memoryBytes: 1e9, gpus: [] }, labels: { 'trainyard.task': '999' } };

    const elsewhere = await api(m.url, 'POST', '/agents/node-1/register', { token, body });
    t.is(elsewhere.status, 403);
    t.is(elsewhere.body.error.message, `this token belongs to the one-shot agent of task ${first.id}: it acts only as agent 'task-${first.id}', on task ${first.id}`);
    t.is((await api(m.url, 'POST', `/agents/task-${second.id}/register`, { token, body })).status, 403);

    t.is((await api(m.url, 'POST', `/agents/${agentId}/register`, { token, body })).status, 200);
    const listed = (await api<{ items: Agent[] }>(m.url, 'GET', '/agents', { token: tokens.admin })).body.items.find((a) => a.id === agentId);
    t.deepEqual(listed?.labels, { 'trainyard.task': String(first.id) }, 'the label says which task, whatever the agent claimed');
    for (let poll = 0; poll < 2; poll++) {
      const work = await api<{ actions: Array<{ type: string; spec?: { taskId: number; leaseId: string } }> }>(m.url, 'GET', `/agents/${agentId}/work?wait=0`, { token });
      t.deepEqual(work.body.actions.map((a) => [a.type, a.spec?.taskId, a.spec?.leaseId]), [['start', first.id, leaseId]], 'its own lease, never the queued task next to it');
    }
    t.is((await task(second.id)).state, 'QUEUED');
    const other = await api(m.url, 'POST', `/agents/${agentId}/tasks/${second.id}/state`, { token, body: { leaseId, state: 'RUNNING' } });
    t.is(other.status, 403);

    const listedTokens = await api<{ items: Array<{ name: string }> }>(m.url, 'GET', '/agent-tokens', { token: tokens.admin });
    t.false(listedTokens.body.items.some((x) => x.name.startsWith('task:')), JSON.stringify(listedTokens.body));

    // A plain agent cannot claim the label (it would hide from work, and be forgotten as one-shot).
    const plain = await api(m.url, 'POST', '/agents/plain-1/register', { token: readFileSync(path.join(dir, 'agent.token'), 'utf8').trim(), body });
    t.is(plain.status, 200);
    const plainListed = (await api<{ items: Agent[] }>(m.url, 'GET', '/agents', { token: tokens.admin })).body.items.find((a) => a.id === 'plain-1');
    t.deepEqual(plainListed?.labels, {});

    // Killed before it started: ended at once, and the token with it.
    t.is((await api(m.url, 'POST', `/tasks/${first.id}/kill`, { token: tokens.alice })).status, 200);
    const dead = await api(m.url, 'GET', `/agents/${agentId}/work?wait=0`, { token });
    t.is(dead.status, 401);
    await api(m.url, 'POST', `/tasks/${second.id}/kill`, { token: tokens.alice });
  });

  test.serial('a placement of a task that is no longer queued gives nothing', async (t) => {
    await linkedUser('alice');
    const { id } = await create('alice', 'command', { entrypoint: ['true'] });
    t.truthy(await place(id));
    t.is(await m.master.services.oneShotAgents.place(id), undefined, 'already placed');
    await api(m.url, 'POST', `/tasks/${id}/kill`, { token: tokens.alice });
    t.is(await m.master.services.oneShotAgents.place(id), undefined, 'ended');
  });
}
