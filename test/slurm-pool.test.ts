import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { chromium } from 'playwright-core';
import type { PoolView, Task, TaskLogPage } from '@trainyard/shared';
import { SlurmJwt } from '../packages/master/src/resource-managers/slurm/slurm-jwt.js';
import { createSlurmRestClient, slurmJobEnded } from '../packages/master/src/resource-managers/slurm/slurmrestd-client.js';
import { api, loginToken, proxyFetch } from './helpers/api.js';
import { ROOT, Terminal } from './helpers/cli.js';
import { FAST_AGENTS, freePort, startAgent, tempDir, waitFor, type AgentProcess } from './helpers/cluster.js';
import { importImage, podmanMissing, slurmCommand, slurmPoolSettings, TEST_PODMAN_ARGS, testSlurm, UnixUsers, type TestSlurm, type UnixUser } from './helpers/slurm.js';
import { startTestMaster, type TestMaster } from './helpers/test-master.js';

// The Slurm resource manager (issue 22) end to end: a master whose master.yaml has Slurm pools beside
// an agents pool, on the real single-node Slurm of scripts/slurm-cluster.sh. Tasks go through the
// scheduler, the manager submits each as a Slurm job run as the task's user, whose one-shot agent
// reports like any agent; the same `yard` commands work on both kinds of pool.
const SERVER = path.join(ROOT, 'test', 'fixtures', 'web-service', 'server.mjs');
const CHROMIUM = process.env.YARD_CHROMIUM ?? '/usr/bin/chromium';

const slurm = testSlurm('the Slurm pool tests');
if (!slurm) test.skip('Slurm pools (no Slurm test cluster)', () => {});
else registerTests(slurm);

