import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { parseConfig } from '@trainyard/master';
import type { GroupDetail, Task } from '@trainyard/shared';
import { api, loginToken, type OrError } from './helpers/api.js';
import { Terminal } from './helpers/cli.js';
import { FAST_AGENTS, startAgent, tempDir, waitFor, type AgentProcess } from './helpers/cluster.js';
import { startTestMaster, type TestMaster } from './helpers/test-master.js';

// Issue 13: the Unix identity of groups (gid, uid range, shared directory), end to end: the real
// master, the real CLI, a real agent running the busybox test image in Docker; file owners are
// checked on this machine, in the agent's --shared-root.
const IMAGE = process.env.YARD_TEST_IMAGE;
if (!IMAGE) console.error('\n!!! NO CONTAINER ENGINE: group-identity runs its admission checks only (set YARD_TEST_IMAGE to run its tasks in Docker).\n');
const withDocker = IMAGE ? test.serial : test.serial.skip;
const AGENT = 'gidentity-docker';
const GROUP = 'research/vision';
const SHARED = `/shared/${GROUP}`;

let m: TestMaster;
let agent: AgentProcess | undefined;
let dir: string;
let sharedRoot: string;
let admin: Terminal;
const tokens: Record<string, string> = {};
/** Linked users: dave outside the group's range, erin inside it. */
const LINKS = { dave: 1000, erin: 1_000_005_000 };
const USERS = ['alice', 'bob', 'carol', 'dave', 'erin'];

/** The master on `port` (0: any), with this file's database; everyone signs in again. */
async function start(port = 0): Promise<void> {
  m = await startTestMaster(
    {
      listen: { port },
      agents: { ...FAST_AGENTS, lost_timeout: '60s', token_file: path.join(dir, 'agent.token') },
      // The shared root's parent is allowed, so that only the agent's floor stands between a task and the shared root.
      // Pulling allowed: dry runs do not need the image on an agent (none runs without Docker).
      policy: { system: { mounts: { available: [{ host_path: dir }] }, images: { pull: 'if_missing' } } },
      tasks: { images: { command: IMAGE ?? 'busybox:latest' } },
    },
    dir,
  );
  // After a restart on the same port, the first request may meet a pooled connection the old master closed.
  tokens.admin = await waitFor('the master to answer', () => loginToken(m.url, 'admin'));
  for (const name of USERS) {
    if (port === 0) await api(m.url, 'POST', '/users', { token: tokens.admin, body: { username: name, password: 'pw' } });
    tokens[name] = await loginToken(m.url, name, 'pw');
  }
}

test.before(async () => {
  dir = tempDir('yard-gidentity-');
  sharedRoot = path.join(dir, 'shared');
  mkdirSync(sharedRoot);
  await start();
  admin = new Terminal(m.url);
  const yard = (...args: string[]) => admin.json<unknown>(['-u', 'admin', ...args], { env: { YARD_PASSWORD: '' } });
  await yard('group', 'create', 'research');
  await yard('group', 'create', GROUP);
  for (const name of ['alice', 'bob', 'dave', 'erin']) await yard('group', 'add-member', GROUP, name);
  await api(m.url, 'PUT', '/users/dave/agent-user', { token: tokens.admin, body: { uid: LINKS.dave, user: 'dave', gid: 1000, group: 'dave' } });
  await api(m.url, 'PUT', '/users/erin/agent-user', { token: tokens.admin, body: { uid: LINKS.erin, user: 'erin', gid: 2000, group: 'erin' } });
  if (IMAGE) startTheAgent();
});

function startTheAgent(): void {
  agent = startAgent({ url: m.url, tokenFile: path.join(dir, 'agent.token') }, { name: AGENT, executor: 'docker', env: { YARD_AGENT_SHARED_ROOT: sharedRoot } });
}

