import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import type { AuditEntry, ImageList, ImageOperation, Page, Task, TaskTimelineEntry } from '@trainyard/shared';
import { api, loginToken } from './helpers/api.js';
import { haveChromium, launchBrowser } from './helpers/browser.js';
import { eachHelp, ROOT, runProcess, Terminal } from './helpers/cli.js';
import { FAST_AGENTS, startAgent, tempDir, waitFor, type AgentProcess } from './helpers/cluster.js';
import { BINDFS_BIN, REGISTRY_BIN, startRegistry, type TestRegistry } from './helpers/registry.js';
import { startTestMaster, type TestMaster } from './helpers/test-master.js';

/**
 * Images on the agents (issue 27), as people use them: `yard image list`, `pull` from a real
 * registry on 127.0.0.1 (Debian's docker-registry) into a real Docker engine, `load` of a real
 * `docker save` tarball streamed through the master, `rm`, each under the policy; and the agent's
 * mount probing, with a missing host path and a FUSE mount (bindfs) stopped so that it hangs.
 */
const IMAGE = process.env.YARD_TEST_IMAGE;
const BINDFS = BINDFS_BIN;
const docker = IMAGE !== undefined;
if (!docker) console.error('\n!!! NO CONTAINER ENGINE: the image tests that need Docker (list, pull, load, rm) will NOT run; the process executor parts and mount probing will.\n');
if (docker && !REGISTRY_BIN) console.error('\n!!! NO REGISTRY (docker-registry): `yard image pull` from a registry will NOT be tested (bash scripts/image-tools.sh installs it).\n');
if (!BINDFS) console.error('\n!!! NO BINDFS: the hung-mount test will NOT run (bash scripts/image-tools.sh installs it).\n');

const suffix = Date.now().toString(36);
const DOCKER_AGENT = `img-docker-${suffix}`;
const SMALL_AGENT = `img-small-${suffix}`;
const PROCESS_AGENT = `img-proc-${suffix}`;
/** Names of this run's loaded images: under alice's prefix (and one under bob's, which she may not load). */
const MINE = `user/alice/t-${suffix}:1`;
const NOT_MINE = `user/bob/t-${suffix}:1`;
const ALICE = { uid: 23456, gid: 23457 };

let m: TestMaster;
let dir = '';
let data = '';
let registry: TestRegistry | undefined;
let pulled = '';
/** A second image in the registry, for the web page's pull. */
let webPulled = '';
const agents: AgentProcess[] = [];
const workDirs: Record<string, string> = {};
const tokens: Record<string, string> = {};
const terms: Record<string, Terminal> = {};
/** Docker images this test made, removed at its end. */
const made = new Set<string>();

