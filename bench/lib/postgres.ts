import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { ROOT } from './processes.js';

export interface BenchPostgres {
  /** A new, empty database for one master; its URL. */
  createDatabase(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * The PostgreSQL the bench measures beside SQLite: YARD_BENCH_PG_URL (a server the bench may create
 * databases on), else a throwaway one from scripts/postgres.sh where PostgreSQL is installed (never
 * installed by the bench); undefined when there is none, and P1/P3 run on SQLite only.
 */
export async function benchPostgres(log: (line: string) => void): Promise<BenchPostgres | undefined> {
  let adminUrl = process.env.YARD_BENCH_PG_URL;
  let dir: string | undefined;
  if (!adminUrl) {
    const installed = readdirSafe('/usr/lib/postgresql').some((version) => readdirSafe(path.join('/usr/lib/postgresql', version, 'bin')).includes('initdb'));
    if (!installed) {
      log('no PostgreSQL (set YARD_BENCH_PG_URL, or install Debian\'s postgresql): P1 and P3 on SQLite only');
      return undefined;
    }
    const up = spawnSync('bash', [path.join(ROOT, 'scripts', 'postgres.sh'), 'up'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    const env = Object.fromEntries(up.stdout.split('\n').filter((l) => l.includes('=')).map((l) => l.split('=', 2) as [string, string]));
    if (up.status !== 0 || !env.YARD_TEST_PG_URL) {
      log('PostgreSQL did not start (scripts/postgres.sh up): P1 and P3 on SQLite only');
      return undefined;
    }
    adminUrl = env.YARD_TEST_PG_URL;
    dir = env.YARD_TEST_PG_DIR;
  }
  const made: string[] = [];
  const admin = async (text: string) => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      await client.query(text);
    } finally {
      await client.end();
    }
  };
  return {
    async createDatabase() {
      const name = `yard_bench_${randomBytes(4).toString('hex')}`;
      await admin(`create database ${name}`);
      made.push(name);
      const url = new URL(adminUrl);
      url.pathname = `/${name}`;
      return url.toString();
    },
    async stop() {
      for (const name of made) await admin(`drop database if exists ${name} with (force)`).catch(() => undefined);
      if (dir) spawnSync('bash', [path.join(ROOT, 'scripts', 'postgres.sh'), 'down', dir], { stdio: 'inherit' });
    },
  };
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