test.after.always(async () => {
  await agent?.kill('SIGKILL');
  await m?.stop();
  if (IMAGE) {
    const left = execFileSync('docker', ['ps', '-aq', '--filter', `label=trainyard.agent=${AGENT}`], { encoding: 'utf8' }).split('\n').filter(Boolean);
    if (left.length > 0) execFileSync('docker', ['rm', '-f', ...left]);
  }
});

const create = (who: string, entrypoint: string[], extra: Record<string, unknown> = {}) =>
  api<OrError<Task>>(m.url, 'POST', '/tasks', { token: tokens[who]!, body: { kind: 'command', config: { image: IMAGE ?? 'busybox:latest', entrypoint }, ...extra } });
const inGroup = { group: GROUP };
const ended = (id: number) =>
  waitFor(`task ${id} to end`, async () => {
    const task = (await api<Task>(m.url, 'GET', `/tasks/${id}`, { token: tokens.admin })).body;
    return ['COMPLETED', 'FAILED', 'KILLED', 'LOST'].includes(task.state) ? task : undefined;
  }, 60_000);
const logs = async (id: number) =>
  (await api<{ items: Array<{ line: string }> }>(m.url, 'GET', `/tasks/${id}/logs?limit=5000`, { token: tokens.admin })).body.items.map((l) => l.line);
/** Runs a task to its end and gives its output lines; it must complete. */
async function run(t: { is: (a: unknown, b: unknown, m?: string) => void }, who: string, script: string, extra: Record<string, unknown> = {}) {
  const created = await create(who, ['sh', '-c', script], extra);
  t.is(created.status, 201, JSON.stringify(created.body));
  const task = await ended(created.body.id);
  const lines = await logs(task.id);
  t.is(task.state, 'COMPLETED', `${who}'s task: ${task.message ?? ''}\n${lines.join('\n')}`);
  return { task, lines };
}
/** What `whoami; id -un; id -gn; id -Gn; echo $HOME; write to HOME` print, as one object. */
const IDENTITY_SCRIPT = 'echo "whoami=$(whoami) un=$(id -un) gn=$(id -gn) Gn=$(id -Gn) home=$HOME"; echo ok > "$HOME/probe" && echo "home-write=$(cat "$HOME/probe")"';
const identityLine = (lines: string[]) => lines.find((l) => l.startsWith('whoami='));

