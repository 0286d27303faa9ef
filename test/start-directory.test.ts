import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import type { Task, TaskLogPage } from '@trainyard/shared';
import { api } from './helpers/api.js';
import { createUsers } from './helpers/fixtures.js';
import { FAST_AGENTS, startAgent, tempDir, waitFor } from './helpers/cluster.js';
import { startTestMaster } from './helpers/test-master.js';

// Where a task starts: its image's WORKDIR when its uid can write it, else its HOME, decided by
// the agent before the start and said in the task's log (Docker); the process executor's tasks
// start in their HOME, which their uid can reach by path.
const IMAGE = process.env.YARD_TEST_IMAGE;
if (!IMAGE) console.error('\n!!! NO CONTAINER ENGINE: the Docker start-directory tests are NOT running (set YARD_TEST_IMAGE; npm test does).\n');
const WORKDIR_IMAGE = `trainyard/workdir-test:${process.pid}`;
const OWNER = 1000;
const OTHER = 2471;
const NOTICE = /the image's working directory \/work is not writable for uid \d+: the task starts in its home/;

let agents = 0;

async function cluster(t: { teardown(fn: () => Promise<void> | void): void }, executor: 'docker' | 'process', policy: Record<string, unknown> = {}) {
  const dir = tempDir('yard-start-dir-');
  const m = await startTestMaster({ agents: { ...FAST_AGENTS, token_file: path.join(dir, 'agent.token') }, policy: { system: policy } }, dir);
  const tokens = await createUsers(m.url, ['owner', 'other']);
  for (const [name, uid] of [['owner', OWNER], ['other', OTHER]] as const) {
    await api(m.url, 'PUT', `/users/${name}/agent-user`, { token: tokens.admin, body: { uid, user: name, gid: uid, group: name } });
  }
  // One name per agent: an agent starting takes over (or removes) the containers of its name.
  const agentName = `start-dir-${executor}-${process.pid}-${++agents}`;
  const agent = startAgent({ url: m.url, tokenFile: path.join(dir, 'agent.token') }, { name: agentName, executor });
  t.teardown(async () => {
    await agent.kill('SIGTERM');
    if (executor === 'docker') {
      const left = execFileSync('docker', ['ps', '-aq', '--filter', `label=trainyard.agent=${agentName}`], { encoding: 'utf8' }).split('\n').filter(Boolean);
      // The agent may be removing them as it stops.
      if (left.length > 0) spawnSync('docker', ['rm', '-f', ...left], { stdio: 'ignore' });
    }
    await m.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  /** Runs a command to its end; its state and log lines. */
  const run = async (who: 'owner' | 'other', config: Record<string, unknown>) => {
    const created = await api<Task>(m.url, 'POST', '/tasks', { token: tokens[who], body: { kind: 'command', config } });
    if (created.status !== 201) throw new Error(JSON.stringify(created.body));
    const task = await waitFor(`task ${created.body.id} to end\n${agent.output()}`, async () => {
      const now = (await api<Task>(m.url, 'GET', `/tasks/${created.body.id}`, { token: tokens[who] })).body;
      return ['COMPLETED', 'FAILED', 'KILLED', 'LOST'].includes(now.state) && now;
    }, 60_000);
    const logs = (await api<TaskLogPage>(m.url, 'GET', `/tasks/${task.id}/logs`, { token: tokens[who] })).body.items.map((l) => l.line);
    return { state: task.state, logs };
  };
  return { dir, run };
}

if (IMAGE) {
  test.before(() => {
    // An image that assumes a user of its own, as jupyter/base-notebook does: WORKDIR /work, uid 1000's, 0755.
    const context = tempDir('yard-workdir-image-');
    writeFileSync(path.join(context, 'Dockerfile'), `FROM ${IMAGE}\nRUN mkdir /work && chown ${OWNER}:${OWNER} /work && chmod 0755 /work\nWORKDIR /work\n`);
    execFileSync('docker', ['build', '-q', '-t', WORKDIR_IMAGE, context], { stdio: ['ignore', 'ignore', 'pipe'] });
    rmSync(context, { recursive: true, force: true });
  });
  test.after.always(() => {
    execFileSync('docker', ['rmi', '-f', WORKDIR_IMAGE], { stdio: 'ignore' });
  });

  test('docker: a uid that can write the image WORKDIR starts there; another starts in its HOME, and its log says so', async (t) => {
    const { run } = await cluster(t, 'docker');
    const config = { image: WORKDIR_IMAGE, entrypoint: ['sh', '-c', 'pwd; touch here && echo wrote'] };
    const owner = await run('owner', config);
    t.is(owner.state, 'COMPLETED', owner.logs.join('\n'));
    t.deepEqual(owner.logs.filter((l) => !l.startsWith('[trainyard] assigned')), ['/work', 'wrote']);
    const other = await run('other', config);
    t.is(other.state, 'COMPLETED', other.logs.join('\n'));
    t.true(other.logs.some((l) => NOTICE.test(l)), other.logs.join('\n'));
    t.true(other.logs.includes('/home/other'), other.logs.join('\n'));
  });

  test('docker: a writable host directory mounted over the WORKDIR keeps it; a read-only one does not', async (t) => {
    const shared = tempDir('yard-start-dir-mount-');
    chownSync(shared, OTHER, OTHER);
    t.teardown(() => rmSync(shared, { recursive: true, force: true }));
    const { run } = await cluster(t, 'docker', { mounts: { available: [{ host_path: shared }] } });
    const writable = await run('other', { image: WORKDIR_IMAGE, entrypoint: ['sh', '-c', 'pwd; touch here'], bind_mounts: [{ host_path: shared, container_path: '/work' }] });
    t.is(writable.state, 'COMPLETED', writable.logs.join('\n'));
    t.true(writable.logs.includes('/work'));
    t.false(writable.logs.some((l) => NOTICE.test(l)));
    const readOnly = await run('other', { image: WORKDIR_IMAGE, entrypoint: ['pwd'], bind_mounts: [{ host_path: shared, container_path: '/work', read_only: true }] });
    t.true(readOnly.logs.includes('/home/other'), readOnly.logs.join('\n'));
    t.true(readOnly.logs.some((l) => NOTICE.test(l)));
  });
}

if (process.getuid?.() === 0) {
  test('process executor: a task starts in its HOME, a directory its uid can write and reach by path, no one else can read', async (t) => {
    const { run } = await cluster(t, 'process');
    const result = await run('other', { entrypoint: ['sh', '-c', 'cd "$HOME" && pwd && touch "$HOME/here" && stat -c "%a %u" "$HOME" && [ "$PWD" = "$HOME" ] && echo same'] });
    t.is(result.state, 'COMPLETED', result.logs.join('\n'));
    t.true(result.logs.includes(`700 ${OTHER}`), result.logs.join('\n'));
    t.true(result.logs.includes('same'));
    t.false(result.logs.some((l) => /cannot pass through/.test(l)), result.logs.join('\n'));
  });
} else {
  console.error('\n!!! NOT ROOT: the process executor start-directory test is NOT running (it needs to run tasks as other uids).\n');
}
