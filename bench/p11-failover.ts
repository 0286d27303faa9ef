import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { MasterSet, TransportError, YardClient } from '@trainyard/shared/client';
import { AGENT_BIN, freePort, startMaster, stopChild, tempDir, type BenchMaster } from './lib/processes.js';
import { percentile } from './stats.js';

/**
 * The failover as users feel it (issue 23): two masters on one PostgreSQL (`ha`), one agent given both
 * URLs. Each round kills the leader with SIGKILL, submits a task through a client given both URLs
 * (it waits for a master to lead), and measures from the kill to the moment the new leader granted
 * the task's lease (`lease_grants.granted_at`, the master's clock, this machine's); then restarts the
 * killed master, which stands by.
 */
export async function p11(options: { dbUrl: string; rounds: number; failoverTimeoutMs: number }) {
  const dir = tempDir();
  const ports = [await freePort(), await freePort()];
  const urls = ports.map((port) => `http://127.0.0.1:${port}`);
  const masters: Array<BenchMaster | undefined> = [undefined, undefined];
  const start = async (i: number) => {
    mkdirSync(path.join(dir, `m${i}`), { recursive: true });
    masters[i] = await startMaster(path.join(dir, `m${i}`), {
      listen: { host: '127.0.0.1', port: ports[i], services_port: 0 },
      db: { url: options.dbUrl },
      ha: { enabled: true, failover_timeout: `${options.failoverTimeoutMs}ms` },
    });
  };
  const role = async (i: number) =>
    ((await fetch(`${urls[i]}/readyz`).then((r) => r.json(), () => ({}))) as { role?: string }).role;
  const waitFor = async <T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await check();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`P11: ${what} did not happen within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const db = new pg.Client({ connectionString: options.dbUrl });
  let agent: ReturnType<typeof spawn> | undefined;
  try {
    await start(0);
    await waitFor('master 0 to lead', async () => ((await role(0)) === 'leader' ? true : undefined));
    await start(1);
    await db.connect();
    agent = spawn(process.execPath, [AGENT_BIN, '--master', urls.join(','), '--token-file', masters[0]!.tokenFile, '--name', 'bench-failover', '--executor', 'process', '--work-dir', dir], {
      stdio: 'ignore',
    });
    const anonymous = new YardClient({ baseUrl: '', masters: new MasterSet(urls), leaderWaitMs: 60_000 });
    const client = anonymous.withToken((await anonymous.call('auth.login', { body: { username: 'admin', password: '' } })).token);
    const submit = async (): Promise<{ id: number }> => {
      for (;;) {
        try {
          return await client.call('tasks.create', { body: { kind: 'command', config: { entrypoint: ['true'] } } });
        } catch (error) {
          // A kept-alive connection to the master just killed: the submission never reached a live
          // master (its process is gone), so it is sent again; the client itself never resends a write.
          if (!(error instanceof TransportError && error.kind === 'unreachable')) throw error;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
    };
    const granted = (id: number) =>
      waitFor(`task ${id}'s lease`, async () => {
        const row = (await db.query<{ granted_at: string }>('select granted_at from lease_grants where task_id = $1', [id])).rows[0];
        return row ? Number(row.granted_at) : undefined;
      });
    // The agent is known to both masters and takes work.
    await granted((await submit()).id);
    const failovers: number[] = [];
    for (let round = 0; round < options.rounds; round++) {
      const leader = await waitFor('a leader', async () => {
        for (const i of [0, 1]) if ((await role(i)) === 'leader') return i;
        return undefined;
      });
      const killedAt = Date.now();
      masters[leader]!.child.kill('SIGKILL');
      const { id } = await submit();
      failovers.push((await granted(id)) - killedAt);
      await start(leader);
      await waitFor(`master ${leader} to stand by`, async () => ((await role(leader)) === 'standby' ? true : undefined));
    }
    return { rounds: options.rounds, failoverTimeoutMs: options.failoverTimeoutMs, failoversMs: failovers, p50Ms: percentile(failovers, 50), maxMs: Math.max(...failovers) };
  } finally {
    if (agent) await stopChild(agent);
    for (const master of masters) await master?.stop();
    await db.end().catch(() => undefined);
  }
}