test.serial('security.uid_ranges: a base below 65536 or holding default_task\'s uid is refused, saying why', (t) => {
  const low = t.throws(() => parseConfig({ security: { uid_ranges: { base: 1000, size: 10 } } }));
  t.regex(low!.message, /uid_ranges\.base.*65536.*machines' own accounts/s);
  const over = t.throws(() => parseConfig({ security: { default_task: { user: 'u', uid: 2_000_000_000, group: 'g', gid: 100 }, uid_ranges: { base: 1_000_000_000, size: 10_000 } } }));
  t.regex(over!.message, /default_task's uid 2000000000/);
  t.deepEqual(parseConfig({}).security.uid_ranges, { base: 1_000_000_000, size: 10_000 });
});

test.serial('yard group set gives the group a gid, an automatic uid range and a shared directory; show prints them', async (t) => {
  const set = await admin.json<GroupDetail>(['-u', 'admin', 'group', 'set', GROUP, '--gid', '5001', '--uid-range', 'auto', '--shared-dir', 'on'], { env: { YARD_PASSWORD: '' } });
  t.like(set, { gid: 5001, unixGroup: 'research-vision', uidRange: { start: 1_000_000_000, size: 10_000 }, sharedDir: true });
  const shown = await admin.run(['-u', 'admin', 'group', 'show', GROUP], { env: { YARD_PASSWORD: '' } });
  t.regex(shown.stdout, /Unix group:\s+research-vision \(gid 5001\)/);
  t.regex(shown.stdout, /Uid range:\s+1000000000\/10000 \(1000000000-1000009999\)/);
  t.regex(shown.stdout, /Shared dir:\s+on/);
  // Not for everyone, and no gid twice.
  const denied = await api(m.url, 'PATCH', `/groups/${encodeURIComponent(GROUP)}/unix`, { token: tokens.alice, body: { sharedDir: false } });
  t.is(denied.status, 403);
  await admin.json(['-u', 'admin', 'group', 'create', 'other'], { env: { YARD_PASSWORD: '' } });
  const taken = await admin.run(['-u', 'admin', 'group', 'set', 'other', '--gid', '5001'], { env: { YARD_PASSWORD: '' } });
  t.is(taken.code, 1);
  t.is(taken.stderr.trim(), 'Error: gid 5001 is already the gid of group research/vision');
  for (const body of [{}, { gid: 0 }, { gid: -1 }, { gid: 'x' }, { unixGroup: 'bad name' }, { uidRange: { start: 0, size: 10 } }, { uidRange: { start: 5, size: 0 } }, { uidRange: 'next' }, { sharedDir: 'yes' }, { shell: '/bin/sh' }]) {
    const bad = await api(m.url, 'PATCH', '/groups/other/unix', { token: tokens.admin, body });
    t.is(bad.status, 400, JSON.stringify(body));
    t.is(bad.body.error.code, 'INVALID_INPUT', JSON.stringify(body));
  }
  const noGid = await api(m.url, 'PATCH', '/groups/other/unix', { token: tokens.admin, body: { uidRange: 'auto' } });
  t.is(noGid.status, 400);
  t.regex(noGid.body.error.message, /needs a gid/);
  const audit = await admin.json<{ items: Array<{ action: string; target: string }> }>(['-u', 'admin', 'audit', 'list'], { env: { YARD_PASSWORD: '' } });
  t.true(audit.items.some((e) => e.action === 'group.unix.set' && e.target === GROUP));
});

test.serial('two groups\' ranges never overlap, including after one is deleted and another created; an explicit range may not touch a used one', async (t) => {
  const yard = (...args: string[]) => admin.json<GroupDetail>(['-u', 'admin', ...args], { env: { YARD_PASSWORD: '' } });
  const ml = await yard('group', 'set', 'other', '--gid', '5002', '--uid-range', 'auto');
  t.deepEqual(ml.uidRange, { start: 1_000_010_000, size: 10_000 });
  await yard('group', 'delete', 'other');
  await yard('group', 'create', 'nlp');
  const nlp = await yard('group', 'set', 'nlp', '--gid', '5002', '--uid-range', 'auto');
  t.deepEqual(nlp.uidRange, { start: 1_000_020_000, size: 10_000 }, "the deleted group's range is not handed out again");
  await yard('group', 'create', 'speech');
  const reuse = await admin.run(['-u', 'admin', 'group', 'set', 'speech', '--gid', '5003', '--uid-range', '1000015000/100'], { env: { YARD_PASSWORD: '' } });
  t.is(reuse.code, 1);
  t.regex(reuse.stderr, /uid range 1000015000\/100 .* overlaps 1000010000\/10000 .*handed out to other/);
  const changed = await admin.run(['-u', 'admin', 'group', 'set', 'nlp', '--uid-range', 'auto'], { env: { YARD_PASSWORD: '' } });
  t.is(changed.code, 1);
  t.regex(changed.stderr, /already has the uid range 1000020000\/10000/);
  const explicit = await yard('group', 'set', 'speech', '--gid', '5003', '--uid-range', '2000000000/500');
  t.deepEqual(explicit.uidRange, { start: 2_000_000_000, size: 500 });
});

test.serial("a uid a group's range gave one member cannot be linked to anyone else (409 naming the uid, its owner and the group); the range skips linked uids", async (t) => {
  const yard = (...args: string[]) => admin.run(['-u', 'admin', ...args], { env: { YARD_PASSWORD: '' }, input: 'pw\n' });
  const must = async (...args: string[]) => {
    const result = await yard(...args);
    if (result.code !== 0) throw new Error(`yard ${args.join(' ')}: ${result.stderr}`);
    return result;
  };
  // A group of its own, so that the uids the other tests expect stay as they are.
  await must('group', 'create', 'linkcheck');
  const group = JSON.parse((await must('group', 'set', 'linkcheck', '--gid', '5010', '--uid-range', 'auto', '--json')).stdout) as GroupDetail;
  const start = group.uidRange!.start;
  for (const name of ['frank', 'gina', 'hank']) {
    await must('user', 'create', name, '--password-stdin');
    await must('group', 'add-member', 'linkcheck', name);
  }
  const planAs = async (who: string) => {
    const person = new Terminal(m.url);
    return person.json<{ runSpec: Task['runSpec'] }>(['-u', who, 'command', 'run', '--dry-run', '--group', 'linkcheck', '--', 'true'], { env: { YARD_PASSWORD: 'pw' } });
  };
  t.is((await planAs('frank')).runSpec.runAs.uid, start, "frank's uid from the range");

  const link = (who: string, uid: number) => yard('user', 'link-with-agent-user', who, '--agent-uid', String(uid), '--agent-user', who, '--agent-gid', '5010', '--agent-group', 'linkcheck');
  const refused = await link('gina', start);
  t.is(refused.code, 1);
  t.is(
    refused.stderr.trim(),
    `Error: uid ${start} is frank's: the uid range of group linkcheck gave it to them, and gina's tasks would run as frank; link gina to another uid`,
  );
  t.is((await api(m.url, 'GET', '/users/gina', { token: tokens.admin })).body.agentUser, null, 'gina stays unlinked');
  const api409 = await api(m.url, 'PUT', '/users/gina/agent-user', { token: tokens.admin, body: { uid: start, user: 'gina', gid: 5010, group: 'linkcheck' } });
  t.is(api409.status, 409);
  t.is(api409.body.error.code, 'UNIX_ID_TAKEN');
  // The owner may be linked to their own uid.
  t.is((await link('frank', start)).code, 0);
  await must('user', 'unlink-agent-user', 'frank');

  // The other order: a uid linked first is skipped when the range gives the next member theirs.
  t.is((await link('gina', start + 1)).code, 0);
  t.is((await planAs('gina')).runSpec.runAs.uid, start + 1);
  t.is((await planAs('hank')).runSpec.runAs.uid, start + 2, 'the range skipped the uid linked to gina');
  t.is((await link('frank', start + 2)).code, 1, "and hank's uid is his");
});

test.serial('a linked user whose uid lies outside the range is refused with the uid and the range; the dry run shows where each field comes from', async (t) => {
  const refused = await create('dave', ['true'], inGroup);
  t.is(refused.status, 403);
  t.is(refused.body.error!.code, 'POLICY_DENIED');
  t.is(
    refused.body.error!.message,
    'uid 1000 of dave is outside the uid range of group research/vision: required min 1000000000 max 1000009999 (link dave to a uid in the range, or run outside the group)',
  );
  t.like(refused.body.error!.details, { rule: 'group.uid_range', layer: 'group' });

  const erin = new Terminal(m.url);
  const plan = await erin.run(['-u', 'erin', 'command', 'run', '--dry-run', '--group', GROUP, '--', 'true'], { env: { YARD_PASSWORD: 'pw' } });
  t.is(plan.code, 0, plan.stderr);
  t.regex(plan.stdout, /Runs as:\s+erin:erin \(1000005000:2000\)/);
  t.regex(plan.stdout, /Identity from:\s+the agent-user link/);
  t.regex(plan.stdout, /Groups:\s+research-vision \(5001\) \[from the task's group\]/);
  t.regex(plan.stdout, /Shared dirs:\s+<shared_root>\/research\/vision -> \/shared\/research\/vision/);
  const alice = new Terminal(m.url);
  const alicePlan = await alice.json<{ runSpec: Task['runSpec'] }>(['-u', 'alice', 'command', 'run', '--dry-run', '--group', GROUP, '--', 'true'], { env: { YARD_PASSWORD: 'pw' } });
  t.like(alicePlan.runSpec.runAs, { uid: 1_000_000_000, user: 'alice', gid: 5001, group: 'research-vision' });
  t.deepEqual(alicePlan.runSpec.identitySources, { uid: 'group', user: 'group', gid: 'group', group: 'group', supplementaryGroups: 'group' });
});

withDocker('alice writes the shared file, bob appends to it: owned by alice\'s uid, group 5001, group-writable; the directory is root:5001 2770; names and HOME work', async (t) => {
  const a = await run(t, 'alice', `${IDENTITY_SCRIPT}; echo from-alice > ${SHARED}/a.txt`, inGroup);
  const aliceUid = a.task.runSpec.runAs.uid;
  t.is(aliceUid, 1_000_000_000);
  t.is(identityLine(a.lines), 'whoami=alice un=alice gn=research-vision Gn=research-vision home=/home/alice');
  t.true(a.lines.includes('home-write=ok'));

  const b = await run(t, 'bob', `${IDENTITY_SCRIPT}; echo from-bob >> ${SHARED}/a.txt`, inGroup);
  t.is(b.task.runSpec.runAs.uid, 1_000_000_001);
  t.is(identityLine(b.lines), 'whoami=bob un=bob gn=research-vision Gn=research-vision home=/home/bob');

  const hostDir = path.join(sharedRoot, GROUP);
  const dirStat = statSync(hostDir);
  t.is(dirStat.uid, 0);
  t.is(dirStat.gid, 5001);
  t.is(dirStat.mode & 0o7777, 0o2770);
  const file = path.join(hostDir, 'a.txt');
  const fileStat = statSync(file);
  t.is(fileStat.uid, aliceUid);
  t.is(fileStat.gid, 5001);
  t.truthy(fileStat.mode & 0o020, 'group-writable');
  t.is(readFileSync(file, 'utf8'), 'from-alice\nfrom-bob\n');
});

withDocker('a linked user inside the range runs as their uid, with the group\'s gid named; names and HOME work', async (t) => {
  const e = await run(t, 'erin', `${IDENTITY_SCRIPT}; id -u; touch ${SHARED}/erin.txt`, inGroup);
  t.is(identityLine(e.lines), 'whoami=erin un=erin gn=erin Gn=erin research-vision home=/home/erin');
  t.true(e.lines.includes(String(LINKS.erin)));
  t.is(statSync(path.join(sharedRoot, GROUP, 'erin.txt')).uid, LINKS.erin);
});

withDocker('carol, not a member, cannot create a task in the group, her own tasks have no such mount, and she cannot bind-mount the host path', async (t) => {
  const inside = await create('carol', ['true'], inGroup);
  t.is(inside.status, 403);
  t.regex(inside.body.error!.message, /carol/);
  const own = await run(t, 'carol', `${IDENTITY_SCRIPT}; test -e /shared && echo has-shared || echo no-shared`);
  t.true(own.lines.includes('no-shared'));
  t.is(own.task.runSpec.sharedDirs, undefined);
  t.is(identityLine(own.lines), 'whoami=root un=root gn=root Gn=root home=/root');

  // The policy allows the shared root's parent: the agent's floor refuses it all the same.
  for (const hostPath of [path.join(sharedRoot, GROUP), sharedRoot, dir]) {
    const mounted = await api<Task>(m.url, 'POST', '/tasks', {
      token: tokens.carol,
      body: { kind: 'command', config: { image: IMAGE, entrypoint: ['cat', '/data/a.txt'], bind_mounts: [{ host_path: hostPath, container_path: '/data' }] } },
    });
    t.is(mounted.status, 201, JSON.stringify(mounted.body));
    const task = await ended(mounted.body.id);
    t.is(task.state, 'FAILED');
    t.regex(task.message ?? '', /floor\.shared_root/, hostPath);
  }
});

withDocker("alice's uid is the same after a master restart and in a second group task", async (t) => {
  const port = Number(new URL(m.url).port);
  await m.stop();
  await start(port);
  const again = await run(t, 'alice', IDENTITY_SCRIPT, inGroup);
  t.is(again.task.runSpec.runAs.uid, 1_000_000_000);
  const shown = await admin.json<GroupDetail>(['-u', 'admin', 'group', 'show', GROUP], { env: { YARD_PASSWORD: '' } });
  t.deepEqual(shown.allocatedUids, [
    { username: 'alice', uid: 1_000_000_000 },
    { username: 'bob', uid: 1_000_000_001 },
  ]);
});

test.serial('removing a member stops the mount and the gid from their next task on; the files stay', async (t) => {
  const plan = (who: string) =>
    api<{ runSpec: Task['runSpec'] }>(m.url, 'POST', '/tasks/dry-run', { token: tokens[who]!, body: { kind: 'command', config: { entrypoint: ['true'] } } });
  t.deepEqual((await plan('bob')).body.runSpec.sharedDirs, [{ group: GROUP, gid: 5001, containerPath: SHARED }]);
  await admin.run(['-u', 'admin', 'group', 'remove-member', GROUP, 'bob'], { env: { YARD_PASSWORD: '' } });
  const after = (await plan('bob')).body.runSpec;
  t.is(after.sharedDirs, undefined);
  t.deepEqual(after.runAs.supplementaryGroups, []);
  t.is((await create('bob', ['true'], inGroup)).status, 403);
  if (IMAGE) t.is(readFileSync(path.join(sharedRoot, GROUP, 'a.txt'), 'utf8'), 'from-alice\nfrom-bob\n');
});

test.serial('a task that mounts a shared directory waits for an agent with a --shared-root (NO_AGENT_FITS); others run on one without', async (t) => {
  await agent?.kill('SIGKILL');
  agent = undefined;
  const plain = startAgent({ url: m.url, tokenFile: path.join(dir, 'agent.token') }, { name: 'gidentity-plain', executor: 'process' });
  t.teardown(() => plain.kill('SIGKILL'));
  const shared = await create('alice', ['true'], inGroup);
  t.is(shared.status, 201, JSON.stringify(shared.body));
  t.true((shared.body.runSpec.sharedDirs ?? []).length > 0);
  // carol's task (no shared directory) runs on the plain agent: it polls, and passes alice's over.
  const other = await create('carol', ['true']);
  t.is((await ended(other.body.id)).state, 'COMPLETED', plain.output());
  const waiting = await waitFor('alice\'s task to wait with a reason', async () => {
    const task = (await api<Task>(m.url, 'GET', `/tasks/${shared.body.id}`, { token: tokens.admin })).body;
    return task.pendingReason === 'NO_AGENT_FITS' ? task : undefined;
  });
  t.is(waiting.state, 'QUEUED');
  t.is((await api<Task>(m.url, 'POST', `/tasks/${shared.body.id}/kill`, { token: tokens.alice! })).status, 200);
  await plain.kill('SIGKILL');
  if (IMAGE) startTheAgent();
});

withDocker('turning shared_dir off: the next task has no mount; the files are still on the host', async (t) => {
  await admin.json(['-u', 'admin', 'group', 'set', GROUP, '--shared-dir', 'off'], { env: { YARD_PASSWORD: '' } });
  const next = await run(t, 'alice', `test -e ${SHARED} && echo mounted || echo not-mounted`, inGroup);
  t.true(next.lines.includes('not-mounted'));
  t.is(next.task.runSpec.sharedDirs, undefined);
  t.true(existsSync(path.join(sharedRoot, GROUP, 'a.txt')));
  t.is(readFileSync(path.join(sharedRoot, GROUP, 'a.txt'), 'utf8'), 'from-alice\nfrom-bob\n');
});
