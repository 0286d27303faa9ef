import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import type { Agent, Page, RunBindMount, RunSpec, Task, TaskLogPage, TaskSummary } from '@trainyard/shared';
import { api, loginToken, type OrError, type PolicyDenial } from './helpers/api.js';
import { Terminal } from './helpers/cli.js';
import { FAST_AGENTS, startAgent, tempDir, waitFor, type AgentProcess } from './helpers/cluster.js';
import { startTestMaster, type TestMaster } from './helpers/test-master.js';

// Host paths and agents as an attacker would try them: the policy and the floor on the master,
// the floor again on the agent (for what a compromised master might send), agent token binding.
const IMAGE = process.env.YARD_TEST_IMAGE;
const executor = IMAGE ? 'docker' : 'process';
if (!IMAGE) console.error('\n!!! NO CONTAINER ENGINE: host-isolation runs on the process executor only (set YARD_TEST_IMAGE for Docker).\n');
const image = IMAGE ?? 'busybox:latest';
const AGENT = `isolation-${executor}`;
// A place that exists on every machine: the process executor mounts onto the machine's own paths.
const ELSEWHERE = '/srv';

let m: TestMaster;
let agent: AgentProcess;
let scratch: string;
const tokens: Record<'admin' | 'yard' | 'unlinked' | 'linked', string> = { admin: '', yard: '', unlinked: '', linked: '' };

test.before(async () => {
  const dir = tempDir('yard-isolation-');
  scratch = path.join(dir, 'scratch');
  m = await startTestMaster(
    {
      agents: { ...FAST_AGENTS, lost_timeout: '60s', token_file: path.join(dir, 'agent.token') },
      policy: {
        system: {
          mounts: { available: [{ host_path: `${scratch}/{user}` }] },
          images: { allow: ['trainyard/busybox:.*', 'busybox:.*', 'trainyard/not-here:.*'] },
          capabilities: { add: ['NET_RAW'] },
          resources: { max: { gpus: 1 } },
        },
      },
    },
    dir,
  );
  tokens.admin = await loginToken(m.url, 'admin');
  tokens.yard = await loginToken(m.url, 'yard');
  for (const name of ['unlinked', 'linked'] as const) {
    await api(m.url, 'POST', '/users', { token: tokens.admin, body: { username: name, password: 'pw' } });
    tokens[name] = await loginToken(m.url, name, 'pw');
  }
  await api(m.url, 'PUT', '/users/linked/agent-user', { token: tokens.admin, body: { uid: 2345, user: 'lina', gid: 2346, group: 'linagroup' } });
  for (const name of ['yard', 'unlinked', 'linked']) mkdirSync(path.join(scratch, name), { recursive: true });
  chownSync(path.join(scratch, 'linked'), 2345, 2346);
  agent = startAgent({ url: m.url, tokenFile: path.join(dir, 'agent.token') }, { name: AGENT, executor });
  await waitFor('the agent to register', async () => (await agents()).some((a) => a.id === AGENT && a.state === 'alive'));
});

test.after.always(async () => {
  await agent?.kill('SIGKILL');
  await m?.stop();
});

const agents = async () => (await api<Page<Agent>>(m.url, 'GET', '/agents', { token: tokens.admin })).body.items;
const taskCount = async () => (await api<Page<TaskSummary>>(m.url, 'GET', '/tasks?all=true&limit=500', { token: tokens.admin })).body.items.length;
const command = (token: string, config: Record<string, unknown>) =>
  api<OrError<Task>>(m.url, 'POST', '/tasks', { token, body: { kind: 'command', config: { image, ...config } } });
const getTask = async (id: number) => (await api<Task>(m.url, 'GET', `/tasks/${id}`, { token: tokens.admin })).body;
const logs = async (id: number) => (await api<TaskLogPage>(m.url, 'GET', `/tasks/${id}/logs?limit=5000`, { token: tokens.admin })).body.items.map((l) => l.line);
const ended = (id: number) =>
  waitFor(`task ${id} to end`, async () => {
    const task = await getTask(id);
    return ['COMPLETED', 'FAILED', 'KILLED', 'LOST'].includes(task.state) ? task : undefined;
  }, 30_000);

