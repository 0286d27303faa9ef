import type { AddressInfo } from 'node:net';
import http from 'node:http';
import pino, { type Logger } from 'pino';
import { systemClock, type Clock } from './clock.js';
import type { MasterConfig } from './config/config-schema.js';
import { openDatabase, type OpenedDatabase } from './db/database.js';
import { createApp } from './http/app.js';
import { authenticate } from './http/authenticate.js';
import { LoginThrottle } from './sessions/login-throttle.js';
import { loginRoutes, sessionRoutes } from './sessions/session-routes.js';
import { SessionService } from './sessions/session-service.js';
import { createArgon2Hasher, type PasswordHasher } from './users/password-hasher.js';
import { userRoutes } from './users/user-routes.js';
import { Scheduler } from './scheduler/scheduler.js';
import { TaskEvents } from './tasks/task-events.js';
import { taskRoutes } from './tasks/task-routes.js';
import { TaskService } from './tasks/task-service.js';
import { UserService } from './users/user-service.js';

export interface MasterOptions {
  config: MasterConfig;
  clock?: Clock;
  logger?: Logger;
  hasher?: PasswordHasher;
}

export interface Master {
  readonly url: string;
  readonly database: OpenedDatabase;
  readonly services: { users: UserService; sessions: SessionService; tasks: TaskService };
  close(): Promise<void>;
}

/** Wires the domains together and listens; everything a test or main() needs to run a master. */
export async function startMaster(options: MasterOptions): Promise<Master> {
  const { config } = options;
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? pino({ level: config.log.level });
  const hasher = options.hasher ?? createArgon2Hasher();
  const database = await openDatabase(config.db.path);
  const { db } = database;

  const users = new UserService({ db, clock, hasher, passwordMinLength: config.security.password_policy.min_length });
  const throttle = new LoginThrottle({
    maxFailuresPerUser: config.security.login_throttle.max_failures_per_user,
    maxFailuresPerAddress: config.security.login_throttle.max_failures_per_address,
    windowMs: config.security.login_throttle.window,
  });
  const sessions = new SessionService({ db, clock, hasher, throttle, sessionTtlMs: config.security.session_ttl });

  const scheduler = new Scheduler(logger);
  const tasks = new TaskService({
    db,
    clock,
    events: new TaskEvents(),
    defaultTask: config.security.default_task,
    taskDefaults: { images: config.tasks.images },
    onQueued: (id) => scheduler.taskQueued(id),
  });

  if (await users.bootstrap(config.security.initial_admin_password)) {
    logger.info('first start: created users "admin" and "yard"');
  }
  await sessions.purgeExpired();

  const app = createApp({
    logger,
    bodyLimit: config.http.body_limit,
    routes: {
      open: [loginRoutes(sessions)],
      guard: authenticate(sessions),
      authenticated: [sessionRoutes(sessions, users), userRoutes(users), taskRoutes(tasks)],
    },
  });

  const server = http.createServer(app.callback());
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.listen.port, config.listen.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host;
  const url = `http://${host}:${port}`;
  logger.info({ url, db: config.db.path }, 'master listening');

  return {
    url,
    database,
    services: { users, sessions, tasks },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await database.close();
    },
  };
}
