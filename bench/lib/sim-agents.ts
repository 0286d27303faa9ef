import { spawn } from 'node:child_process';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ROOT } from './processes.js';

const now = () => performance.timeOrigin + performance.now();

export interface SimAgents {
  /** Task id -> when an agent received its assignment (the workers' clock, over IPC). */
  assignedAt: Map<number, number>;
  count: number;
  /** Waits until every simulated agent is registered, then lets them settle into their long polls. */
  ready(userToken: string): Promise<void>;
  /** Asks them to stop after their current poll. */
  finish(): void;
  kill(): Promise<void>;
}

/** `agents` simulated agents (bench/lib/agent-sim-worker.ts) in `workers` processes, as P2 and P8 use them. */
export function startSimAgents(master: { url: string }, agentToken: string, options: { agents: number; workers: number; prefix: string }): SimAgents {
  const assignedAt = new Map<number, number>();
  const perWorker = Math.ceil(options.agents / options.workers);
  const workers = Array.from({ length: options.workers }, (_, w) => {
    const input = JSON.stringify({ url: master.url, token: agentToken, count: perWorker, prefix: `${options.prefix}${w}` });
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', 'lib', 'agent-sim-worker.ts'), input], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    });
    child.on('message', (m: { taskId?: number; at?: number }) => {
      if (m.taskId !== undefined) assignedAt.set(m.taskId, m.at!);
    });
    return child;
  });
  const count = perWorker * options.workers;
  return {
    assignedAt,
    count,
    async ready(userToken) {
      const registered = async () => {
        const response = await fetch(`${master.url}/api/v1/agents`, { headers: { authorization: `Bearer ${userToken}` } });
        return ((await response.json()) as { items: unknown[] }).items.length;
      };
      const deadline = Date.now() + 60_000;
      while ((await registered()) < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
      await new Promise((r) => setTimeout(r, 2000));
    },
    finish() {
      for (const w of workers) w.send('stop');
    },
    async kill() {
      await new Promise((r) => setTimeout(r, 200));
      for (const w of workers) w.kill('SIGKILL');
    },
  };
}

/**
 * Submits `rate` tasks a second for `seconds` (`submit(i)` returns the new task's id) and waits for
 * the simulated agents to receive them: submit -> received latencies, and the master's own share
 * (created -> assigned, both its clock) from its database file.
 */
export async function measureDispatch(
  sims: SimAgents,
  dbFile: string,
  options: { rate: number; seconds: number; submit: (i: number) => Promise<number> },
): Promise<{ total: number; latencies: number[]; masterSide: number[] }> {
  const submittedAt = new Map<number, number>();
  const total = options.rate * options.seconds;
  const started = now();
  for (let i = 0; i < total; i++) {
    const wait = started + (i * 1000) / options.rate - now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const at = now();
    submittedAt.set(await options.submit(i), at);
  }
  const waitAll = Date.now() + 15_000;
  while (sims.assignedAt.size < total && Date.now() < waitAll) await new Promise((r) => setTimeout(r, 100));
  const latencies = [...submittedAt].filter(([id]) => sims.assignedAt.has(id)).map(([id, at]) => sims.assignedAt.get(id)! - at);
  const db = new Database(dbFile, { readonly: true });
  const masterSide = (db.prepare('select assigned_at - created_at as ms from tasks where assigned_at is not null').all() as Array<{ ms: number }>).map((r) => r.ms);
  db.close();
  return { total, latencies, masterSide };
}