test.before(async () => {
  dir = tempDir('yard-images-');
  data = path.join(dir, 'data');
  m = await startTestMaster(
    {
      // Nothing here tests a lost agent: one streaming a tarball on a loaded machine may be late with a heartbeat.
      agents: { ...FAST_AGENTS, lost_timeout: '30s', token_file: path.join(dir, 'agent.token'), mount_probe_timeout: '30s' },
      images: { load_limit: '4MiB' },
      pools: { default: { manager: 'agents' }, small: { manager: 'agents' }, proc: { manager: 'agents' } },
      policy: {
        system: {
          images: { allow: ['trainyard/busybox:.*', '127\\.0\\.0\\.1:[0-9]+/team/.*', 'user/{user}/.*'] },
          mounts: { available: [{ host_path: `${data}/{user}` }] },
        },
        // Only alice may ask for pulls; the system's images.user_pull stays at its default, deny.
        users: { alice: { images: { user_pull: 'allow' } } },
      },
    },
    dir,
  );
  tokens.admin = await loginToken(m.url, 'admin');
  for (const name of ['alice', 'bob']) {
    await api(m.url, 'POST', '/users', { token: tokens.admin, body: { username: name, password: 'pw' } });
    tokens[name] = await loginToken(m.url, name, 'pw');
    mkdirSync(path.join(data, name), { recursive: true });
  }
  await api(m.url, 'PUT', '/users/alice/agent-user', { token: tokens.admin, body: { uid: ALICE.uid, user: 'alice', gid: ALICE.gid, group: 'alice' } });
  const master = { url: m.url, tokenFile: path.join(dir, 'agent.token') };
  const start = (name: string, executor: 'docker' | 'process', pool: string, args: string[] = []) => {
    workDirs[name] = path.join(dir, `work-${name}`);
    mkdirSync(workDirs[name]!, { recursive: true });
    agents.push(startAgent(master, { name, executor, pool, workDir: workDirs[name], args }));
  };
  // The mount probe's timeout is the agent's own here (it wins over master.yaml's 30s).
  start(docker ? DOCKER_AGENT : PROCESS_AGENT.replace('proc', 'main'), docker ? 'docker' : 'process', 'default', ['--mount-probe-timeout', '2s']);
  start(PROCESS_AGENT, 'process', 'proc');
  if (docker) start(SMALL_AGENT, 'docker', 'small', ['--image-load-limit', '1MiB']);
  await waitFor('the agents to register', async () => {
    const list = (await api<Page<{ id: string; state: string }>>(m.url, 'GET', '/agents', { token: tokens.admin })).body.items;
    return list.filter((a) => a.state === 'alive').length === agents.length;
  }, 30_000);
  for (const name of ['admin', 'alice', 'bob']) {
    terms[name] = new Terminal(m.url);
    const login = await terms[name]!.run(['user', 'login', name, '--password-stdin'], { input: name === 'admin' ? '\n' : 'pw\n' });
    if (login.code !== 0) throw new Error(login.stderr);
  }
  if (docker && REGISTRY_BIN) {
    // A real registry holding an image no engine here has: `yard image pull` must really fetch its layer.
    registry = await startRegistry(dir);
    pulled = `${registry.host}/team/tool:1`;
    webPulled = `${registry.host}/team/web:1`;
    for (const [name, marker] of [[pulled, `pulled ${suffix}`], [webPulled, `web ${suffix}`]] as const) {
      importImage(name, marker);
      execFileSync('docker', ['push', name], { stdio: 'ignore', timeout: 120_000 });
      execFileSync('docker', ['rmi', name], { stdio: 'ignore' });
    }
  }
});

test.after.always(async () => {
  for (const agent of agents) await agent.kill('SIGKILL');
  await registry?.stop();
  await m?.stop();
  for (const image of made) {
    try {
      execFileSync('docker', ['rmi', '-f', image], { stdio: 'ignore' });
    } catch {
      // Not there (removed by the test itself).
    }
  }
});

const yard = (user: string, args: string[], input?: Buffer) => terms[user]!.run(args, { timeoutMs: 180_000, ...(input ? { input } : {}) });

/**
 * A small image of its own (busybox plus a marker file, so its layer is new to every engine and
 * registry), imported since nothing can be pulled here; its config says USER 4321.
 */
function importImage(name: string, marker: string): void {
  const root = path.join(dir, `rootfs-${made.size}`);
  execFileSync('bash', [path.join(ROOT, 'scripts', 'busybox-rootfs.sh'), root]);
  writeFileSync(path.join(root, 'marker'), `${marker}\n`);
  execFileSync('bash', ['-c', `tar -C "${root}" -c . | docker import -c 'USER 4321' -c 'CMD ["/bin/sh"]' - "${name}"`], { stdio: 'ignore' });
  made.add(name);
}

/** `docker save NAME | gzip` to a file, and the image removed from the engine: only `yard image load` may bring it back. */
function savedTarball(name: string, marker: string): string {
  importImage(name, marker);
  const file = path.join(dir, `${name.replace(/[/:]/g, '_')}.tar.gz`);
  execFileSync('bash', ['-c', `docker save "${name}" | gzip > "${file}"`]);
  execFileSync('docker', ['rmi', name], { stdio: 'ignore' });
  return file;
}

