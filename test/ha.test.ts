// Several masters, one leader (issue 23): two real masters on one PostgreSQL, two real agents and the
// real CLI, all given both masters' URLs. Five rounds of kill -9 of the leader (and its restart) while
// tasks queue and run; then a leader frozen (SIGSTOP) in the middle of an assignment while the other
// takes over. Every task appends to a file when it starts and when it ends, so the file says how often
// it really ran; the usage ledger says how many runs the master recorded; lease_grants says which
// leader's term granted each lease, and leader_terms when each term began and when the lease it took
// over had run out (the database's clock). Failover times are printed, never asserted.
import { readFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import test from 'ava';
import type { Task } from '@trainyard/shared';
import { MasterSet, YardClient } from '@trainyard/shared/client';
import { Terminal } from './helpers/cli.js';
import { freePort, spawnMaster, startAgent, tempDir, waitFor, type AgentProcess, type MasterProcess } from './helpers/cluster.js';
import { createDatabase, dropDatabase, onPostgres, queryPostgres } from './helpers/store.js';

const pgAvailable = Boolean(process.env.YARD_TEST_PG_URL);

if (!onPostgres) {
  if (!pgAvailable) {
    console.error('\n!!! NO POSTGRESQL: the several-masters (ha) tests are NOT running. `npm test` starts one where it can (scripts/postgres.sh up).\n');
  }
  // Several masters need PostgreSQL: this file runs in the suite's PostgreSQL pass (YARD_TEST_DB=postgres).
  test.skip('several masters: run with YARD_TEST_DB=postgres (the PostgreSQL pass of npm test)', () => {});
} else {
  severalMasters();
}

interface Term {
  fencing: number;
  holder: string;
  url: string;
  started_at: number;
  previous_expired_at: number | null;
}
interface Grant {
  task_id: number;
  lease_id: string;
  agent_id: string;
  fencing: number;
  granted_at: number;
}

function severalMasters(): void {
  const dir = tempDir('yard-ha-');
  const counts = path.join(dir, 'counts');
  const FAILOVER = 4000;
  let dbUrl: string;
  let dbName: string;
  const ports: number[] = [];
  const masters: Array<MasterProcess | undefined> = [undefined, undefined];
  const agents: AgentProcess[] = [];
  let term: Terminal;
  const taskIds: number[] = [];

  const config = (dbUrl: string) => ({
    db: { url: dbUrl },
    ha: { enabled: true, failover_timeout: `${FAILOVER / 1000}s` },
    policy: { system: { mounts: { available: [{ host_path: counts }] } } },
    // No agent is lost while masters change hands (a new leader also waits lost_timeout before it judges).
    agents: { heartbeat_interval: '500ms', lost_timeout: '20s', lease_timeout: '10s', kill_grace: '2s' },
  });
  const masterDir = (i: number) => path.join(dir, `master-${i}`);
  const urls = () => ports.map((port) => `http://127.0.0.1:${port}`).join(',');

  async function start(i: number, env: NodeJS.ProcessEnv = {}): Promise<MasterProcess> {
    masters[i] = await spawnMaster(masterDir(i), ports[i]!, config(dbUrl), env);
    return masters[i]!;
  }

  function runAgent(name: string): AgentProcess {
    const workDir = path.join(dir, `agent-${name}`);
    mkdirSync(workDir, { recursive: true });
    // One (test-mode) GPU each, and every task asks for one: two run at a time, the rest wait.
    const agent = startAgent({ url: urls(), tokenFile: masters[0]!.tokenFile }, { name, executor: 'process', workDir, fakeGpus: 1 });
    agents.push(agent);
    return agent;
  }

  /** Which master leads, asked of them (each says its role at /readyz). */
  async function leaderIndex(): Promise<number | undefined> {
    for (const [i, master] of masters.entries()) {
      if (!master || master.child.exitCode !== null || master.child.signalCode !== null) continue;
      const ready = await fetch(`${master.url}/readyz`).then((r) => r.json() as Promise<{ role?: string }>, () => undefined);
      if (ready?.role === 'leader') return i;
    }
    return undefined;
  }

  // Straight from PostgreSQL (bigints come as strings there): numbers.
  const terms = async () =>
    (await queryPostgres<Term>(dbUrl, 'select * from leader_terms order by fencing')).map((r) => ({
      ...r,
      fencing: Number(r.fencing),
      started_at: Number(r.started_at),
      previous_expired_at: r.previous_expired_at === null ? null : Number(r.previous_expired_at),
    }));
  const grants = async () =>
    (await queryPostgres<Grant>(dbUrl, 'select * from lease_grants order by id')).map((r) => ({ ...r, task_id: Number(r.task_id), fencing: Number(r.fencing), granted_at: Number(r.granted_at) }));
  const leaseRow = async () => {
    const row = (await queryPostgres<{ holder: string; fencing: string }>(dbUrl, 'select holder, fencing from leader'))[0]!;
    return { holder: row.holder, fencing: Number(row.fencing) };
  };
  /** The leader's index, for waitFor (which wants something truthy). */
  const leading = async () => {
    const i = await leaderIndex();
    return i === undefined ? undefined : { i };
  };

  /** A task that records each of its runs in `counts/<id>`: `start` when it begins, `end` when it ends. */
  async function submit(name: string, seconds: number): Promise<number> {
    const file = path.join(dir, `${name}.yaml`);
    writeFileSync(
      file,
      JSON.stringify({
        resources: { cpu: 0.5, gpus: 1 },
        bind_mounts: [{ host_path: counts, container_path: counts }],
      }),
    );
    const task = await term.json<Task>(['command', 'run', '--name', name, '-c', file, '--', 'sh', '-c', `echo start >> ${counts}/$TRAINYARD_TASK_ID; sleep ${seconds}; echo end >> ${counts}/$TRAINYARD_TASK_ID`]);
    taskIds.push(task.id);
    return task.id;
  }

  /** The processes' last words, for a failure. */
  function diagnostics(): string {
    return [
      ...masters.map((m, i) => `--- master ${i}:\n${m?.output().slice(-4000) ?? ''}`),
      ...agents.map((a) => `--- agent ${a.name}:\n${a.output().slice(-4000)}`),
    ].join('\n');
  }

  /** Every task's state, through the one typed client given both masters (as the CLI, but without a process per look). */
  let client: YardClient | undefined;
  async function states(): Promise<Map<number, string>> {
    client ??= new YardClient({ baseUrl: '', masters: new MasterSet(urls().split(',')), leaderWaitMs: 30_000 }).withToken(
      (await new YardClient({ baseUrl: '', masters: new MasterSet(urls().split(',')), leaderWaitMs: 30_000 }).call('auth.login', { body: { username: 'yard', password: '' } })).token,
    );
    const page = await client.call('tasks.list', { query: { all: true, limit: 100 } });
    return new Map(page.items.map((t) => [t.id, t.state]));
  }

  test.before(async () => {
    mkdirSync(counts, { recursive: true });
    const db = await createDatabase('yard_ha');
    dbUrl = db.url;
    dbName = db.name;
    for (const i of [0, 1]) {
      mkdirSync(masterDir(i), { recursive: true });
      ports.push(await freePort());
    }
    // One after the other: the first leads, the second stands by.
    await start(0);
    await waitFor('master 0 to lead', async () => (await leaderIndex()) === 0);
    await start(1);
    term = new Terminal(urls());
    runAgent('ha-a');
    runAgent('ha-b');
  });

  test.after.always(async () => {
    for (const agent of agents) await agent.kill('SIGKILL');
    for (const master of masters) {
      if (master?.child.signalCode === 'SIGSTOP') master.child.kill('SIGCONT');
      await master?.kill('SIGKILL');
    }
    if (dbName) await dropDatabase(dbName);
    rmSync(dir, { recursive: true, force: true });
  });

  test.serial('one master leads, the other stands by and names it; the CLI given both URLs works', async (t) => {
    const leader = masters[0]!;
    const standby = masters[1]!;
    const ready = (await (await fetch(`${standby.url}/readyz`)).json()) as { role: string; leader: string };
    t.deepEqual(ready, { status: 'ready', role: 'standby', leader: leader.url } as never);
    const refused = await fetch(`${standby.url}/api/v1/tasks`);
    t.is(refused.status, 503);
    const body = (await refused.json()) as { error: { code: string; details: { leader: string } } };
    t.is(body.error.code, 'NOT_LEADER');
    t.is(body.error.details.leader, leader.url);
    // Pages go to the leader.
    const page = await fetch(`${standby.url}/tasks?x=1`, { redirect: 'manual' });
    t.is(page.status, 307);
    t.is(page.headers.get('location'), `${leader.url}/tasks?x=1`);
    // The CLI is given the standby first: it follows to the leader.
    const listed = await term.run(['task', 'list', '--json']);
    t.is(listed.code, 0, listed.stderr);
    // A context may name both masters (the standby first): without -m, yard follows it to the leader.
    const noMaster = { env: { YARD_MASTER: undefined } };
    const added = await term.run(['context', 'add', 'ha', `${standby.url}, ${leader.url}`, '--use'], noMaster);
    t.is(added.code, 0, added.stderr);
    const contexts = await term.json<{ items: Array<{ name: string; master: string }> }>(['context', 'list'], noMaster);
    t.is(contexts.items.find((c) => c.name === 'ha')?.master, `${standby.url},${leader.url}`);
    const viaContext = await term.run(['task', 'list', '--json'], noMaster);
    t.is(viaContext.code, 0, viaContext.stderr);
    const lease = await leaseRow();
    t.is(lease.fencing, 1);
    // Each answers /metrics for itself: whether it leads (the sum over the masters is what an alert watches).
    const leads = async (url: string) => /^trainyard_leader (\d+)$/m.exec(await (await fetch(`${url}/metrics`)).text())?.[1];
    t.is(await leads(leader.url), '1');
    t.is(await leads(standby.url), '0');
  });

  test.serial('kill -9 of the leader, five rounds: a standby leads, tasks keep running and report to it, queued ones are dispatched, nothing runs twice', async (t) => {
    const failovers: number[] = [];
    for (let round = 1; round <= 5; round++) {
      // 20 tasks in all: eight first (two run, one on each agent's GPU, six wait), then three a round.
      const count = round === 1 ? 8 : 3;
      await Promise.all(Array.from({ length: count }, (_, i) => submit(`r${round}-${i}`, 5 + (i % 3))));
      let seen: Map<number, string> | undefined;
      const before = await waitFor('tasks running and waiting before the kill', async () => {
        const now = (seen = await states());
        const values = [...now.values()];
        return values.includes('RUNNING') && values.includes('QUEUED') ? now : undefined;
      }, 60_000).catch((error: Error) => {
        throw new Error(`${error.message}: ${JSON.stringify([...(seen ?? [])])}\n${diagnostics()}`);
      });
      const running = [...before.values()].filter((s) => s === 'RUNNING').length;
      const queued = [...before.values()].filter((s) => s === 'QUEUED' || s === 'ASSIGNED').length;
      const victim = (await waitFor('a leader', leading, 30_000)).i;
      const survivor = 1 - victim;
      const { fencing: oldFencing } = await leaseRow();
      const killedAt = Date.now();
      await masters[victim]!.kill('SIGKILL');
      // The CLI, given both URLs, works throughout: it waits for the standby to lead.
      const listed = await term.run(['task', 'list', '-a', '--json']);
      t.is(listed.code, 0, `round ${round}: yard task list during the failover: ${listed.stderr}`);
      await waitFor(`master ${survivor} to lead`, async () => (await leaderIndex()) === survivor, 30_000);
      const newTerm = (await terms()).at(-1)!;
      t.true(newTerm.fencing > oldFencing, `round ${round}: a new term (fencing ${newTerm.fencing} after ${oldFencing})`);
      t.is(newTerm.url, masters[survivor]!.url);
      // The first task the new leader dispatched: the failover as users feel it (when something was queued).
      const firstGrant = queued > 0
        ? await waitFor('the new leader to dispatch', async () => (await grants()).find((g) => g.fencing === newTerm.fencing), 60_000)
        : undefined;
      const failover = firstGrant ? firstGrant.granted_at - killedAt : undefined;
      if (failover !== undefined) failovers.push(failover);
      t.log(
        `round ${round}: ${running} running, ${queued} waiting; master ${victim} killed; master ${survivor} leads under fencing ${newTerm.fencing} ` +
          `${newTerm.started_at - killedAt} ms after the kill` +
          (failover === undefined ? '' : `, and dispatched task ${firstGrant!.task_id} ${failover} ms after it`),
      );
      // The killed master comes back, and stands by.
      await start(victim);
      await waitFor(`master ${victim} to stand by`, async () => {
        const ready = (await (await fetch(`${masters[victim]!.url}/readyz`)).json()) as { role: string };
        return ready.role === 'standby';
      });
    }
    console.error(`[ha] failover (kill -9 of the leader -> first task dispatched by the new one): ${failovers.map((ms) => `${ms} ms`).join(', ')} (ha.failover_timeout ${FAILOVER} ms)`);

    const ended = await waitFor('all 20 tasks to end', async () => {
      const now = await states();
      return taskIds.every((id) => ['COMPLETED', 'FAILED', 'KILLED', 'LOST'].includes(now.get(id) ?? '')) ? now : undefined;
    }, 120_000).catch((error: Error) => {
      throw new Error(`${error.message}\n${agents.map((a) => a.output().slice(-3000)).join('\n')}`);
    });
    t.is(taskIds.length, 20);
    for (const id of taskIds) {
      t.is(ended.get(id), 'COMPLETED', `task ${id}`);
      const file = path.join(counts, String(id));
      t.is(existsSync(file) ? readFileSync(file, 'utf8') : '', 'start\nend\n', `task ${id} ran exactly once, to its end`);
    }
    // The master's own record agrees: one run per task in the usage ledger, COMPLETED.
    const runs = await queryPostgres<{ task_id: number; n: number; outcome: string }>(
      dbUrl,
      'select task_id, count(*)::int as n, max(outcome) as outcome from usage_runs where task_id = any($1) group by task_id',
      [taskIds],
    );
    t.is(runs.length, 20);
    for (const run of runs) t.deepEqual({ n: run.n, outcome: run.outcome }, { n: 1, outcome: 'COMPLETED' }, `task ${run.task_id}'s runs`);
    await checkTerms(t);
  });

  test.serial('a leader frozen (SIGSTOP) in the middle of an assignment stops dispatching before the other takes over: no task is assigned by two masters', async (t) => {
    // The standby is restarted to freeze itself before its first assignment, and made the leader.
    const first = (await waitFor('a leader', leading, 30_000)).i;
    const frozen = 1 - first;
    await masters[frozen]!.kill('SIGKILL');
    await start(frozen, { YARD_TEST_STOP_AT: 'master:before-assign' });
    // No agent takes anything while the tasks are submitted: they wait for the frozen master's dispatch.
    for (const agent of agents.splice(0)) await agent.kill('SIGKILL');
    await masters[first]!.kill('SIGKILL');
    await waitFor(`master ${frozen} to lead`, async () => (await leaderIndex()) === frozen, 30_000);
    await start(first);
    const { fencing: frozenFencing } = await leaseRow();
    const ids = [await submit('frozen-0', 1), await submit('frozen-1', 1), await submit('frozen-2', 1)];
    runAgent('ha-a');
    runAgent('ha-b');
    const victim = masters[frozen]!;
    await waitFor('the leader to freeze before its first assignment', () => /YARD_TEST_STOP_AT=master:before-assign/.test(victim.output()), 30_000);
    await waitFor('the process to be stopped', () => readFileSync(`/proc/${victim.child.pid}/stat`, 'utf8').split(') ')[1]?.startsWith('T'));
    // The other master takes over once the frozen one's lease ran out by the database's clock.
    await waitFor(`master ${first} to take over`, async () => (await leaseRow()).fencing > frozenFencing, 30_000);
    const takeover = (await terms()).at(-1)!;
    t.is(takeover.url, masters[first]!.url);
    t.true(takeover.started_at > takeover.previous_expired_at!, 'the lease had run out before it was taken');
    // The frozen master wakes up in the middle of its assignment: it no longer leads, and assigns nothing.
    victim.child.kill('SIGCONT');
    const ended = await waitFor('the three tasks to end', async () => {
      const now = await states();
      return ids.every((id) => ['COMPLETED', 'FAILED', 'KILLED', 'LOST'].includes(now.get(id) ?? '')) ? now : undefined;
    }, 90_000).catch((error: Error) => {
      throw new Error(`${error.message}\nfrozen master:\n${victim.output().slice(-4000)}`);
    });
    for (const id of ids) {
      t.is(ended.get(id), 'COMPLETED');
      t.is(readFileSync(path.join(counts, String(id)), 'utf8'), 'start\nend\n', `task ${id} ran exactly once`);
    }
    const theirs = (await grants()).filter((g) => ids.includes(g.task_id));
    t.deepEqual(theirs.filter((g) => g.fencing === frozenFencing), [], 'the frozen master granted no lease');
    t.true(theirs.every((g) => g.fencing === takeover.fencing), 'every lease of them was granted by the master that took over');
    t.regex(victim.output(), /no longer leading/);
    await checkTerms(t);
  });

  /**
   * What the records prove about every term: each began only after the lease before it had run out
   * (the database's clock), fencing numbers follow one another, and every lease was granted by the
   * term that held at that moment (its master's clock; the database runs on the same machine here),
   * never by a master after the next term began.
   */
  async function checkTerms(t: import('ava').ExecutionContext): Promise<void> {
    const all = await terms();
    all.forEach((term, i) => {
      if (i === 0) return;
      t.is(term.fencing, all[i - 1]!.fencing + 1, 'terms follow one another');
      t.true(term.previous_expired_at !== null && term.started_at > term.previous_expired_at, `term ${term.fencing} began after the lease before it ran out`);
    });
    // Times: epoch milliseconds of two clocks of this machine (the master's Date.now, PostgreSQL's clock_timestamp() rounded): 1 ms apart at most.
    for (const grant of await grants()) {
      const held = all.find((term) => term.fencing === grant.fencing);
      const next = all.find((term) => term.fencing === grant.fencing + 1);
      t.truthy(held, `lease ${grant.lease_id} names term ${grant.fencing}`);
      t.true(grant.granted_at + 1 >= held!.started_at, `task ${grant.task_id}'s lease was granted in term ${grant.fencing}, after it began`);
      if (next) t.true(grant.granted_at < next.started_at + 1, `task ${grant.task_id}'s lease (term ${grant.fencing}) was granted before term ${next.fencing} began`);
    }
  }
}
