import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import type { Task, TaskLogPage, TaskRunSpec } from '@trainyard/shared';
import { oneShotLaunch } from '../packages/master/src/agents/one-shot-placement.js';
import { DomainError } from '../packages/master/src/errors.js';
import { SlurmJwt } from '../packages/master/src/resource-managers/slurm/slurm-jwt.js';
import { slurmJobFor, type SlurmPoolSettings } from '../packages/master/src/resource-managers/slurm/slurm-job-spec.js';
import { checkSlurmSpec, checkSlurmUser, getentUsers } from '../packages/master/src/resource-managers/slurm/slurm-run-as.js';
import { createSlurmRestClient, slurmJobEnded, type SlurmJob } from '../packages/master/src/resource-managers/slurm/slurmrestd-client.js';
import { api, proxyFetch } from './helpers/api.js';
import { ROOT, Terminal } from './helpers/cli.js';
import { FAST_AGENTS, freePort, tempDir, waitFor } from './helpers/cluster.js';
import { createUsers } from './helpers/fixtures.js';
import { importImage, podmanMissing, slurmCommand, TEST_PODMAN_ARGS, testSlurm, UnixUsers, type TestSlurm, type UnixUser } from './helpers/slurm.js';
import { startTestMaster, type TestMaster } from './helpers/test-master.js';

// The one-shot agent inside real Slurm jobs (issue 22), submitted with the slurmrestd client the
// way the Slurm manager will (the run-as checks, OneShotAgents.place, slurmJobFor, submit as the
// user): the task runs as its user, logs, states and exit codes reach the master, a Trainyard kill
// and Slurm's own endings (scancel, the time limit) end it truthfully, and a notebook in a job
// answers through the proxy.
const AGENT_BIN = path.join(ROOT, 'packages', 'agent', 'bin', 'yard-agent.js');
const SERVER = path.join(ROOT, 'test', 'fixtures', 'web-service', 'server.mjs');

const slurm = testSlurm('the one-shot agent tests in Slurm jobs');
if (!slurm) test.skip('one-shot agents in Slurm jobs (no Slurm test cluster)', () => {});
else registerTests(slurm);