function registerTests(cluster: TestSlurm) {
  const users = new UnixUsers('ysp');
  const client = createSlurmRestClient({
    url: cluster.restUrl,
    jwt: SlurmJwt.fromKeyFile(cluster.jwtKeyFile, { user: 'root', lifetimeSeconds: 600, clock: { now: () => Date.now() } }),
    tokenUser: 'root',
  });
  let m: TestMaster;
  let dir: string;
  let jobDir: string;
  let scratch: string;
  let alice: UnixUser;
  let bob: UnixUser;
  let agent: AgentProcess;
  // Each person's token and signed-in terminal, filled by test.before before any test reads them.
  type Person = 'admin' | 'alice' | 'bob' | 'rooty' | 'ghost';
  const tokens = {} as Record<Person, string>;
  const terminals = {} as Record<Person, Terminal>;

  test.before(async () => {
    dir = tempDir('yard-slurm-pool-');
    jobDir = mkdtempSync(path.join(os.tmpdir(), 'yard-slurm-jobs-'));
    chmodSync(jobDir, 0o1777);
    scratch = mkdtempSync(path.join(os.tmpdir(), 'yard-slurm-scratch-'));
    chmodSync(scratch, 0o755);
    m = await startTestMaster(
      {
        agents: { ...FAST_AGENTS, token_file: path.join(dir, 'agent.token') },
        pools: {
          default: { manager: 'agents' },
          hpc: { ...slurmPoolSettings(cluster, jobDir), description: 'the Slurm test cluster' },
          // This file's own one-CPU partition (scripts/slurm-cluster.sh): another file's filler never holds its jobs.
          'hpc-small': slurmPoolSettings(cluster, jobDir, { partition: `${cluster.smallPartition}-pool` }),
          'hpc-podman': slurmPoolSettings(cluster, jobDir, { container: 'podman', podman_args: TEST_PODMAN_ARGS }),
          'hpc-verify': slurmPoolSettings(cluster, jobDir, { users: 'verify' }),
        },
        policy: {
          system: { ports: { allow: ['1024-65535'] }, mounts: { available: [{ host_path: `${scratch}/{user}` }] } },
          // rooty's tasks may run as root where the pool allows it: agents pools do, Slurm pools never.
          users: { rooty: { require_non_root: false } },
        },
      },
      dir,
    );
    tokens.admin = await loginToken(m.url, 'admin');
    alice = users.create();
    bob = users.create();
    for (const name of ['alice', 'bob', 'rooty', 'ghost'] as const) {
      await api(m.url, 'POST', '/users', { token: tokens.admin, body: { username: name, password: 'pw' } });
      tokens[name] = await loginToken(m.url, name, 'pw');
      terminals[name] = new Terminal(m.url);
      const login = await terminals[name].run(['user', 'login', name, '--password-stdin'], { input: 'pw\n' });
      if (login.code !== 0) throw new Error(login.stderr);
    }
    terminals.admin = new Terminal(m.url);
    await terminals.admin.run(['user', 'login', 'admin', '--password-stdin'], { input: '\n' });
    const link = async (user: string, body: object) => {
      const linked = await api(m.url, 'PUT', `/users/${user}/agent-user`, { token: tokens.admin, body });
      if (linked.status !== 200) throw new Error(JSON.stringify(linked.body));
    };
    await link('alice', { uid: alice.uid, user: alice.name, gid: alice.gid, group: alice.name });
    await link('bob', { uid: bob.uid, user: bob.name, gid: bob.gid, group: bob.name });
    await link('rooty', { uid: 0, user: 'root', gid: 0, group: 'root' });
    // A name no machine here has: Slurm would take its job and leave it pending for ever.
    await link('ghost', { uid: 59_999, user: 'nosuchuser-yard', gid: 59_999, group: 'nosuchuser-yard' });
    mkdirSync(path.join(scratch, 'alice'), { mode: 0o700 });
    chownSync(path.join(scratch, 'alice'), alice.uid, alice.gid);
    agent = startAgent({ url: m.url, tokenFile: path.join(dir, 'agent.token') }, { name: 'cpu-1', executor: 'process' });
    await waitFor('the agent to register', async () => (await pools()).find((p) => p.name === 'default')?.nodes === 1);
  });

  test.after.always(async () => {
    // Every job this file's master submitted (they all carry its pools' names in their comments).
    for (const job of await client.jobs({ namePrefix: 'trainyard-task-' }).catch(() => [])) {
      if (job.comment.includes(' pool=hpc') && !slurmJobEnded(job.state) && [alice?.name, bob?.name].includes(job.user.name ?? '')) await client.cancel(job.id).catch(() => undefined);
    }
    await agent?.kill('SIGKILL');
    await m?.stop();
    users.removeAll();
    for (const made of [jobDir, scratch, dir]) if (made) rmSync(made, { recursive: true, force: true });
  });

  const pools = async () => (await api<{ items: PoolView[] }>(m.url, 'GET', '/pools', { token: tokens.admin })).body.items;
  const task = async (id: number) => (await api<Task>(m.url, 'GET', `/tasks/${id}`, { token: tokens.admin })).body;
  const logs = async (id: number) => (await api<TaskLogPage>(m.url, 'GET', `/tasks/${id}/logs?limit=1000`, { token: tokens.admin })).body.items.map((l) => `${l.stream}: ${l.line}`).join('\n');
  const jobIdOf = (t: Task) => Number(/^slurm job (\d+)$/.exec(t.placement ?? '')?.[1]);
  /** Waits for the task; a failure shows its logs and its job's own output (the one-shot agent's log). */
  const until = (id: number, what: string, check: (t: Task) => boolean, timeoutMs = 60_000) =>
    waitFor(`task ${id} ${what}`, async () => {
      const current = await task(id);
      return check(current) ? current : undefined;
    }, timeoutMs).catch(async (error: Error) => {
      const outputs = readdirSync(jobDir).filter((f) => f.startsWith(`trainyard-task-${id}-`));
      throw new Error(`${error.message}\n${JSON.stringify(await task(id))}\n${await logs(id)}\n${outputs.map((f) => readFileSync(path.join(jobDir, f), 'utf8')).join('\n')}`);
    });
  const inSqueue = (jobId: number) => slurmCommand(cluster, 'squeue', ['-h', '-j', String(jobId)]).trim() !== '';

  test('the same task config runs on the agents pool and on the Slurm pool with the same yard commands: id prints the resolved identity, files in an allowed host directory are the uid:gid\'s', async (t) => {
    const own = path.join(scratch, 'alice');
    const config = path.join(dir, 'identity.yaml');
    writeFileSync(config, [`bind_mounts: [{host_path: ${own}, container_path: ${own}}]`, `environment: {OUT_DIR: ${own}}`, 'resources: {cpu: 1, memory: 64Mi}', ''].join('\n'));
    for (const pool of ['default', 'hpc']) {
      const run = await terminals.alice.run(['command', 'run', '-f', '-c', config, '--pool', pool, '--name', `identity-${pool}`, '--', 'sh', '-c', `id; echo written > $OUT_DIR/${pool}.txt; echo pool=${pool}`]);
      t.is(run.code, 0, `${pool}: ${run.stderr}`);
      t.true(run.stdout.includes(`uid=${alice.uid}(${alice.name}) gid=${alice.gid}(${alice.name})`), `${pool}:\n${run.stdout}`);
      t.true(run.stdout.includes(`pool=${pool}`), run.stdout);
      const written = statSync(path.join(own, `${pool}.txt`));
      t.deepEqual([written.uid, written.gid], [alice.uid, alice.gid], pool);
    }
    const listed = await terminals.alice.json<{ items: Array<{ id: number; name: string; pool: string; state: string; agent: string | null }> }>(['task', 'list']);
    const [onSlurm, onAgents] = ['hpc', 'default'].map((pool) => listed.items.find((i) => i.name === `identity-${pool}`)!) as [(typeof listed.items)[0], (typeof listed.items)[0]];
    t.like(onSlurm, { pool: 'hpc' });
    t.like(onAgents, { pool: 'default' });
    t.like(onSlurm, { state: 'COMPLETED', agent: `task-${onSlurm.id}` });
    t.like(onAgents, { state: 'COMPLETED', agent: 'cpu-1' });
    const described = await terminals.alice.run(['task', 'describe', String(onSlurm.id)]);
    t.regex(described.stdout, /^Pool:\s+hpc$/m);
    t.regex(described.stdout, /^Placement:\s+slurm job \d+$/m);
    const job = await client.job(jobIdOf(await task(onSlurm.id)));
    t.like(job, { state: 'COMPLETED', user: { name: alice.name, uid: alice.uid }, gid: alice.gid, partition: cluster.partition });
    t.regex(await logs(onSlurm.id), new RegExp(`system: \\[trainyard\\] submitted to Slurm as job ${job!.id} \\(partition ${cluster.partition}, as ${alice.name}\\)`));
  });

  test('a task that would run as root, or as a user the nodes do not know, is refused on a Slurm pool at submission, naming the rule; nothing is stored', async (t) => {
    const before = (await api(m.url, 'GET', '/tasks', { token: tokens.admin })).body.items.length;
    const asRoot = await terminals.rooty.run(['command', 'run', '--pool', 'hpc', '--', 'id']);
    t.is(asRoot.code, 1);
    t.regex(asRoot.stderr, /task refused by slurm\.run_as_root: it would run as root \(uid 0\) on the Slurm pool 'hpc'/);
    t.notRegex(asRoot.stderr, /\n\s+at /, 'no stack trace');
    const refused = await api(m.url, 'POST', '/tasks', { token: tokens.rooty, body: { kind: 'command', config: { entrypoint: ['id'] }, pool: 'hpc' } });
    t.is(refused.status, 403);
    t.deepEqual(refused.body.error.details, { rule: 'slurm.run_as_root', layer: 'pool:hpc' });
    const ghost = await api(m.url, 'POST', '/tasks', { token: tokens.ghost, body: { kind: 'command', config: { entrypoint: ['id'] }, pool: 'hpc' } });
    t.is(ghost.status, 403);
    t.is(ghost.body.error.details.rule, 'slurm.user_unknown');
    t.regex(ghost.body.error.message, /user 'nosuchuser-yard' \(uid 59999\) is not known on the nodes of the Slurm pool 'hpc'/);
    t.is((await api(m.url, 'POST', '/tasks/dry-run', { token: tokens.rooty, body: { kind: 'command', config: { entrypoint: ['id'] }, pool: 'hpc' } })).status, 403, 'a dry run says so too');
    t.is((await api(m.url, 'GET', '/tasks', { token: tokens.admin })).body.items.length, before, 'nothing stored');
    // The same root task is the agents pool's to run (its policy allows root for rooty).
    const onAgents = await api<Task>(m.url, 'POST', '/tasks', { token: tokens.rooty, body: { kind: 'command', config: { entrypoint: ['id', '-u'] }, pool: 'default' } });
    t.is(onAgents.status, 201);
    t.is((await until(onAgents.body.id, 'to complete', (x) => x.state === 'COMPLETED')).runSpec.runAs.uid, 0);
  });

  test('users: verify: a user Slurm does not know is found by the held job and the task FAILS naming the rule, its job cancelled; a known one runs', async (t) => {
    const ghost = await api<Task>(m.url, 'POST', '/tasks', { token: tokens.ghost, body: { kind: 'command', config: { entrypoint: ['id'] }, pool: 'hpc-verify' } });
    t.is(ghost.status, 201, 'the master cannot look the user up here: Slurm is asked');
    const failed = await until(ghost.body.id, 'to fail', (x) => x.state === 'FAILED');
    t.regex(failed.message ?? '', /^task refused by slurm\.user_unknown: Slurm does not know the user 'nosuchuser-yard'/);
    // Its job, by the id the task stores; then every job of this task from this master (Slurm keeps ended jobs a
    // while, and earlier runs' masters had a task of the same id): one, ended: it was not submitted again.
    const jobId = Number(/^slurm job (\d+)$/.exec(failed.placement ?? '')?.[1]);
    const job = await client.job(jobId);
    t.truthy(job, `the task names its job: ${failed.placement}`);
    const thisMaster = job!.comment.split(' ').slice(1).join(' ');
    const jobs = (await client.jobs({ namePrefix: `trainyard-task-${ghost.body.id}-` })).filter((j) => j.comment.split(' ').slice(1).join(' ') === thisMaster);
    t.true(jobs.length === 1 && jobs[0]!.id === jobId && slurmJobEnded(jobs[0]!.state), JSON.stringify(jobs));
    const known = await api<Task>(m.url, 'POST', '/tasks', { token: tokens.alice, body: { kind: 'command', config: { entrypoint: ['id', '-un'] }, pool: 'hpc-verify' } });
    await until(known.body.id, 'to complete', (x) => x.state === 'COMPLETED');
    t.true((await logs(known.body.id)).includes(`stdout: ${alice.name}`));
  });

  test("yard task kill: KILLED and the job gone from squeue; scancel outside Trainyard: KILLED with Slurm's reason; a task killed while its job is pending: the job leaves the queue", async (t) => {
    const start = async () => {
      const created = await terminals.alice.json<Task>(['command', 'run', '--pool', 'hpc', '--', 'sh', '-c', 'echo started; sleep 300']);
      const running = await until(created.id, 'to run', (x) => x.state === 'RUNNING');
      await waitFor('its first line', async () => (await logs(created.id)).includes('stdout: started'));
      return { id: created.id, jobId: jobIdOf(running) };
    };
    const killed = await start();
    const kill = await terminals.alice.run(['task', 'kill', String(killed.id)]);
    t.is(kill.code, 0, kill.stderr);
    const ended = await until(killed.id, 'to be killed', (x) => x.state === 'KILLED');
    t.is(ended.exitCode, 143);
    await waitFor('the job to leave squeue', () => !inSqueue(killed.jobId));

    const cancelled = await start();
    slurmCommand(cluster, 'scancel', [String(cancelled.jobId)]);
    const outside = await until(cancelled.id, 'to be killed', (x) => x.state === 'KILLED');
    t.is(outside.message, `the Slurm job ${cancelled.jobId} was cancelled outside Trainyard (scancel)`);

    // A job held by Slurm (its begin time moved a day away): pending until the kill. Slurm may start the
    // job before the test moves its begin time (the partition has room): then that task goes, and another.
    let pendingTask: Task | undefined;
    let placed: Task | undefined;
    for (let attempt = 1; !pendingTask; attempt++) {
      const candidate = await terminals.alice.json<Task>(['command', 'run', '--pool', 'hpc', '--', 'sleep', '300']);
      const candidatePlaced = await until(candidate.id, 'to be placed', (x) => x.placement !== null);
      try {
        slurmCommand(cluster, 'scontrol', ['update', `JobId=${jobIdOf(candidatePlaced)}`, 'StartTime=now+1day']);
        [pendingTask, placed] = [candidate, candidatePlaced];
      } catch (error) {
        if (attempt >= 5 || !/no longer pending/.test(String((error as { stderr?: string }).stderr ?? error))) throw error;
        await terminals.alice.run(['task', 'kill', String(candidate.id)]);
        await until(candidate.id, 'to be killed', (x) => x.state === 'KILLED');
      }
    }
    const held = pendingTask as Task;
    await until(held.id, "to wait with Slurm's reason", (x) => x.pendingReason === 'SLURM:BeginTime');
    t.is((await terminals.alice.run(['task', 'kill', String(held.id)])).code, 0);
    t.is((await task(held.id)).state, 'KILLED');
    await waitFor('the pending job to leave squeue', () => !inSqueue(jobIdOf(placed as Task)));
  });

  test('a time limit (the quota\'s max_runtime, which the job carries as its Slurm time limit) ends the task KILLED with RUNTIME_LIMIT', async (t) => {
    t.timeout(360_000);
    // bob's own quota: the other tests' tasks (alice's) run at the same time.
    const quota = await api(m.url, 'POST', '/quotas', { token: tokens.admin, body: { name: 'bob-short', maxRuntime: '4s' } });
    t.is(quota.status, 201, JSON.stringify(quota.body));
    t.is((await api(m.url, 'POST', '/quotas/bob-short/assignments', { token: tokens.admin, body: { user: 'bob' } })).status, 201);
    t.teardown(() => api(m.url, 'DELETE', '/quotas/bob-short', { token: tokens.admin }));
    const created = await terminals.bob.json<Task>(['command', 'run', '--pool', 'hpc', '--', 'sleep', '300']);
    const running = await until(created.id, 'to run', (x) => x.state === 'RUNNING');
    t.is((await client.job(jobIdOf(running)))?.timeLimitMinutes, 1, "the job's own time limit: max_runtime rounded up to Slurm's minutes");
    // Slurm looks at time limits every 30 s and gives KillWait (10 s) after SIGTERM; a loaded machine adds to both.
    const ended = await until(created.id, 'to reach its limit', (x) => x.state === 'KILLED', 300_000);
    t.regex(ended.message ?? '', /^RUNTIME_LIMIT/);
    await waitFor('the job to leave squeue', () => !inSqueue(jobIdOf(running)));
  });

  test("a full partition: the task waits with Slurm's reason in lists, describe, the waiting CLI, JSON, yard pool list and the web UI; it runs once there is room", async (t) => {
    t.timeout(180_000);
    const filler = await terminals.alice.json<Task>(['command', 'run', '--pool', 'hpc-small', '--', 'sleep', '300']);
    await until(filler.id, 'to run', (x) => x.state === 'RUNNING');
    const waiting = terminals.alice.start(['command', 'run', '-f', '--pool', 'hpc-small', '--', 'echo', 'finally']);
    const stuck = await waitFor('the second task', async () => {
      const list = await terminals.alice.json<{ items: Array<{ id: number; pool: string; state: string; pendingReason: string | null }> }>(['task', 'list']);
      return list.items.find((i) => i.id !== filler.id && i.pool === 'hpc-small' && i.state === 'ASSIGNED' && /^SLURM:(Resources|Priority)$/.test(i.pendingReason ?? ''));
    });
    t.regex(stuck.pendingReason!, /^SLURM:(Resources|Priority)$/);
    const table = (await terminals.alice.run(['task', 'list'])).stdout;
    t.regex(table, new RegExp(`^${stuck.id}\\s.*ASSIGNED.*\\shpc-small\\s.*\\sSLURM:(Resources|Priority)$`, 'm'));
    const described = (await terminals.alice.run(['task', 'describe', String(stuck.id)])).stdout;
    t.regex(described, /^Waiting for:\s+SLURM:(Resources|Priority): Slurm holds its job: /m);
    t.regex(described, /^Placement:\s+slurm job \d+$/m);
    await waitFor('the waiting CLI to say why', () => /waiting: SLURM:(Resources|Priority): Slurm holds its job/.test(waiting.stderr()));
    const small = (await pools()).find((p) => p.name === 'hpc-small')!;
    t.like(small, { manager: 'slurm', nodes: 1, capacity: { cpu: 8, gpus: 1 }, use: { tasks: 2 }, engine: { pending: 1, problem: null } });
    t.true(small.engine!.allocated.cpu >= 1);
    t.regex((await terminals.alice.run(['pool', 'list'])).stdout, /^hpc-small\s+slurm\s+-\s+1\s+2\/8\s.*\s1\s*$/m);

    if (existsSync(CHROMIUM)) {
      const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
      t.teardown(() => browser.close());
      const page = await (await browser.newContext({ baseURL: m.url })).newPage();
      await page.goto('/login');
      await page.getByLabel('Username').fill('alice');
      await page.getByLabel('Password').fill('pw');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(/\/experiments$/);
      await page.goto(`/commands/${stuck.id}`);
      await page.getByText(/SLURM:(Resources|Priority)/).first().waitFor();
      t.regex(await page.locator('body').innerText(), /slurm job \d+/);
    } else {
      console.error(`\n!!! NO CHROMIUM at ${CHROMIUM}: the web UI part of the full-partition test is NOT running.\n`);
    }

    t.is((await terminals.alice.run(['task', 'kill', String(filler.id)])).code, 0);
    const done = await waiting.done;
    t.is(done.code, 0, done.stderr);
    t.regex(done.stdout, /^finally$/m);
  });

  test('a notebook on the Slurm pool answers through /proxy/<id>/, and a shell on it runs id as the user', async (t) => {
    const config = path.join(dir, 'notebook.yaml');
    writeFileSync(config, `port: ${await freePort()}\nentrypoint: [${JSON.stringify(process.execPath)}, ${JSON.stringify(SERVER)}]\n`);
    const created = await terminals.alice.json<Task>(['notebook', 'start', '--pool', 'hpc', '--no-wait', '-c', config]);
    await until(created.id, 'to run', (x) => x.state === 'RUNNING');
    const page = await waitFor('the notebook through the proxy', async () => {
      const response = await proxyFetch(m.url, `/proxy/${created.id}/`, tokens.alice);
      return response.status === 200 ? response.text() : undefined;
    });
    t.regex(page, /yard test service/);
    const shell = await terminals.alice.run(['shell', 'open', String(created.id), '--', 'id']);
    t.is(shell.code, 0, shell.stderr);
    t.true(shell.stdout.includes(`uid=${alice.uid}(${alice.name}) gid=${alice.gid}(${alice.name})`), shell.stdout);
    t.is((await terminals.alice.run(['task', 'kill', String(created.id)])).code, 0);
    await until(created.id, 'to be killed', (x) => x.state === 'KILLED');
  });

  const podman = podmanMissing(cluster);
  if (podman) console.error(`\n!!! NO ROOTLESS PODMAN: the Slurm pool test with container: podman is NOT running (${podman}).\n`);
  (podman ? test.skip : test)('container: podman: the task runs in its image as its uid:gid, and its files in a mount belong to them on the host', async (t) => {
    t.timeout(180_000);
    const image = 'localhost/trainyard-busybox:test';
    importImage(alice, cluster.imageTar!, image);
    const own = path.join(scratch, 'alice');
    const config = path.join(dir, 'podman.yaml');
    writeFileSync(config, `bind_mounts: [{host_path: ${own}, container_path: /data}]\n`);
    const run = await terminals.alice.run([
      'command', 'run', '-f', '--pool', 'hpc-podman', '--image', image, '-c', config, '--',
      'sh', '-c', 'id; cat /etc/os-release 2>/dev/null || echo "no os-release: busybox"; echo in-image > /data/podman-pool.txt',
    ]);
    t.is(run.code, 0, run.stderr);
    t.true(run.stdout.includes(`uid=${alice.uid}(${alice.name}) gid=${alice.gid}`), run.stdout);
    t.regex(run.stdout, /^no os-release: busybox$/m, "the image's file system, not the node's");
    const written = statSync(path.join(own, 'podman-pool.txt'));
    t.deepEqual([written.uid, written.gid], [alice.uid, alice.gid]);
    const gpus = await api(m.url, 'POST', '/tasks', { token: tokens.alice, body: { kind: 'command', config: { image, entrypoint: ['true'], resources: { gpus: 1 } }, pool: 'hpc-podman' } });
    t.is(gpus.status, 403);
    t.is(gpus.body.error.details.rule, 'slurm.podman_gpus');
  });

  test('yard pool list shows the Slurm pool: the partition\'s capacity, what Slurm has allocated, what waits; an agent may not join a Slurm pool', async (t) => {
    const hpc = (await pools()).find((p) => p.name === 'hpc')!;
    t.like(hpc, { manager: 'slurm', description: 'the Slurm test cluster', nodes: 1, capacity: { cpu: 8, memory: 4000 * 1024 ** 2, gpus: 1 }, engine: { problem: null } });
    t.like(hpc.details, { partition: cluster.partition, container: 'none', users: 'shared' });
    const table = (await terminals.alice.run(['pool', 'list'])).stdout.split('\n');
    t.regex(table[0]!, /^NAME\s+MANAGER\s+DEFAULT\s+NODES\s+CPU\s+MEMORY \(GiB\)\s+GPUS\s+TASKS\s+QUEUED\s+OLDEST WAIT\s+SLURM ALLOCATED\s+IN SLURM QUEUE$/);
    t.regex(table.find((l) => l.startsWith('hpc '))!, /^hpc\s+slurm\s+-\s+1\s+\d+\/8\s+\S+\/3\.9\s+\d\/1\s+\d+\s+\d+\s+\S*\s+cpu \d+\/8, gpus \d\/1\s+\d+$/);
    t.regex(table.find((l) => l.startsWith('default '))!, /\s-\s+-$/);

    const stray = startAgent({ url: m.url, tokenFile: path.join(dir, 'agent.token') }, { name: 'stray-1', executor: 'process', pool: 'hpc' });
    t.is(await stray.exited, 1, stray.output());
    t.regex(stray.output(), /'hpc' is a Slurm pool: its tasks run in Slurm jobs the master submits/);
  });
}
