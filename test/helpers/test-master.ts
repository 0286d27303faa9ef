import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { parseConfig, startMaster, type Clock, type DbTarget, type Master, type MasterConfigInput, type PasswordHasher } from '@trainyard/master';
import { dropDatabase, storeFor } from './store.js';

/** A clock tests move forward by hand, for expiry rules. */
export class TestClock implements Clock {
  private offsetMs = 0;
  now(): number {
    return Date.now() + this.offsetMs;
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}

export interface TestMaster {
  master: Master;
  url: string;
  dir: string;
  clock: TestClock;
  /** The SQLite file (on PostgreSQL: where it would be; the store is `dbUrl`). */
  dbPath: string;
  /** The PostgreSQL database, when the suite runs on PostgreSQL (YARD_TEST_DB=postgres). */
  dbUrl?: string;
  /** The store as `openDatabase` takes it: the file, or the URL. */
  store: DbTarget;
  logFile: string;
  stop(): Promise<void>;
}

/**
 * The real master, in this test process, on 127.0.0.1 with a random port and its own SQLite
 * file in a temp dir, or (YARD_TEST_DB=postgres) its own PostgreSQL database, made for the dir and
 * found again by a master restarted there. Its log goes to a file there (printed paths help when a
 * test fails).
 */
export async function startTestMaster(
  config: MasterConfigInput = {},
  dir?: string,
  /** configFile: a master.yaml whose `policy` section `yard policy reload` re-reads (write it with the same policy as `config`). */
  options: { hasher?: PasswordHasher; configFile?: string } = {},
): Promise<TestMaster> {
  const workDir = dir ?? (await mkdtemp(path.join(os.tmpdir(), 'yard-test-')));
  const dbPath = config.db?.path ?? path.join(workDir, 'trainyard.db');
  const logFile = path.join(workDir, 'master.log');
  const clock = new TestClock();
  // A fixed port (a restart test): the services' default, port + 1, may be another test's: take any free one.
  const fixedPort = (config.listen?.port ?? 0) !== 0 && config.http?.services_url === undefined && !config.http?.unsafe_services_on_master_origin;
  // `db: {url: undefined}` asks for SQLite whatever the suite runs on (a test of the SQLite file itself).
  const sqliteAsked = config.db !== undefined && 'url' in config.db && config.db.url === undefined;
  const store = config.db?.url === undefined && !sqliteAsked ? await storeFor(workDir) : undefined;
  const full = parseConfig({
    ...config,
    listen: { host: '127.0.0.1', port: 0, ...(fixedPort ? { services_port: 0 } : {}), ...config.listen },
    db: { path: dbPath, ...(store ? { url: store.url } : {}), ...config.db },
    security: {
      ...config.security,
      // Tests share 127.0.0.1; only the throttling test wants the address limit low.
      login_throttle: { max_failures_per_address: 1000, ...config.security?.login_throttle },
    },
    log: { level: 'debug', ...config.log },
  });
  const logger = pino({ level: full.log.level }, pino.destination({ dest: logFile, sync: true }));
  const master = await startMaster({ config: full, clock, logger, ...options });
  return {
    master,
    url: master.url,
    dir: workDir,
    clock,
    dbPath,
    ...(full.db.url === undefined ? {} : { dbUrl: full.db.url }),
    store: full.db.url === undefined ? { path: dbPath } : { url: full.db.url },
    logFile,
    async stop() {
      await master.close();
      if (!dir) {
        await rm(workDir, { recursive: true, force: true });
        if (store?.created) await dropDatabase(store.name);
      }
    },
  };
}
