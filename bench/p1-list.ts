import path from 'node:path';
import { load, startServer, type LoadResult } from './lib/load.js';
import { login, startMaster, tempDir, type BenchMaster } from './lib/processes.js';
import { seedTasks, seedTasksPostgres } from './seed.js';

export interface Seeded {
  master: BenchMaster;
  /** The SQLite file, or (`pgUrl`) the PostgreSQL database the master uses. */
  dbPath?: string;
  pgUrl?: string;
  token: string;
}

/** A master on a fresh database (SQLite in its dir, or the PostgreSQL database `pgUrl`) seeded with `tasks` tasks (owned by admin and yard). */
export async function seededMaster(tasks: number, pgUrl?: string): Promise<Seeded> {
  const dir = tempDir();
  const config = pgUrl ? { db: { url: pgUrl } } : {};
  const first = await startMaster(dir, config);
  await first.stop();
  const dbPath = path.join(dir, 'bench.db');
  if (pgUrl) await seedTasksPostgres(pgUrl, tasks, [1, 2]);
  else seedTasks(dbPath, tasks, [1, 2]);
  const master = await startMaster(dir, config);
  return { master, ...(pgUrl ? { pgUrl } : { dbPath }), token: await login(master.url) };
}

export const listLoad = (url: string, token: string, durationSeconds: number) =>
  load({ url: `${url}/api/v1/tasks?limit=50`, connections: 50, durationSeconds, headers: { authorization: `Bearer ${token}` } });

export interface P1Result {
  master: LoadResult;
  ceiling: LoadResult;
  ratio: number;
}

/** P1: the list API under 50 connections vs a bare node:http server running the same SQL on the same database. */
export async function p1(seeded: Seeded, seconds: number): Promise<P1Result> {
  await listLoad(seeded.master.url, seeded.token, 2); // warm up
  const master = await listLoad(seeded.master.url, seeded.token, seconds);
  const ceilingServer = await startServer('lib/ceiling-server.ts', { dbPath: seeded.dbPath, pgUrl: seeded.pgUrl, ownerId: 1 });
  try {
    await load({ url: ceilingServer.url, connections: 50, durationSeconds: 2 });
    const ceiling = await load({ url: ceilingServer.url, connections: 50, durationSeconds: seconds });
    return { master, ceiling, ratio: master.requestsPerSecond / ceiling.requestsPerSecond };
  } finally {
    ceilingServer.stop();
  }
}

/** P5: P1's p99 while 20 logins a second hash passwords, against P1's p99 alone (from `baseline`). */
export async function p5(seeded: { master: BenchMaster; token: string }, seconds: number, baseline: LoadResult) {
  let logins = 0;
  let failures = 0;
  const timer = setInterval(() => {
    logins++;
    login(seeded.master.url).catch(() => failures++);
  }, 50);
  try {
    const underLoad = await listLoad(seeded.master.url, seeded.token, seconds);
    return { baselineP99Ms: baseline.p99Ms, withLoginsP99Ms: underLoad.p99Ms, ratio: underLoad.p99Ms / baseline.p99Ms, logins, failures };
  } finally {
    clearInterval(timer);
  }
}

/** P6: P1's p50 with 10k tasks against 1M tasks. */
export async function p6(seconds: number, small = 10_000, large = 1_000_000) {
  const measure = async (tasks: number) => {
    const seeded = await seededMaster(tasks);
    try {
      await listLoad(seeded.master.url, seeded.token, 2);
      return await listLoad(seeded.master.url, seeded.token, seconds);
    } finally {
      await seeded.master.stop();
    }
  };
  const a = await measure(small);
  const b = await measure(large);
  return { small, large, smallP50Ms: a.p50Ms, largeP50Ms: b.p50Ms, ratio: b.p50Ms / Math.max(a.p50Ms, 0.001) };
}