function containersOfAgent(): string[] {
  if (!IMAGE) return [];
  return execFileSync('docker', ['ps', '-a', '--filter', `label=trainyard.agent=${AGENT}`, '--format', '{{.ID}}'], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

/** Every name, kind, mode, owner and byte under `dir`: equal snapshots, unchanged directory. */
function snapshot(dir: string): string {
  const hash = createHash('sha256');
  const walk = (at: string) => {
    for (const name of readdirSync(at).sort()) {
      const file = path.join(at, name);
      const stat = lstatSync(file);
      hash.update(`${path.relative(dir, file)} ${stat.mode} ${stat.uid}:${stat.gid} ${stat.size} ${stat.mtimeMs}\n`);
      if (stat.isDirectory()) walk(file);
      else if (stat.isFile()) hash.update(readFileSync(file));
    }
  };
  walk(dir);
  return hash.digest('hex');
}

const mount = (hostPath: string, containerPath: string, allowedRoot: string): RunBindMount => ({
  hostPath,
  containerPath,
  readOnly: false,
  allowedRoot,
  source: 'task',
  rule: 'forged',
});

const FORBIDDEN_PATHS: Array<[string, string]> = [
  ['/', 'floor.host_root'],
  ['/etc', 'policy.system.mounts.available'],
  ['/root', 'policy.system.mounts.available'],
  ['/var/run/docker.sock', 'floor.engine_socket'],
  ['/proc', 'floor.system_path'],
];

/** Everything else a task might ask for to get out, as `[what, config, rule]`; `who` is the one asking. */
const escapes = (who: 'yard' | 'unlinked' | 'linked'): Array<[string, Record<string, unknown>, string]> => {
  const other = who === 'linked' ? 'unlinked' : 'linked';
  return [
    ...FORBIDDEN_PATHS.map(([hostPath, rule]): [string, Record<string, unknown>, string] => [
      `mount ${hostPath}`,
      { bind_mounts: [{ host_path: hostPath, container_path: '/host' }] },
      rule,
    ]),
    [`another user's directory`, { bind_mounts: [{ host_path: path.join(scratch, other), container_path: '/host' }] }, 'policy.system.mounts.available'],
    [`a .. path out of its own`, { bind_mounts: [{ host_path: `${scratch}/${who}/../${other}`, container_path: '/host' }] }, 'policy.system.mounts.available'],
    ['cap_add: SYS_ADMIN', { cap_add: ['SYS_ADMIN'] }, 'floor.capability'],
    ['cap_add: not admitted', { cap_add: ['SYS_NICE'] }, 'policy.system.capabilities.add'],
    ['env LD_PRELOAD', { environment: { LD_PRELOAD: '/tmp/evil.so' } }, 'policy.system.env.deny'],
    ['an image outside the allowlist', { image: 'evil:latest' }, 'policy.system.images.allow'],
    ['more GPUs than max', { resources: { gpus: 2 } }, 'policy.system.resources.max.gpus'],
    // Only an engine says which images it has (the process executor runs any "image").
    ...(IMAGE ? [['a non-local image with pull: never', { image: 'trainyard/not-here:1' }, 'policy.system.images.pull'] as [string, Record<string, unknown>, string]] : []),
  ];
};

test.serial('the escape matrix: the default account, an unlinked and a linked user each get a 403 naming the rule, and nothing starts', async (t) => {
  const before = await taskCount();
  for (const who of ['yard', 'unlinked', 'linked'] as const) {
    for (const [what, config, rule] of escapes(who)) {
      const result = await command(tokens[who], { entrypoint: ['cat', '/host/etc/shadow'], ...config });
      t.is(result.status, 403, `${who}, ${what}: ${JSON.stringify(result.body)}`);
      t.is(result.body.error!.code, 'POLICY_DENIED');
      t.true(result.body.error!.message.includes(rule), `${who}, ${what}: ${result.body.error!.message}`);
      t.is((result.body.error!.details as PolicyDenial).rule, rule, `${who}, ${what}`);
      t.is((result.body.error!.details as PolicyDenial).layer, rule.startsWith('floor.') ? 'floor' : 'system');
    }
  }
  t.is(await taskCount(), before, 'no task was stored');
  t.deepEqual(containersOfAgent(), [], 'no container was created');
  t.deepEqual((await agents()).find((a) => a.id === AGENT)?.runningTasks, []);

  // As a person sees it: one line naming the rule, exit 1.
  const term = new Terminal(m.url);
  const config = path.join(term.home, 'escape.yaml');
  writeFileSync(config, `image: ${image}\nbind_mounts:\n  - {host_path: /etc, container_path: /host}\n`);
  const refused = await term.run(['command', 'run', '-c', config, '--', 'cat', '/host/shadow']);
  t.is(refused.code, 1);
  t.is(refused.stderr.trim(), 'Error: mount of /etc refused: not in policy.system.mounts.available (an admin lists the host directories tasks may mount in master.yaml)');
});

test.serial('an allowed directory cannot be mounted over /etc (it stays byte-identical); mounted elsewhere, the task sees its names', async (t) => {
  const own = path.join(scratch, 'linked');
  writeFileSync(path.join(own, 'hosts'), '127.0.0.1 mine\n');
  writeFileSync(path.join(own, 'passwd'), 'planted:x:0:0::/:/bin/sh\n');
  const before = snapshot(own);
  for (const at of ['/etc', '/etc/', '/etc/passwd', '/etc/group', '/']) {
    const result = await command(tokens.linked, { entrypoint: ['sh', '-c', 'echo x > /etc/hosts'], bind_mounts: [{ host_path: own, container_path: at }] });
    t.is(result.status, 403, at);
    t.is((result.body.error!.details as PolicyDenial).rule, 'floor.identity_files', at);
    t.regex(result.body.error!.message, /floor\.identity_files/);
  }
  t.is(snapshot(own), before, 'the directory is byte-identical');

  const task = await command(tokens.linked, {
    entrypoint: ['sh', '-c', `whoami; id -un; id -gn; grep -c planted /etc/passwd || true; ls ${ELSEWHERE}`],
    bind_mounts: [{ host_path: own, container_path: ELSEWHERE, read_only: true }],
  });
  t.is(task.status, 201, JSON.stringify(task.body));
  const done = await ended(task.body.id);
  t.is(done.state, 'COMPLETED', `${done.message}\n${agent.output()}`);
  t.deepEqual((await logs(task.body.id)).filter((l) => !l.startsWith('[trainyard]')), ['lina', 'lina', 'linagroup', '0', 'hosts', 'passwd']);
  t.is(snapshot(own), before, 'running a task with the mount changed nothing in it either');
});

test.serial('an admitted capability is the only one the task gets (the process executor drops even that, and says so)', async (t) => {
  const created = await command(tokens.yard, { entrypoint: ['sh', '-c', 'grep CapBnd /proc/self/status'], cap_add: ['net_raw'] });
  t.is(created.status, 201, JSON.stringify(created.body));
  t.deepEqual(created.body.runSpec.confinement.capabilities, ['NET_RAW']);
  const done = await ended(created.body.id);
  t.is(done.state, 'COMPLETED', `${done.message}\n${agent.output()}`);
  const lines = await logs(created.body.id);
  if (IMAGE) {
    // CAP_NET_RAW is bit 13: the bounding set holds it and nothing else.
    t.true(lines.some((l) => /^CapBnd:\s+0000000000002000$/.test(l)), lines.join('\n'));
  } else {
    t.true(lines.some((l) => /^CapBnd:\s+0000000000000000$/.test(l)), lines.join('\n'));
    t.true(lines.some((l) => l.includes('the process executor drops every capability: NET_RAW')), lines.join('\n'));
  }
});

test.serial('the agent refuses a spec that breaks the floor even from the master: FAILED with the reason, nothing started', async (t) => {
  await api(m.url, 'PATCH', `/agents/${AGENT}`, { token: tokens.admin, body: { enabled: false } });
  // What a compromised master could hand the agent, written straight into the stored run specs.
  const forged: Array<[string, (spec: RunSpec) => RunSpec]> = [
    ['floor.host_root', (spec) => ({ ...spec, bindMounts: [mount('/', '/host', '/')] })],
    ['floor.engine_socket', (spec) => ({ ...spec, bindMounts: [mount('/var/run/docker.sock', '/var/run/docker.sock', '/var/run')] })],
    ['floor.identity_files', (spec) => ({ ...spec, bindMounts: [mount(path.join(scratch, 'yard'), '/etc', path.join(scratch, 'yard'))] })],
    ['floor.capability', (spec) => ({ ...spec, confinement: { ...spec.confinement, capabilities: ['SYS_ADMIN'] } })],
    ['floor.privileged', (spec) => ({ ...spec, confinement: { ...spec.confinement, privileged: true } })],
    ['floor.host_namespace', (spec) => ({ ...spec, confinement: { ...spec.confinement, hostNamespaces: ['pid'] } })],
    ['floor.device', (spec) => ({ ...spec, confinement: { ...spec.confinement, devices: ['/dev/mem'] } })],
  ];
  const ids: number[] = [];
  for (let i = 0; i < forged.length; i++) {
    const created = await command(tokens.yard, { entrypoint: ['sh', '-c', 'echo ran-marker'] });
    t.is(created.status, 201);
    ids.push(created.body.id);
  }
  const db = m.master.database.db;
  for (const [i, id] of ids.entries()) {
    const row = await db.selectFrom('tasks').select('run_spec').where('id', '=', id).executeTakeFirstOrThrow();
    await db.updateTable('tasks').set({ run_spec: JSON.stringify(forged[i]![1](JSON.parse(row.run_spec) as RunSpec)) }).where('id', '=', id).execute();
  }
  await api(m.url, 'PATCH', `/agents/${AGENT}`, { token: tokens.admin, body: { enabled: true } });
  for (const [i, id] of ids.entries()) {
    const done = await ended(id);
    const rule = forged[i]![0];
    t.is(done.state, 'FAILED', JSON.stringify(done));
    t.regex(done.message ?? '', /^refused by the agent before anything started: /);
    t.true(done.message!.includes(rule), `${rule}: ${done.message!}`);
    t.is(done.startedAt, null, 'never started');
    t.false((await logs(id)).includes('ran-marker'));
  }
  t.deepEqual(containersOfAgent(), [], 'no container was created');
});

test.serial('a symlink out of an allowed directory and a missing host path fail on the agent before start; nothing is created', async (t) => {
  const own = path.join(scratch, 'unlinked');
  symlinkSync('/etc', path.join(own, 'sneaky'));
  const missing = path.join(own, 'not-there');
  const cases: Array<[string, RegExp]> = [
    [path.join(own, 'sneaky'), /is \/etc on this machine: mount of \/etc refused by floor\.allowed_root/],
    [missing, /host path .*not-there does not exist on this machine; a task never creates one/],
  ];
  for (const [hostPath, reason] of cases) {
    const created = await command(tokens.unlinked, { entrypoint: ['sh', '-c', 'echo ran-marker'], bind_mounts: [{ host_path: hostPath, container_path: ELSEWHERE }] });
    t.is(created.status, 201, 'lexically inside the allowed directory: the master admits it');
    const done = await ended(created.body.id);
    t.is(done.state, 'FAILED');
    t.regex(done.message ?? '', reason);
    t.is(done.startedAt, null);
    t.false((await logs(created.body.id)).includes('ran-marker'));
  }
  t.false(existsSync(missing), 'the missing host path was not created');
});

test.serial('an agent token acts only for the agent it registered: another id is 403 for register, heartbeat, poll, ack and report', async (t) => {
  const other = await api<{ token: string }>(m.url, 'POST', '/agent-tokens', { token: tokens.admin, body: { name: 'intruder' } });
  t.is(other.status, 201, JSON.stringify(other.body));
  const intruder = { authorization: `Bearer ${other.body.token}`, 'content-type': 'application/json' };
  const base = `${m.url}/api/v1/agents/${AGENT}`;
  const task = await command(tokens.yard, { entrypoint: ['sh', '-c', 'echo hi; sleep 2'] });
  await waitFor('the task to run', async () => (await getTask(task.body.id)).state === 'RUNNING');
  const lease = '00000000-0000-0000-0000-000000000000';
  const calls: Array<[string, string, unknown]> = [
    ['POST', '/register', { executor: 'process', resources: { cpus: 1, memoryBytes: 1, gpus: [] } }],
    ['POST', '/heartbeat', { running: [] }],
    ['GET', '/work?wait=0', undefined],
    ['POST', `/tasks/${task.body.id}/ack`, { leaseId: lease }],
    ['POST', `/tasks/${task.body.id}/state`, { leaseId: lease, state: 'COMPLETED', exitCode: 0 }],
    ['POST', `/tasks/${task.body.id}/logs`, { leaseId: lease, offset: 0, lines: [{ stream: 'stdout', line: 'forged' }] }],
    ['POST', `/tasks/${task.body.id}/release`, { leaseId: lease, reason: 'forged' }],
  ];
  for (const [method, suffix, body] of calls) {
    const response = await fetch(base + suffix, { method, headers: intruder, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    t.is(response.status, 403, `${method} ${suffix}`);
    t.is(((await response.json()) as { error: { code: string } }).error.code, 'FORBIDDEN');
  }
  // Its own id works; the real agent was not disturbed.
  const own = await fetch(`${m.url}/api/v1/agents/intruder-1/register`, { method: 'POST', headers: intruder, body: JSON.stringify(calls[0]![2]) });
  t.is(own.status, 200);
  const done = await ended(task.body.id);
  t.is(done.state, 'COMPLETED');
  t.is(done.agent, AGENT);
  t.false((await logs(task.body.id)).includes('forged'));
  t.is((await agents()).find((a) => a.id === AGENT)?.state, 'alive');
});