function registerTests(cluster: TestSlurm) {
  const users = new UnixUsers('yss');
  const client = createSlurmRestClient({
    url: cluster.restUrl,
    jwt: SlurmJwt.fromKeyFile(cluster.jwtKeyFile, { user: 'root', lifetimeSeconds: 600, clock: { now: () => Date.now() } }),
    tokenUser: 'root',
  });
  const jobs: number[] = [];
  let m: TestMaster;
  let tokens: Record<'admin' | 'alice', string>;
  let pool: SlurmPoolSettings;
  let alice: UnixUser;
  /** Where tasks may mount `<scratch>/<owner>` (policy.system.mounts.available). */
  let scratch: string;
  let dir: string;

  test.before(async () => {
    dir = tempDir('yard-slurm-one-shot-');
    const jobDir = mkdtempSync(path.join(os.tmpdir(), 'yard-slurm-jobs-'));
    chmodSync(jobDir, 0o1777);
    pool = { name: 'hpc', partition: cluster.partition, jobDir };
    scratch = mkdtempSync(path.join(os.tmpdir(), 'yard-slurm-scratch-'));
    chmodSync(scratch, 0o755);
    m = await startTestMaster(
      {
        // A job may wait in Slurm's queue behind other tests' jobs: its lease must outlive that (the seam will not expire Slurm's leases).
        agents: { ...FAST_AGENTS, lease_timeout: '10m' },
        policy: { system: { ports: { allow: ['1024-65535'] }, mounts: { available: [{ host_path: `${scratch}/{user}` }] } } },
      },
      dir,
    );
    tokens = await createUsers(m.url, ['alice']);
    alice = users.create();
    mkdirSync(path.join(scratch, 'alice'), { mode: 0o700 });
    chownSync(path.join(scratch, 'alice'), alice.uid, alice.gid);
    const linked = await api(m.url, 'PUT', '/users/alice/agent-user', { token: tokens.admin, body: { uid: alice.uid, user: alice.name, gid: alice.gid, group: alice.name } });
    if (linked.status !== 200) throw new Error(JSON.stringify(linked.body));
  });

  test.after.always(async () => {
    for (const id of jobs) await client.cancel(id).catch(() => undefined);
    // The jobs' processes go with their user.
    users.removeAll();
    await m?.stop();
    for (const made of [pool?.jobDir, scratch, dir]) if (made) rmSync(made, { recursive: true, force: true });
  });

  const create = async (kind: string, config: Record<string, unknown>) => {
    const created = await api<Task>(m.url, 'POST', '/tasks', { token: tokens.alice, body: { kind, config } });
    if (created.status !== 201) throw new Error(`create: ${JSON.stringify(created.body)}`);
    return created.body;
  };
  const task = async (id: number) => (await api<Task>(m.url, 'GET', `/tasks/${id}`, { token: tokens.admin })).body;
  const logs = async (id: number) => (await api<TaskLogPage>(m.url, 'GET', `/tasks/${id}/logs?limit=1000`, { token: tokens.admin })).body.items.map((l) => `${l.stream}: ${l.line}`).join('\n');
  /** Waits for the task; a failure shows the job's own output (the one-shot agent's log). */
  const until = (id: number, what: string, check: (t: Task) => boolean, timeoutMs = 60_000) =>
    waitFor(`task ${id} ${what}`, async () => {
      const current = await task(id);
      return check(current) ? current : undefined;
    }, timeoutMs).catch((error: Error) => {
      const file = path.join(pool.jobDir, `trainyard-task-${id}-`);
      const outputs = readdirSync(pool.jobDir).filter((f) => path.join(pool.jobDir, f).startsWith(file));
      throw new Error(`${error.message}\n${outputs.map((f) => readFileSync(path.join(pool.jobDir, f), 'utf8')).join('\n')}`);
    });
  const jobEnded = (id: number, timeoutMs = 60_000) =>
    waitFor(`Slurm job ${id} to end`, async () => {
      const job = await client.job(id);
      return job && slurmJobEnded(job.state) ? job : undefined;
    }, timeoutMs);

  /**
   * What the Slurm manager will do for a task the scheduler lets start: the run-as checks, the
   * placement (lease + one-shot token), the job (the one-shot agent as the batch script) submitted
   * as the task's user.
   */
  async function submit(created: Task, limits: { maxRuntimeMs?: number } = {}, container: 'none' | 'podman' = 'none'): Promise<{ jobId: number; output: () => string }> {
    checkSlurmSpec(created.runSpec, { name: pool.name, container });
    await checkSlurmUser(created.runSpec.runAs, pool, getentUsers());
    const placement = await m.master.services.oneShotAgents.place(created.id);
    if (!placement) throw new Error(`task ${created.id} could not be placed`);
    const spec: TaskRunSpec = { ...created.runSpec, taskId: created.id, leaseId: placement.leaseId, kind: created.kind, name: created.name };
    const launch = oneShotLaunch(
      { taskId: created.id, token: placement.token },
      { agentCommand: [process.execPath, AGENT_BIN], masterUrl: m.url, container: container === 'podman' ? { kind: 'podman', podmanArgs: TEST_PODMAN_ARGS } : { kind: 'none' } },
    );
    const submission = slurmJobFor(spec, pool, launch, limits);
    const jobId = await client.submit(spec.runAs.user, submission);
    jobs.push(jobId);
    return { jobId, output: () => readFileSync(submission.job.standard_output!, 'utf8') };
  }

  test('a task in a Slurm job runs as its user: its logs and exit code reach the master, and the job ends with its status', async (t) => {
    const created = await create('command', {
      entrypoint: ['sh', '-c', 'id; echo "job=$SLURM_JOB_ID cpus=$SLURM_CPUS_ON_NODE gpus=$CUDA_VISIBLE_DEVICES token=${YARD_AGENT_TOKEN:-none} greeting=$GREETING"; exit 4'],
      resources: { cpu: 1, memory: '64Mi', gpus: 1 },
      environment: { GREETING: 'hi', CUDA_VISIBLE_DEVICES: '0,1,2,3' },
    });
    const { jobId, output } = await submit(created);
    const ended = await until(created.id, 'to end', (x) => x.state === 'FAILED');
    t.is(ended.exitCode, 4);
    const printed = await logs(created.id);
    t.true(printed.includes(`stdout: uid=${alice.uid}(${alice.name}) gid=${alice.gid}(${alice.name})`), printed);
    t.true(
      printed.includes(`stdout: job=${jobId} cpus=1 gpus=0 token=none greeting=hi`),
      `the task's variables, Slurm's allocation over the task's own claim (its one fake GPU), never the agent's token:\n${printed}`,
    );
    const job = await jobEnded(jobId);
    t.like(job, { state: 'FAILED', exit: { status: 4, signal: null }, user: { name: alice.name, uid: alice.uid } });
    t.regex(output(), new RegExp(`one-shot agent for task ${created.id} as ${alice.name}`));
  });

  test('a file the task writes to an allowed host directory belongs to its uid:gid on the host', async (t) => {
    const own = path.join(scratch, 'alice');
    const created = await create('command', { entrypoint: ['sh', '-c', `echo written > ${own}/none.txt`], bind_mounts: [{ host_path: own, container_path: own }] });
    await submit(created);
    await until(created.id, 'to complete', (x) => x.state === 'COMPLETED');
    const written = statSync(path.join(own, 'none.txt'));
    t.deepEqual([written.uid, written.gid], [alice.uid, alice.gid]);
  });

  const podman = podmanMissing(cluster);
  if (podman) console.error(`\n!!! NO ROOTLESS PODMAN: the Slurm tests with container: podman are NOT running (${podman}).\n`);
  (podman ? test.skip : test)(
    'container: podman: the task runs in its image as its uid:gid, its files in a mount belong to them on the host, its exit code and its service come through',
    async (t) => {
      t.timeout(180_000);
      const image = 'localhost/trainyard-busybox:test';
      importImage(alice, cluster.imageTar!, image);
      const own = path.join(scratch, 'alice');
      const created = await create('command', {
        image,
        entrypoint: ['sh', '-c', 'id; cat /etc/os-release 2>/dev/null || echo "no os-release: busybox"; echo in-image > /data/podman.txt; exit 5'],
        bind_mounts: [{ host_path: own, container_path: '/data' }],
      });
      t.throws(() => checkSlurmSpec(created.runSpec, { name: pool.name, container: 'none' }), { message: /slurm\.mount_paths/ }, 'without a container, /data could not be mounted there');
      await submit(created, {}, 'podman');
      const ended = await until(created.id, 'to end', (x) => x.state === 'FAILED', 120_000);
      t.is(ended.exitCode, 5);
      const printed = await logs(created.id);
      t.true(printed.includes(`stdout: uid=${alice.uid}(${alice.name}) gid=${alice.gid}`), printed);
      t.true(printed.includes('stdout: no os-release: busybox'), `the image's file system, not the node's:\n${printed}`);
      const written = statSync(path.join(own, 'podman.txt'));
      t.deepEqual([written.uid, written.gid], [alice.uid, alice.gid]);

      const port = await freePort();
      const service = await create('notebook', {
        image,
        // Served under its base URL, as the proxy passes the path on.
        entrypoint: ['sh', '-c', 'mkdir -p "/tmp/www$TRAINYARD_PROXY_PATH" && echo hello-from-podman > "/tmp/www${TRAINYARD_PROXY_PATH}index.html" && exec httpd -f -p "$TRAINYARD_PORT" -h /tmp/www'],
        port,
      });
      await submit(service, {}, 'podman');
      await until(service.id, 'to run', (x) => x.state === 'RUNNING', 120_000);
      const page = await waitFor('the service through the proxy', async () => {
        const response = await proxyFetch(m.url, `/proxy/${service.id}/index.html`, tokens.alice);
        return response.status === 200 ? response.text() : undefined;
      });
      t.is(page.trim(), 'hello-from-podman');
      const terminal = new Terminal(m.url);
      t.is((await terminal.run(['user', 'login', 'alice'], { env: { YARD_PASSWORD: 'pw' } })).code, 0);
      const shell = await terminal.run(['shell', 'open', String(service.id), '--', 'sh', '-c', 'id -u; ls /tmp/www']);
      t.is(shell.code, 0, shell.stderr);
      t.is(shell.stdout.replace(/\r/g, ''), `${alice.uid}\nproxy\n`, 'a shell in the container, as the user');
      t.is((await api(m.url, 'POST', `/tasks/${service.id}/kill`, { token: tokens.alice })).status, 200);
      await until(service.id, 'to be killed', (x) => x.state === 'KILLED');
    },
  );

  test("a task that would run as root is refused before anything is submitted, naming the rule", async (t) => {
    const created = await create('command', { entrypoint: ['true'] });
    const asRoot = { ...created.runSpec, runAs: { uid: 0, user: 'root', gid: 0, group: 'root', supplementaryGroups: [] } };
    const refused = t.throws(() => checkSlurmSpec(asRoot, { name: pool.name, container: 'none' }), { instanceOf: DomainError });
    t.deepEqual(refused.extra.details, { rule: 'slurm.run_as_root', layer: 'pool:hpc' });
    await api(m.url, 'POST', `/tasks/${created.id}/kill`, { token: tokens.alice });
  });

  test('yard task kill: KILLED within the grace, and the job is gone from squeue', async (t) => {
    const created = await create('command', { entrypoint: ['sh', '-c', 'echo started; sleep 300'] });
    const { jobId } = await submit(created);
    await until(created.id, 'to run', (x) => x.state === 'RUNNING');
    await waitFor('its first line', async () => (await logs(created.id)).includes('stdout: started'));
    t.is((await api(m.url, 'POST', `/tasks/${created.id}/kill`, { token: tokens.alice })).status, 200);
    const ended = await until(created.id, 'to be killed', (x) => x.state === 'KILLED');
    t.is(ended.exitCode, 143);
    const job = await jobEnded(jobId);
    t.is(job.state, 'FAILED', 'the job ends with the killed task\'s status (143)');
    t.is(slurmCommand(cluster, 'squeue', ['-h', '-j', String(jobId)]).trim(), '', 'not in squeue');
  });

  test("scancel outside Trainyard: the task ends KILLED with Slurm's reason", async (t) => {
    const created = await create('command', { entrypoint: ['sh', '-c', 'echo started; sleep 300'] });
    const { jobId } = await submit(created);
    await until(created.id, 'to run', (x) => x.state === 'RUNNING');
    await waitFor('its first line', async () => (await logs(created.id)).includes('stdout: started'));
    slurmCommand(cluster, 'scancel', [String(jobId)]);
    const ended = await until(created.id, 'to be killed', (x) => x.state === 'KILLED');
    t.is(ended.message, `the Slurm job ${jobId} was cancelled outside Trainyard (scancel)`);
    t.is(ended.exitCode, 143);
    t.is((await jobEnded(jobId)).state, 'CANCELLED');
  });

  test("Slurm's time limit (max_runtime) ends the task KILLED with RUNTIME_LIMIT", async (t) => {
    // Slurm looks at time limits every 30 s and gives KillWait (10 s) after SIGTERM; a loaded machine adds to both.
    t.timeout(420_000);
    const created = await create('command', { entrypoint: ['sh', '-c', 'echo started; sleep 600'] });
    const { jobId } = await submit(created, { maxRuntimeMs: 30_000 });
    await until(created.id, 'to run', (x) => x.state === 'RUNNING');
    const ended = await until(created.id, 'to reach its time limit', (x) => x.state === 'KILLED', 360_000);
    t.regex(ended.message ?? '', new RegExp(`^RUNTIME_LIMIT: the Slurm job ${jobId} reached its time limit`));
    const job: SlurmJob = await jobEnded(jobId);
    t.like(job, { state: 'TIMEOUT', reason: 'TimeLimit' });
  });

  test('a notebook in a Slurm job answers through /proxy/<id>/, and a shell on it runs id as the user', async (t) => {
    const port = await freePort();
    const created = await create('notebook', { entrypoint: [process.execPath, SERVER], port });
    await submit(created);
    await until(created.id, 'to run', (x) => x.state === 'RUNNING');
    const page = await waitFor('the notebook through the proxy', async () => {
      const response = await proxyFetch(m.url, `/proxy/${created.id}/`, tokens.alice);
      return response.status === 200 ? response.text() : undefined;
    });
    t.regex(page, /yard test service/);
    const terminal = new Terminal(m.url);
    t.is((await terminal.run(['user', 'login', 'alice'], { env: { YARD_PASSWORD: 'pw' } })).code, 0);
    const shell = await terminal.run(['shell', 'open', String(created.id), '--', 'id']);
    t.is(shell.code, 0, shell.stderr);
    t.true(shell.stdout.includes(`uid=${alice.uid}(${alice.name}) gid=${alice.gid}(${alice.name})`), shell.stdout);
    t.is((await api(m.url, 'POST', `/tasks/${created.id}/kill`, { token: tokens.alice })).status, 200);
    await until(created.id, 'to be killed', (x) => x.state === 'KILLED');
  });
}
