import type { AddressInfo } from 'node:net';
import http from 'node:http';
import pino, { type Logger } from 'pino';
import { agentApiRoutes } from './agents/agent-api-routes.js';
import { agentRoutes } from './agents/agent-routes.js';
import { AgentService } from './agents/agent-service.js';
import { AgentTokenService } from './agents/agent-token-service.js';
import { requireAgent } from './agents/require-agent.js';
import { AuthBackends } from './auth/auth-backends.js';
import type { DirectoryGroupSync } from './auth/directory-groups.js';
import { systemClock, type Clock } from './clock.js';
import type { MasterConfig } from './config/config-schema.js';
import { openDatabase, type OpenedDatabase } from './db/database.js';
import { createApp } from './http/app.js';
import { requireUser } from './http/authenticate.js';
import { DEFAULT_WEB_ROOT } from './http/web-ui.js';
import { Scheduler } from './scheduler/scheduler.js';
import { LoginThrottle } from './sessions/login-throttle.js';
import { loginRoutes, sessionRoutes } from './sessions/session-routes.js';
import { SessionService } from './sessions/session-service.js';
import { RunReports } from './tasks/run-reports.js';
import { TaskEvents } from './tasks/task-events.js';
import { taskRoutes } from './tasks/task-routes.js';
import { TaskService } from './tasks/task-service.js';
import { createArgon2Hasher, type PasswordHasher } from './users/password-hasher.js';
import { userRoutes } from './users/user-routes.js';
import { UserService } from './users/user-service.js';

export interface MasterOptions {
  config: MasterConfig;
  clock?: Clock;
  logger?: Logger;
  hasher?: PasswordHasher;
  /** How often lost agents and expired leases are looked for (default 1 s). */
  monitorIntervalMs?: number;
  /** Applies LDAP group membership to Trainyard groups (`auth.ldap.groups.map`); the groups domain provides it. */
  directoryGroups?: DirectoryGroupSync;
}

export interface Master {
  readonly url: string;
  readonly database: OpenedDatabase;
  readonly services: {
    users: UserService;
    sessions: SessionService;
    tasks: TaskService;
    agents: AgentService;
    agentTokens: AgentTokenService;
    scheduler: Scheduler;
  };
  close(): Promise<void>;
}

/** Wires the domains together and listens; everything a test or main() needs to run a master. */
export async function startMaster(options: MasterOptions): Promise<Master> {
  const { config } = options;
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? pino({ level: config.log.level });
  const hasher = options.hasher ?? createArgon2Hasher();
  // First: it reads the secrets and files auth.* names, and refuses to start without them.
  const auth = AuthBackends.fromConfig(config.auth, { hasher, logger });
  const database = await openDatabase(config.db.path);
  const { db } = database;

  const users = new UserService({ db, clock, hasher, auth, passwordMinLength: config.security.password_policy.min_length });
  const throttle = new LoginThrottle({
    maxFailuresPerUser: config.security.login_throttle.max_failures_per_user,
    maxFailuresPerAddress: config.security.login_throttle.max_failures_per_address,
    windowMs: config.security.login_throttle.window,
  });
  const sessions = new SessionService({
    db,
    clock,
    logger,
    users,
    auth,
    ...(options.directoryGroups ? { directoryGroups: options.directoryGroups } : {}),
    throttle,
    sessionTtlMs: config.security.session_ttl,
  });

  // The task service tells the scheduler about queue and capacity changes; the scheduler is built next.
  let scheduler: Scheduler | undefined;
  const tasks = new TaskService({
    db,
    clock,
    events: new TaskEvents(),
    defaultTask: config.security.default_task,
    taskDefaults: { images: config.tasks.images },
    onQueued: (id) => scheduler?.taskQueued(id),
    onKillRequested: (agentId) => scheduler?.killRequested(agentId),
    onCapacityFreed: () => scheduler?.capacityChanged(),
  });
  scheduler = new Scheduler({
    db,
    clock,
    logger,
    tasks,
    options: {
      leaseTimeoutMs: config.agents.lease_timeout,
      killGraceMs: config.agents.kill_grace,
      allowPull: config.agents.allow_pull,
    },
  });
  const agentTokens = new AgentTokenService({ db, clock });
  const agents = new AgentService({
    db,
    clock,
    logger,
    tasks,
    scheduler,
    timings: { heartbeatIntervalMs: config.agents.heartbeat_interval, lostTimeoutMs: config.agents.lost_timeout },
  });
  const reports = new RunReports({ db, tasks });

  if (await users.bootstrap(config.security.initial_admin_password)) {
    logger.info('first start: created users "admin" and "yard"');
  }
  await sessions.purgeExpired();
  if (config.agents.token_file) await agentTokens.ensureTokenFile(config.agents.token_file);

  const userAuth = requireUser(sessions);
  const app = createApp({
    logger,
    bodyLimit: config.http.body_limit,
    webRoot: config.http.web_root ?? DEFAULT_WEB_ROOT,
    routers: [
      loginRoutes(sessions),
      sessionRoutes(sessions, users, userAuth),
      userRoutes(users, userAuth),
      taskRoutes(tasks, userAuth),
      agentRoutes(agents, agentTokens, userAuth),
      agentApiRoutes({ agents, scheduler, reports }, requireAgent(agentTokens)),
    ],
  });

  const server = http.createServer(app.callback());
  server.keepAliveTimeout = 65_000;
  // Long polls hold requests for up to a minute.
  server.requestTimeout = 120_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.listen.port, config.listen.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host;
  const url = `http://${host}:${port}`;
  logger.info({ url, db: config.db.path }, 'master listening');

  // Lost agents and unacknowledged leases are found by looking, not by waiting for a request.
  let monitoring = false;
  const monitor = setInterval(() => {
    if (monitoring) return;
    monitoring = true;
    Promise.all([agents.markLost(), scheduler.expireLeases()])
      .catch((error: unknown) => logger.error({ err: error }, 'agent monitor failed'))
      .finally(() => (monitoring = false));
  }, options.monitorIntervalMs ?? 1000);
  monitor.unref();

  return {
    url,
    database,
    services: { users, sessions, tasks, agents, agentTokens, scheduler },
    async close() {
      clearInterval(monitor);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await database.close();
    },
  };
}