const onEngine = (name: string) => {
  try {
    execFileSync('docker', ['image', 'inspect', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
const spooled = (agent: string) => {
  const spool = path.join(workDirs[agent]!, 'image-loads');
  return existsSync(spool) ? readdirSync(spool) : [];
};
/** A followed task's own lines: without yard's `Created ...` and the agent's `[trainyard] ...` notices. */
const output = (stdout: string) => stdout.split('\n').filter((l) => l && !l.startsWith('[trainyard]') && !l.startsWith('Created'));
const list = async (user: string, query = '') => (await api<ImageList>(m.url, 'GET', `/images${query}`, { token: tokens[user] })).body;
const getTask = async (id: number) => (await api<Task>(m.url, 'GET', `/tasks/${id}`, { token: tokens.admin })).body;
const ended = (id: number) =>
  waitFor(`task ${id} to end`, async () => {
    const task = await getTask(id);
    return ['COMPLETED', 'FAILED', 'KILLED', 'LOST'].includes(task.state) ? task : undefined;
  }, 90_000);
const statesOf = async (id: number) =>
  (await api<{ items: TaskTimelineEntry[] }>(m.url, 'GET', `/tasks/${id}/timeline`, { token: tokens.admin })).body.items.filter((e) => e.event === 'state').map((e) => e.state);
const submit = async (user: string, config: Record<string, unknown>) => {
  const created = await api<Task>(m.url, 'POST', '/tasks', { token: tokens[user], body: { kind: 'command', config } });
  if (created.status !== 201) throw new Error(JSON.stringify(created.body));
  return created.body;
};

test('every image command has --help with an example; the agent documents its mount probe timeout', async (t) => {
  await eachHelp([['image', 'list'], ['image', 'pull'], ['image', 'load'], ['image', 'rm']], (name, help) => {
    t.is(help.code, 0, name);
    t.regex(help.stdout, /EXAMPLES[\s\S]*\$ yard image /, `${name} has an example`);
  });
  const agentHelp = await runProcess(process.execPath, [path.join(ROOT, 'packages', 'agent', 'bin', 'yard-agent.js'), '--help']);
  t.regex(agentHelp.stdout, /--mount-probe-timeout DURATION/);
  t.regex(readFileSync(path.join(ROOT, 'master.yaml'), 'utf8'), /mount_probe_timeout: 10s/);
});

test('the process executor has no images: its agents show none, and pulls and loads to its pool are refused naming why', async (t) => {
  const listed = await yard('alice', ['image', 'list', '--pool', 'proc']);
  t.is(listed.code, 0, listed.stderr);
  t.regex(listed.stderr, new RegExp(`note: agent ${PROCESS_AGENT} runs tasks with the process executor, which runs no images`));
  const json = await terms.alice!.json<ImageList>(['image', 'list', '--pool', 'proc']);
  t.deepEqual(json.items, []);
  t.deepEqual(json.agentsWithoutImages.map((a) => a.agent), [PROCESS_AGENT]);

  const pull = await yard('alice', ['image', 'pull', 'trainyard/busybox:test', '--pool', 'proc']);
  t.is(pull.code, 1);
  t.regex(pull.stderr, new RegExp(`Error: cannot pull images on pool proc: agent ${PROCESS_AGENT} runs tasks with the process executor`));
  const tarball = path.join(dir, 'any.tar');
  writeFileSync(tarball, Buffer.alloc(10_240));
  const load = await yard('alice', ['image', 'load', tarball, '--agent', PROCESS_AGENT]);
  t.is(load.code, 1);
  t.regex(load.stderr, new RegExp(`Error: cannot load images on agent ${PROCESS_AGENT}: agent ${PROCESS_AGENT} runs tasks with the process executor`));
});

test('pulling is refused by images.user_pull for a user whose policy forbids it, and an image outside images.allow is refused; both name the rule and layer', async (t) => {
  const bob = await yard('bob', ['image', 'pull', '127.0.0.1:5000/team/tool:1']);
  t.is(bob.code, 1);
  t.regex(bob.stderr, /Error: pulling images refused by policy\.system\.images\.user_pull \(deny\): bob may not ask the agents to pull/);
  const asJson = await yard('bob', ['image', 'pull', '127.0.0.1:5000/team/tool:1', '--json']);
  t.is(JSON.parse(asJson.stdout).error.code, 'POLICY_DENIED');
  const raw = await api(m.url, 'POST', '/images/pull', { token: tokens.bob, body: { image: 'team/tool:1' } });
  t.is(raw.status, 403);
  t.deepEqual(raw.body.error.details, { rule: 'policy.system.images.user_pull', layer: 'system' });

  const evil = await yard('alice', ['image', 'pull', 'evil/thing:1']);
  t.is(evil.code, 1);
  t.regex(evil.stderr, /Error: image evil\/thing:1 refused by policy\.system\.images\.allow: it matches none of/);
  const bad = await yard('alice', ['image', 'pull', 'Not An Image']);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /is not an image reference/);
});

if (docker) {
  test.serial('yard image list shows the test images and which agents hold them; --json parses; filters by glob, pool and agent', async (t) => {
    const table = await yard('alice', ['image', 'list']);
    t.is(table.code, 0, table.stderr);
    t.regex(table.stdout, /^REPOSITORY\s+TAG\s+IMAGE ID\s+SIZE\s+CREATED\s+AGENTS\s+POOLS\s+ALLOWED/);
    const row = table.stdout.split('\n').find((line) => /^trainyard\/busybox\s+test\s/.test(line));
    t.truthy(row, table.stdout);
    t.regex(row!, new RegExp(`${DOCKER_AGENT}`));
    t.regex(row!, /\syes$/);
    const json = await terms.alice!.json<ImageList>(['image', 'list']);
    const busybox = json.items.find((i) => i.reference === 'trainyard/busybox:test')!;
    t.truthy(busybox);
    t.true(busybox.agents.some((a) => a.agent === DOCKER_AGENT && a.pool === 'default'));
    t.regex(busybox.id, /^sha256:[0-9a-f]{64}$/);
    t.true(busybox.size > 0);
    t.true(busybox.allowed);
    // An image the engine has that alice's policy does not admit is listed, marked so.
    const other = json.items.find((i) => i.reference !== null && !/^(trainyard\/busybox|127\.0\.0\.1|user\/alice)/.test(i.reference));
    if (other) t.false(other.allowed, other.reference!);
    t.deepEqual(json.caller, { pull: { allowed: true, reason: null }, load: ['user/alice/.+'] });
    t.is((await list('bob')).caller.pull.allowed, false);

    const names = await yard('alice', ['image', 'list', 'trainyard/bus*', '-o', 'name']);
    t.is(names.stdout.trim(), 'trainyard/busybox:test');
    const byAgent = await terms.alice!.json<ImageList>(['image', 'list', '--agent', SMALL_AGENT]);
    t.true(byAgent.items.every((i) => i.agents.every((a) => a.agent === SMALL_AGENT)));
    t.true(byAgent.items.length > 0);
    const csv = await yard('alice', ['image', 'list', 'trainyard/busybox', '-o', 'csv']);
    // Every column, wide ones too, with machine values (the whole id, bytes, ISO times).
    t.regex(csv.stdout, /^REPOSITORY,TAG,IMAGE ID,SIZE,CREATED,AGENTS,POOLS,ALLOWED,LOADED BY,DIGESTS\ntrainyard\/busybox,test,sha256:[0-9a-f]{64},\d+,\d{4}-\d\d-\d\dT[\d:.]+Z,"[^"]*\bimg-docker-[^"]*","[^"]*\bdefault\b[^"]*",true,,/);
    const yaml = await yard('alice', ['image', 'list', 'trainyard/busybox', '-o', 'yaml', '--fields', 'reference,allowed']);
    t.regex(yaml.stdout, /items:\n {2}- reference: trainyard\/busybox:test\n {4}allowed: true/);
  });

  if (REGISTRY_BIN) {
    test.serial('alice pulls 127.0.0.1:PORT/team/tool:1 from the local registry onto the agents, following each, and runs a task with it', async (t) => {
      t.false(onEngine(pulled), 'the engine does not have it before the pull');
      const pull = await yard('alice', ['image', 'pull', pulled, '--json']);
      t.is(pull.code, 0, pull.stderr + pull.stdout);
      t.regex(pull.stderr, new RegExp(`^Pulling ${pulled.replace(/[.]/g, '\\.')} on 1 agent of pool default \\(operation [0-9a-f]{16}\\)`, 'm'));
      // Each agent's progress as Docker reports it: its layers (one, new to this engine) and their bytes.
      t.regex(pull.stderr, new RegExp(`^${DOCKER_AGENT}: done: pulled ${pulled.replace(/[.]/g, '\\.')} \\(1 layer pulled \\([0-9.]+[kM]B\\)\\)$`, 'm'));
      const operation = JSON.parse(pull.stdout) as ImageOperation;
      t.deepEqual(
        operation.agents.map((a) => [a.agent, a.state]),
        [[DOCKER_AGENT, 'done']],
      );
      const [layer] = operation.agents[0]!.layers;
      t.is(layer?.status, 'Pull complete');
      t.true((layer?.total ?? 0) > 1_000_000, 'busybox, as its registry sent it');
      t.regex(operation.agents[0]!.imageId!, /^sha256:/);
      t.true(onEngine(pulled));
      // The agent that pulled says so at once; the other one on the same engine at its next heartbeat.
      const holders = async () =>
        (await list('alice', `?name=${encodeURIComponent('127.0.0.1:*/team/*')}`)).items.map((i): [string | null, string[]] => [i.reference, i.agents.map((a) => a.agent).sort()]);
      t.true((await holders()).some(([reference, agents]) => reference === pulled && agents.includes(DOCKER_AGENT)));
      await waitFor('the small agent to report the pulled image', async () => (await holders()).some(([, agents]) => agents.length === 2), 30_000);
      t.deepEqual(await holders(), [[pulled, [DOCKER_AGENT, SMALL_AGENT].sort()]], 'both agents share the engine');

      // images.pull stays `never`: the task is admitted because an agent has the image now, and runs in it.
      const run = await yard('alice', ['command', 'run', '--image', pulled, '-f', '--', 'sh', '-c', 'cat /marker; id -u']);
      t.is(run.code, 0, run.stderr);
      t.deepEqual(output(run.stdout), [`pulled ${suffix}`, String(ALICE.uid)]);
    });

    if (!haveChromium) console.error('\n!!! NO CHROMIUM: the web images page is NOT tested (bash scripts/browser.sh installs it).\n');
    if (haveChromium) {
      test.serial('the web images page lists the images; alice pulls one there, following each agent; bob sees why he cannot', async (t) => {
        const chrome = await launchBrowser([m.url]);
        t.teardown(() => chrome.close());
        const signIn = async (user: string) => {
          const page = await (await chrome.browser.newContext({ baseURL: m.url })).newPage();
          await page.goto('/login');
          await page.getByLabel('Username').fill(user);
          await page.getByLabel('Password').fill('pw');
          await page.getByRole('button', { name: 'Sign in' }).click();
          await page.waitForURL(/\/experiments$/);
          await page.goto('/images');
          await page.locator('tr[data-image="trainyard/busybox:test"]').waitFor();
          return page;
        };
        const alice = await signIn('alice');
        t.regex((await alice.locator('tr[data-image="trainyard/busybox:test"]').innerText()).replace(/\s+/g, ' '), new RegExp(`${DOCKER_AGENT}.*default.*yes`));
        t.false(onEngine(webPulled));
        await alice.getByRole('button', { name: 'Pull image' }).click();
        const form = alice.getByRole('form', { name: 'Pull an image' });
        await form.getByRole('textbox', { name: /^Image/ }).fill(webPulled);
        await form.getByRole('button', { name: 'Pull' }).click();
        await form.locator(`li[data-agent="${DOCKER_AGENT}"][data-state="done"]`).waitFor({ timeout: 120_000 });
        await form.getByText(`Pulled ${webPulled}.`).waitFor();
        t.true(onEngine(webPulled));
        made.add(webPulled);
        // The list behind the dialog is read again once the pull ended.
        await alice.locator(`tr[data-image="${webPulled}"]`).waitFor();

        const bob = await signIn('bob');
        t.is(await bob.getByRole('button', { name: 'Pull image' }).count(), 0);
        t.regex(await bob.locator('p.pull-refused').innerText(), /images\.user_pull/);
        t.deepEqual(chrome.takeErrors(), []);
      });
    }

    test.serial('a pull that fails says so for each agent: an unknown image, a registry that does not answer', async (t) => {
      const unknown = await yard('alice', ['image', 'pull', `${registry!.host}/team/nope:1`]);
      t.is(unknown.code, 1);
      t.regex(unknown.stderr, new RegExp(`^${DOCKER_AGENT}: failed: could not pull ${registry!.host.replace(/[.]/g, '\\.')}/team/nope:1: .*(not found|unknown)`, 'm'));
      t.regex(unknown.stderr, new RegExp(`Error: the pull of .*team/nope:1 failed on 1 of 1 agents: ${DOCKER_AGENT}: could not pull`));
      const unreachable = await yard('alice', ['image', 'pull', '127.0.0.1:1/team/tool:1']);
      t.is(unreachable.code, 1);
      t.regex(unreachable.stderr, /connection refused/);
      const asJson = await terms.alice!.run(['image', 'pull', '127.0.0.1:1/team/tool:1', '--json']);
      t.is(JSON.parse(asJson.stdout).error.code, 'IMAGE_OPERATION_FAILED');
    });
  }

  test.serial("alice loads a docker save tarball (gzipped) under her prefix; her task in it runs as her uid, whatever the image's USER", async (t) => {
    const file = savedTarball(MINE, `loaded ${suffix}`);
    t.false(onEngine(MINE));
    const load = await yard('alice', ['image', 'load', file]);
    t.is(load.code, 0, load.stderr + load.stdout);
    t.regex(load.stderr, new RegExp(`^Loading ${file.replace(/[.]/g, '\\.')} \\([0-9.]+[kM]B\\) into ${DOCKER_AGENT} \\(pool default, operation [0-9a-f]{16}\\)`, 'm'));
    t.regex(load.stdout, new RegExp(`${DOCKER_AGENT}\\s+done\\s+[0-9a-f]{12}\\s+loaded ${MINE}`));
    t.true(onEngine(MINE));
    t.is(execFileSync('docker', ['image', 'inspect', '-f', '{{.Config.User}}', MINE], { encoding: 'utf8' }).trim(), '4321');
    const wide = await yard('alice', ['image', 'list', 'user/alice/*', '-o', 'wide']);
    t.regex(wide.stdout, new RegExp(`^user/alice/t-${suffix}\\s+1\\s+sha256:[0-9a-f]{64}\\s.*\\syes\\s+alice\\s`, 'm'));
    t.deepEqual(spooled(DOCKER_AGENT), [], 'the spooled tarball is gone');

    const run = await yard('alice', ['command', 'run', '--image', MINE, '-f', '--', 'sh', '-c', 'cat /marker; id -u; id -g']);
    t.is(run.code, 0, run.stderr);
    t.deepEqual(output(run.stdout), [`loaded ${suffix}`, String(ALICE.uid), String(ALICE.gid)], 'the image says USER 4321; the task runs as alice');

    // From stdin too, as `load < image.tar.gz` (loading one's own name again replaces it).
    const again = await yard('alice', ['image', 'load'], readFileSync(file));
    t.is(again.code, 0, again.stderr);
    t.regex(again.stderr, /^Loading the tarball from stdin into/m);
  });

  test.serial('a tarball naming an image outside her prefix is refused naming images.load.allow, and nothing is loaded', async (t) => {
    const file = savedTarball(NOT_MINE, 'not hers');
    const load = await yard('alice', ['image', 'load', file]);
    t.is(load.code, 1);
    t.regex(load.stderr, new RegExp(`Error: image ${NOT_MINE} refused by policy\\.system\\.images\\.load\\.allow: alice may load only names matching "user/alice/\\.\\+"`));
    t.false(onEngine(NOT_MINE));
    t.deepEqual(spooled(DOCKER_AGENT), []);
    // Bob loads under his own prefix (an admin removes it below).
    const bobs = await yard('bob', ['image', 'load', savedTarball(`user/bob/t-${suffix}:2`, 'bob')]);
    t.is(bobs.code, 0, bobs.stderr);
  });

  test.serial('a tarball over images.load_limit is refused as it streams, on the master and on an agent with a lower limit, and no disk keeps it', async (t) => {
    // A real tar of 6 MB (random, so gzip cannot shrink it), from stdin: its size is not known before it streams.
    const big = path.join(dir, 'big');
    mkdirSync(big);
    writeFileSync(path.join(big, 'noise.bin'), randomBytes(6_000_000));
    const tarball = execFileSync('tar', ['-C', big, '-c', '.'], { maxBuffer: 64 * 1024 * 1024 });
    const piped = await yard('alice', ['image', 'load', '-'], tarball);
    t.is(piped.code, 1);
    t.regex(piped.stderr, /Error: the tarball is larger than images\.load_limit \(4194304 bytes\): every agent dropped what it took/);
    t.deepEqual(spooled(DOCKER_AGENT), []);
    // A file's size is known: refused before a byte is sent.
    const file = path.join(dir, 'big.tar');
    writeFileSync(file, tarball);
    const named = await yard('alice', ['image', 'load', file]);
    t.is(named.code, 1);
    t.regex(named.stderr, /Error: the tarball is 6\d{6} bytes, more than images\.load_limit \(4194304 bytes\): nothing was sent/);

    // The small pool's agent takes at most 1 MiB (--image-load-limit): it stops and says so; the master's limit is not
    // reached. A real `docker save` tarball of about 2 MB (not gzipped), so that the master finds nothing wrong with it.
    const medium = savedTarball(`user/alice/m-${suffix}:1`, 'medium');
    const small = await yard('alice', ['image', 'load', '--pool', 'small', '-'], execFileSync('gunzip', ['-c', medium], { maxBuffer: 64 * 1024 * 1024 }));
    t.is(small.code, 1);
    t.regex(small.stderr, new RegExp(`the tarball is larger than agent ${SMALL_AGENT}'s --image-load-limit \\(1048576 bytes\\): agent ${SMALL_AGENT} dropped what it took`));
    t.deepEqual(spooled(SMALL_AGENT), []);
  });

  test.serial('yard image rm: not by someone else, not while a task uses it, then by its loader; audited', async (t) => {
    const bob = await yard('bob', ['image', 'rm', MINE]);
    t.is(bob.code, 1);
    t.regex(bob.stderr, new RegExp(`Error: bob may not remove image ${MINE} from pool default \\(alice loaded it\\): that needs change_config`));
    // A task that waits for a machine it will never get still names the image.
    const waiting = await submit('alice', { image: MINE, entrypoint: ['true'], resources: { cpu: 512 } });
    const inUse = await yard('alice', ['image', 'rm', MINE]);
    t.is(inUse.code, 1);
    t.regex(inUse.stderr, new RegExp(`Error: image ${MINE} is used by unfinished task ${waiting.id} in pool default`));
    t.true(onEngine(MINE));
    await api(m.url, 'POST', `/tasks/${waiting.id}/kill`, { token: tokens.alice });
    const removed = await yard('alice', ['image', 'rm', MINE]);
    t.is(removed.code, 0, removed.stderr);
    t.regex(removed.stdout, new RegExp(`${DOCKER_AGENT}\\s+done\\s+-\\s+removed ${MINE}`));
    t.false(onEngine(MINE));
    // The agent that removed it says so at once; the small pool's agent (on the same engine here) at its next heartbeat.
    t.false((await list('alice', '?pool=default')).items.some((i) => i.reference === MINE));
    await waitFor('every agent to stop listing the removed image', async () => !(await list('alice')).items.some((i) => i.reference === MINE), 30_000);
    // An admin may remove any image no task uses.
    const admin = await yard('admin', ['image', 'rm', `user/bob/t-${suffix}:2`]);
    t.is(admin.code, 0, admin.stderr);

    const audit = (await api<Page<AuditEntry>>(m.url, 'GET', '/audit?limit=200', { token: tokens.admin })).body.items;
    const actions = (action: string) => audit.filter((e) => e.action === action);
    t.true(actions('image.load').some((e) => e.actor === 'alice' && e.target === MINE && e.details.pool === 'default'));
    t.true(actions('image.remove').some((e) => e.actor === 'alice' && e.target === MINE));
    t.true(actions('image.remove').some((e) => e.actor === 'admin'));
    if (REGISTRY_BIN) t.true(actions('image.pull').some((e) => e.actor === 'alice' && e.target === pulled));
  });

  test('an operation is for its requester (and see_status) only', async (t) => {
    const started = await api<ImageOperation>(m.url, 'POST', '/images/loads', { token: tokens.alice, body: {} });
    t.is(started.status, 201);
    const bob = await api(m.url, 'GET', `/images/operations/${started.body.id}`, { token: tokens.bob });
    t.is(bob.status, 403);
    t.regex(bob.body.error.message, /bob may not follow image operation/);
    const upload = await api(m.url, 'PUT', `/images/loads/${started.body.id}/data`, { token: tokens.bob, rawBody: Buffer.alloc(1024), contentType: 'application/octet-stream' });
    t.is(upload.status, 403);
    const json = await api(m.url, 'PUT', `/images/loads/${started.body.id}/data`, { token: tokens.alice, rawBody: '{}', contentType: 'application/json' });
    t.is(json.status, 415);
    const admin = await api<ImageOperation>(m.url, 'GET', `/images/operations/${started.body.id}`, { token: tokens.admin });
    t.is(admin.status, 200);
  });
}

test.serial('a task whose allowed host path is missing fails before its container is created, naming the path', async (t) => {
  const missing = path.join(data, 'alice', 'not-there');
  const task = await submit('alice', { image: IMAGE ?? 'busybox:latest', entrypoint: ['true'], bind_mounts: [{ host_path: missing, container_path: '/data' }] });
  const end = await ended(task.id);
  t.is(end.state, 'FAILED');
  t.is(end.message, `refused by the agent before anything started: host path ${missing} does not exist on this machine; a task never creates one (create it first)`);
  t.is(end.startedAt, null);
  t.deepEqual(await statesOf(task.id), ['QUEUED', 'ASSIGNED', 'FAILED'], 'never pulled, never started');
  t.false(existsSync(missing), 'and never created');
});

if (BINDFS) {
  test.serial('a hung mount fails the task after the probe timeout, naming the path, while the agent goes on', async (t) => {
    // A FUSE mount (bindfs) whose daemon is stopped: a stat beneath it blocks, as on a hung NFS server.
    const source = path.join(dir, 'hung-source');
    const mountpoint = path.join(data, 'alice', 'hung');
    mkdirSync(path.join(source, 'inside'), { recursive: true });
    mkdirSync(mountpoint);
    const daemon: ChildProcess = spawn(BINDFS!, ['-f', source, mountpoint], { stdio: 'ignore' });
    t.teardown(() => {
      daemon.kill('SIGCONT');
      execFileSync('fusermount', ['-u', '-z', mountpoint], { stdio: 'ignore' });
      daemon.kill('SIGTERM');
    });
    await waitFor('the bindfs mount', () => existsSync(path.join(mountpoint, 'inside')));
    daemon.kill('SIGSTOP');
    const hung = path.join(mountpoint, 'inside');
    const task = await submit('alice', { image: IMAGE ?? 'busybox:latest', entrypoint: ['true'], bind_mounts: [{ host_path: hung, container_path: '/data' }] });
    // While the probe waits for the mount, the agent takes and runs other work.
    const other = await submit('alice', { image: IMAGE ?? 'busybox:latest', entrypoint: ['sh', '-c', 'echo meanwhile'] });
    const end = await ended(task.id);
    t.is(end.state, 'FAILED');
    t.regex(end.message!, new RegExp(`^refused by the agent before anything started: host path ${hung.replace(/[.]/g, '\\.')} did not answer a stat within 2 s \\(a hung NFS or other network mount`));
    t.is(end.startedAt, null);
    t.deepEqual(await statesOf(task.id), ['QUEUED', 'ASSIGNED', 'FAILED']);
    t.is((await ended(other.id)).state, 'COMPLETED');
  });
}
