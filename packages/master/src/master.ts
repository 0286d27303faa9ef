import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { createSecureContext } from 'node:tls';
import pino, { type Logger } from 'pino';
import { Admission } from './admission/admission.js';
import { policyRoutes } from './admission/policy-routes.js';
import { PolicyStore } from './admission/policy-store.js';
import { agentApiRoutes } from './agents/agent-api-routes.js';
import { agentRoutes } from './agents/agent-routes.js';
import { AgentService } from './agents/agent-service.js';
import { AgentTokenService } from './agents/agent-token-service.js';
import { OneShotAgents } from './agents/one-shot-placement.js';
import { requireAgent } from './agents/require-agent.js';
import { auditRoutes } from './audit/audit-routes.js';
import { AuditService } from './audit/audit-service.js';
import { AuthBackends } from './auth/auth-backends.js';
import { ActorResolver } from './authz/actor-resolver.js';
import type { Guards, RouteInfo } from './authz/routes.js';
import { systemClock, type Clock } from './clock.js';
import type { MasterConfig } from './config/config-schema.js';
import { openDatabase, redactUrl, type OpenedDatabase } from './db/database.js';
import { DirectoryGroups } from './groups/directory-groups.js';
import { groupRoutes } from './groups/group-routes.js';
import { GroupService } from './groups/group-service.js';
import { GroupUnixService } from './groups/group-unix-service.js';
import { leaderGate } from './ha/leader-gate.js';
import { Leadership, leaseTimings, ONE_MASTER, type Fence } from './ha/leadership.js';
import { createApp } from './http/app.js';
import { upgradeHandler } from './http/upgrade.js';
import { ImageOperations } from './images/image-operations.js';
import { imageRoutes } from './images/image-routes.js';
import { ImageService } from './images/image-service.js';
import { InteractiveService } from './interactive/interactive-service.js';
import { interactiveRoutes } from './interactive/interactive-routes.js';
import { loginRedirect, serviceProxy } from './interactive/service-proxy.js';
import { ServicesOrigin } from './interactive/services-origin.js';
import { TunnelBroker } from './interactive/tunnel-broker.js';
import { requireUser } from './http/authenticate.js';
import { answerClientError } from './http/client-error.js';
import { Site } from './http/site.js';
import { DEFAULT_WEB_ROOT } from './http/web-ui.js';
import { BudgetWatch } from './quotas/budget-watch.js';
import { GuaranteeService } from './quotas/guarantee-service.js';
import { quotaRoutes } from './quotas/quota-routes.js';
import { QuotaService } from './quotas/quota-service.js';
import { RuntimeLimits } from './quotas/runtime-limits.js';
import { roleRoutes } from './roles/role-routes.js';
import { RoleService } from './roles/role-service.js';
import { AgentChannel } from './resource-managers/agents/agent-channel.js';
import { checkManagersBuilt, createManagers } from './resource-managers/managers.js';
import { poolRoutes } from './resource-managers/pool-routes.js';
import { Pools } from './resource-managers/pools.js';
import { Scheduler } from './scheduler/scheduler.js';
import { LoginThrottle } from './sessions/login-throttle.js';
import { sessionRoutes } from './sessions/session-routes.js';
import { SessionService } from './sessions/session-service.js';
import { RunReports } from './tasks/run-reports.js';
import { TaskEvents } from './tasks/task-events.js';
import { taskRoutes } from './tasks/task-routes.js';
import { TaskService } from './tasks/task-service.js';
import { tokenRoutes } from './tokens/token-routes.js';
import { TokenService } from './tokens/token-service.js';
import { createArgon2Hasher, type PasswordHasher } from './users/password-hasher.js';
import { userRoutes } from './users/user-routes.js';
import { versionRoutes } from './http/version-routes.js';
import { agentStatus, MasterMetrics, type StoreSnapshot } from './metrics/master-metrics.js';
import { metricsRoutes } from './metrics/metrics-routes.js';
import { metricsTokenHash } from './metrics/metrics-token.js';
import { observeRequests } from './metrics/observe-requests.js';
import { openApiRoutes } from './openapi/openapi-routes.js';
import { UserService } from './users/user-service.js';
import { ClusterService } from './usage/cluster-service.js';
import { usageRoutes } from './usage/usage-routes.js';
import { UsageService } from './usage/usage-service.js';

export interface MasterOptions {
  config: MasterConfig;
  /** master.yaml, when the config came from one: `yard policy reload` and SIGHUP read its policy again. */
  configFile?: string;
  clock?: Clock;
  logger?: Logger;
  hasher?: PasswordHasher;
  /** How often lost agents and expired leases are looked for (default 1 s). */
  monitorIntervalMs?: number;
}

export interface Master {
  readonly url: string;
  readonly database: OpenedDatabase;
  /** Every route with its bound check (docs/routes.md is made from this). */
  readonly routes: RouteInfo[];
  readonly services: {
    audit: AuditService;
    users: UserService;
    groups: GroupService;
    roles: RoleService;
    sessions: SessionService;
    tokens: TokenService;
    tasks: TaskService;
    agents: AgentService;
    agentTokens: AgentTokenService;
    /** For the resource-manager seam (issue 22): tasks leased to one-shot agents that run inside jobs (Slurm). */
    oneShotAgents: OneShotAgents;
    scheduler: Scheduler;
    pools: Pools;
    policy: PolicyStore;
    quotas: QuotaService;
    usage: UsageService;
    cluster: ClusterService;
    images: ImageService;
  };
  close(): Promise<void>;
}

/** Wires the domains together and listens; everything a test or main() needs to run a master. */
export async function startMaster(options: MasterOptions): Promise<Master> {
  const { config } = options;
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? pino({ level: config.log.level });
  const hasher = options.hasher ?? createArgon2Hasher();
  // Before anything else: a certificate that cannot be used, or secrets and files auth.* names that
  // cannot be read, stop the start with nothing touched.
  const serve = serverFactory(config.listen.tls);
  const auth = AuthBackends.fromConfig(config.auth, { hasher, logger });
  // A pool whose resource manager this build lacks would take tasks it could never run.
  checkManagersBuilt(config.pools);
  const store = config.db.url === undefined ? { path: config.db.path } : { url: config.db.url };
  const database = await openDatabase(store, {
    poolSize: config.db.pool_size,
    ...(config.ha.enabled ? { idleInTransactionTimeoutMs: Math.max(2000, leaseTimings(config.ha.failover_timeout).ttlMs) } : {}),
    onIdleError: (error) => logger.warn({ err: error }, 'a database connection failed while idle; the pool opens another'),
  }).catch((error: unknown) => {
    // A server that does not answer, a wrong password, a missing database, a file it may not write: one line.
    const where = store.url === undefined ? store.path : redactUrl(store.url);
    throw new MasterStartError(`cannot open the database ${where} (db.${store.url === undefined ? 'path' : 'url'}): ${(error as Error).message}`);
  });
  const metricsAccess = { loopback: config.metrics.loopback, tokenHash: readMetricsToken(config.metrics.token_file) };
  const { db } = database;
  // Several masters on one PostgreSQL (`ha`): this one leads only while it holds the lease; what
  // dispatches checks `fence` (docs/architecture.md, "Several masters"). One master always leads.
  const leadership = config.ha.enabled ? new Leadership({ db, logger, failoverTimeoutMs: config.ha.failover_timeout }) : undefined;
  const fence: Fence = leadership ?? ONE_MASTER;

  // The access model: users at the bottom; groups and roles look users up; sessions and tokens
  // follow users' changes as listeners; roles answers what users need of it through a getter.
  const audit = new AuditService({ db, clock });
  let roles: RoleService | undefined;
  let groups: GroupService | undefined;
  let groupUnix: GroupUnixService | undefined;
  const users = new UserService({
    db,
    clock,
    hasher,
    auth,
    audit,
    passwordMinLength: config.security.password_policy.min_length,
    access: () => roles!,
    groups: () => groups!,
    uids: () => groupUnix!,
  });
  groups = new GroupService({ db, clock, audit, users });
  roles = new RoleService({ db, clock, audit, users, groups, defaultRole: config.security.default_role });
  groups.subscribe(roles);
  groupUnix = new GroupUnixService({ db, clock, audit, uidRanges: config.security.uid_ranges, defaultTaskUid: config.security.default_task.uid });
  const throttle = new LoginThrottle({ db, clock, logger }, {
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
    // LDAP logins bring their directory groups (auth.ldap.groups.map) into Trainyard's groups.
    directoryGroups: new DirectoryGroups({ groups, logger }),
    throttle,
    audit,
    sessionTtlMs: config.security.session_ttl,
  });
  const tokens = new TokenService({ db, clock, audit });
  users.subscribe(sessions);
  users.subscribe(tokens);

  // The task and agent services tell the scheduler about queue and capacity changes; the scheduler is built after them.
  // Admission asks the pools (their managers) where a task may go and which images their machines have; they are built after the tasks service.
  let scheduler: Scheduler | undefined;
  let pools: Pools | undefined;
  let agents: AgentService | undefined;
  // The usage ledger: the tasks service opens and closes runs in it; fair share is charged from what it wrote, budgets read it.
  const usage = new UsageService({ db, clock, users });
  const guarantees = new GuaranteeService({ db, clock, audit, groups, pools: () => pools!.names(), onChanged: () => scheduler?.capacityChanged() });
  let tasks: TaskService | undefined;
  const metrics = new MasterMetrics({ clock, readStore: () => storeSnapshot(tasks!, agents!), leading: () => fence.isLeader() });
  const quotas = new QuotaService({
    db,
    clock,
    audit,
    users,
    groups,
    ledger: usage,
    guarantees,
    pools: () => pools!.names(),
    fairShare: { halfLifeMs: config.scheduler.fair_share.half_life, gpuWeight: config.scheduler.fair_share.gpu_weight },
    onChanged: () => scheduler?.capacityChanged(),
    fence,
  });
  // Quotas count down the tree of groups, and guarantees name groups by path: both read it again when it changes.
  groups.subscribe(quotas);
  groups.subscribe({ treeChanged: () => guarantees.forget() });
  const policy = new PolicyStore({ db, audit, logger, config, ...(options.configFile ? { configFile: options.configFile } : {}) });
  tasks = new TaskService({
    db,
    clock,
    events: new TaskEvents(),
    admission: new Admission({
      defaultTask: config.security.default_task,
      taskDefaults: { images: config.tasks.images, ports: config.tasks.ports },
      policy: () => policy.current,
      groups,
      groupUnix,
      pools: { defaultPool: config.default_pool, names: () => pools!.names(), find: (name) => pools!.find(name) },
    }),
    users,
    groups,
    audit,
    quotas,
    ledger: usage,
    onRunEnded: (run) => void quotas.chargeRun(run).catch((error: unknown) => logger.error({ err: error, taskId: run.taskId }, 'fair-share usage not recorded')),
    onQueued: (task) => scheduler?.taskQueued(task),
    onLeftQueue: (taskId) => scheduler?.taskLeftQueue(taskId),
    onKillRequested: (task) => pools?.kill(task),
    onCapacityFreed: () => scheduler?.capacityChanged(),
    fence,
    onTransition: (task, event, to, at) => metrics.taskChanged(task, event, to, at),
  });
  // One-shot agents' tokens are valid only while their task holds the lease they were minted for.
  let oneShotAgents: OneShotAgents | undefined;
  const agentTokens = new AgentTokenService({ db, clock, audit, leaseCurrent: (taskId, leaseId) => oneShotAgents!.leaseCurrent(taskId, leaseId) });
  oneShotAgents = new OneShotAgents({ tasks, tokens: agentTokens });
  agents = new AgentService({
    db,
    clock,
    logger,
    tasks,
    timings: { heartbeatIntervalMs: config.agents.heartbeat_interval, lostTimeoutMs: config.agents.lost_timeout },
    onCapacityChanged: () => scheduler?.capacityChanged(),
    tokens: agentTokens,
    pools: () => pools!,
    fence,
  });
  // The agents' wire (long poll, leases), shared by the pools whose tasks run under agents that dial back.
  // Notebooks, TensorBoards and shells: streams the agents dial back when asked (their poll is woken).
  const broker = new TunnelBroker({ wake: (agentId) => channel.wake(agentId), dialTimeoutMs: config.tasks.dial_timeout });
  // Image pulls, loads and removals reach the agents as actions on the same poll.
  const imageOperations = new ImageOperations({ clock, logger, wake: (agentId) => channel.wake(agentId) });
  const channel = new AgentChannel({
    tasks,
    agents,
    streams: broker,
    images: imageOperations,
    killGraceMs: config.agents.kill_grace,
    mountProbeTimeoutMs: config.agents.mount_probe_timeout,
  });
  // One resource manager per pool of master.yaml; the scheduler decides, they place.
  // The URL the master listens on, once it does: where a Slurm pool's jobs dial back when it names no master_url.
  let listeningUrl: string | undefined;
  pools = new Pools(createManagers({ config, clock, logger, tasks, agents, channel, broker, oneShot: oneShotAgents, masterUrl: () => listeningUrl }), {
    settings: config.pools,
    defaultPool: config.default_pool,
    tasks,
    clock,
    onClose: () => channel.close(),
  });
  const interactive = new InteractiveService({ runs: pools, clock, logger, tasks });
  scheduler = new Scheduler({
    logger,
    clock,
    tasks,
    users,
    pools: () => pools!,
    quotas,
    guarantees,
    usage,
    options: { policy: config.scheduler.policy },
    leading: () => fence.isLeader(),
    onDecision: (seconds, assigned) => metrics.dispatchDecided(seconds, assigned),
  });
  const runtimeLimits = new RuntimeLimits({ quotas, tasks, clock, logger, warningMs: config.tasks.runtime_warning });
  const budgetWatch = new BudgetWatch({ db, quotas, tasks, audit, users, logger, onRoomAgain: () => scheduler!.capacityChanged() });
  const reports = new RunReports({ db, tasks });
  const cluster = new ClusterService({ db, clock, agents, tasks });
  const images = new ImageService({
    db,
    clock,
    logger,
    agents,
    pools,
    policy: () => policy.current,
    tasks,
    audit,
    operations: imageOperations,
    expectStream: (agentId, what) => broker.expect(agentId, 'websocket', what),
    loadLimit: config.images.load_limit,
  });

  await roles.syncBuiltins().catch(async (error: unknown) => {
    await database.close();
    throw error;
  });
  // Each manager reconciles what runs in its pool before the master takes requests.
  await pools.start(scheduler).catch(async (error: unknown) => {
    await database.close();
    throw error;
  });
  const markStranded = async () => {
    const stranded = await pools!.markStranded();
    if (stranded > 0) logger.warn({ tasks: stranded, pools: pools!.names() }, "queued tasks wait in pools master.yaml no longer has (pending reason POOL_GONE)");
  };
  // Several masters: the leader does it when it begins to lead.
  if (!leadership) {
    await markStranded().catch(async (error: unknown) => {
      await database.close();
      throw error;
    });
  }
  await agents.warnAboutStrays(pools.names());
  if (await users.bootstrap(config.security.initial_admin_password)) {
    logger.info('first start: created users "admin" and "yard"');
  }
  await sessions.purgeExpired();
  await policy.recordStart();
  if (config.agents.token_file) await agentTokens.ensureTokenFile(config.agents.token_file, config.ha.enabled ? localTokenName(config) : undefined);

  const guards: Guards = {
    user: requireUser(new ActorResolver({ sessions, tokens, roles })),
    agent: requireAgent(agentTokens),
  };
  const site = new Site({ publicOrigins: config.http.public_url, trustProxy: config.http.trust_proxy, listenHost: config.listen.host, servicesOrigin: config.http.services_url });
  const services = new ServicesOrigin({ url: config.http.services_url, publicOrigins: config.http.public_url, ownPort: config.listen.services_port !== undefined });
  const opened = interactiveRoutes({ tasks, agents, interactive, broker, services }, guards);
  const imageApi = imageRoutes({ images, agents }, guards);
  let routeList: RouteInfo[] = [];
  const openApi = openApiRoutes(guards, () => routeList);
  const { app, routes } = createApp({
    logger,
    bodyLimit: config.http.body_limit,
    webRoot: config.http.web_root ?? DEFAULT_WEB_ROOT,
    site,
    checkDatabase: database.check,
    ...(leadership ? { leader: { gate: leaderGate(leadership), status: () => leadership.status() } } : {}),
    guards,
    observe: observeRequests(metrics),
    opsRouters: [metricsRoutes(guards, metrics, metricsAccess, site)],
    early: { middleware: [services.gate(), loginRedirect(services), serviceProxy({ tasks, interactive, guards })], routers: [opened.root, openApi.root, imageApi.early] },
    routers: [
      versionRoutes(guards),
      openApi.api,
      sessionRoutes(sessions, users, guards),
      userRoutes(users, roles, guards),
      groupRoutes(groups, groupUnix, roles, pools, guards),
      roleRoutes(roles, guards),
      tokenRoutes(tokens, users, guards),
      auditRoutes(audit, users, guards),
      policyRoutes(policy, { users, groups }, guards),
      quotaRoutes(quotas, { users, groups, scheduler, guarantees }, guards),
      taskRoutes(tasks, guards, { why: (task) => scheduler!.why(task) }),
      usageRoutes({ usage, cluster, users }, guards),
      agentRoutes(agents, agentTokens, guards),
      poolRoutes(pools, guards),
      imageApi.api,
      agentApiRoutes({ agents, channel, reports }, guards),
      opened.api,
    ],
  });

  routeList = routes;
  const callback = app.callback();
  const server = configureServer(serve(callback), callback, logger);
  // Tasks' services on a port of their own: the same app, each request marked as the services origin's.
  const servicesServer = config.listen.services_port === undefined ? undefined : configureServer(serve(services.mark(callback)), services.mark(callback), logger);
  try {
    await listen(server, config.listen.host, config.listen.port);
    if (servicesServer) await listen(servicesServer, config.listen.host, config.listen.services_port!);
  } catch (error) {
    server.close();
    servicesServer?.close();
    await pools.close();
    await database.close();
    const port = server.listening ? config.listen.services_port! : config.listen.port;
    throw listenError(error as NodeJS.ErrnoException, { host: config.listen.host, port }, server.listening ? 'listen.services_port' : 'listen.port / YARD_PORT');
  }
  const { port } = server.address() as AddressInfo;
  const servicesPort = servicesServer ? (servicesServer.address() as AddressInfo).port : undefined;
  services.bound({ main: port, services: servicesPort });
  const host = config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host;
  const url = `${config.listen.tls ? 'https' : 'http'}://${host}:${port}`;
  // A wildcard address is no place to dial: the nodes reach this host by its name.
  listeningUrl = ['0.0.0.0', '::'].includes(config.listen.host) ? `${config.listen.tls ? 'https' : 'http'}://${os.hostname()}:${port}` : url;
  const servicesUrl = servicesPort === undefined ? config.http.services_url : `${config.listen.tls ? 'https' : 'http'}://${host}:${servicesPort}`;
  logger.info({ url, db: database.label, ...(servicesUrl ? { services: servicesUrl } : {}) }, 'master listening');
  if (config.http.unsafe_services_on_master_origin) {
    logger.warn(
      "http.unsafe_services_on_master_origin: tasks' services are served on the master's own origin, so a notebook's scripts can call the API " +
        'with the session of whoever opens it (an admin opening a user\'s notebook runs that user\'s code as admin)',
    );
  } else if (config.http.public_url.length > 0 && config.http.services_url === undefined) {
    logger.warn(
      { services: `<the host people reach>:${servicesPort}` },
      "http.public_url is set but http.services_url is not: browsers are sent to listen.services_port on the master's host name for tasks' services; " +
        'if a reverse proxy serves the master, give the services an origin there too (the same host name, another port) and set http.services_url',
    );
  }

  if (leadership) {
    const advertised = config.ha.advertise_url ?? url;
    await leadership
      .start(advertised, {
        elected: async () => {
          // First, before anything dispatches: what this master kept while another led is stale.
          agents!.leadershipBegan();
          interactive.leadershipBegan();
          quotas.leadershipChanged();
          cluster.leadershipBegan();
          scheduler!.leadershipBegan();
          await markStranded().catch((error: unknown) => logger.error({ err: error }, 'queued tasks of pools master.yaml lacks were not marked'));
          // Agents find this master now: whatever waits in the queue is offered to them.
          scheduler!.capacityChanged();
        },
        deposed: () => {
          quotas.leadershipChanged();
          // Its agents' held polls end, and every open connection with them: clients go on to the leader.
          channel.answerAll();
          server.closeAllConnections();
          servicesServer?.closeAllConnections();
        },
      })
      .catch(async (error: unknown) => {
        server.close();
        servicesServer?.close();
        await pools!.close();
        await database.close();
        throw new MasterStartError(`cannot take part in leader election on ${database.label} (ha): ${(error as Error).message}`);
      });
    logger.info({ advertise: advertised, ...leadership.status(), failoverTimeoutMs: config.ha.failover_timeout }, 'several masters (ha): this one ' + (leadership.isLeader() ? 'leads' : 'stands by'));
  }

  // Lost agents and unacknowledged leases are found by looking, not by waiting for a request.
  // Only the leader looks (several masters): the others stand by.
  let monitoring = false;
  const monitor = setInterval(() => {
    if (monitoring || !fence.isLeader()) return;
    monitoring = true;
    const idleTimeout = config.tasks.idle_timeout;
    Promise.all([
      agents.markLost(),
      pools.reconcile(),
      runtimeLimits.sweep(),
      budgetWatch.sweep(),
      scheduler!.reclaim(),
      quotas.flushUsage(),
      cluster.sampleIfDue(),
      idleTimeout ? interactive.stopIdle(idleTimeout) : undefined,
      imageOperations.inFlight() ? agents.poolRecords().then((all) => imageOperations.sweep((id) => all.some((a) => a.id === id && a.state === 'alive'))) : imageOperations.sweep(() => true),
    ])
      .catch((error: unknown) => logger.error({ err: error }, 'agent monitor failed'))
      .finally(() => (monitoring = false));
  }, options.monitorIntervalMs ?? 1000);
  monitor.unref();

  return {
    url,
    database,
    routes,
    services: { audit, users, groups, roles, sessions, tokens, tasks, agents, agentTokens, oneShotAgents, scheduler, pools, policy, quotas, usage, cluster, images },
    async close() {
      clearInterval(monitor);
      scheduler!.close();
      interactive.close();
      await pools.close();
      if (fence.isLeader()) await quotas.flushUsage().catch((error: unknown) => logger.error({ err: error }, 'fair-share usage not written'));
      // Several masters: the lease is handed back, so that a standby leads at its next look.
      await leadership?.stop();
      await Promise.all(
        [server, servicesServer].map(
          (each) =>
            each &&
            new Promise<void>((resolve) => {
              each.close(() => resolve());
              each.closeAllConnections();
            }),
        ),
      );
      await database.close();
    },
  };
}

/** What the metrics read from the store at each scrape: tasks by state and kind, the queue's oldest, agents by status. */
async function storeSnapshot(tasks: TaskService, agents: AgentService): Promise<StoreSnapshot> {
  const [counts, records] = [await tasks.storeCounts(), await agents.records()];
  const byStatus = new Map<StoreSnapshot['agents'][number]['status'], StoreSnapshot['agents'][number]>();
  for (const agent of records) {
    const status = agentStatus(agent);
    const sum = byStatus.get(status) ?? { status, count: 0, cpus: 0, memoryBytes: 0, gpus: 0 };
    sum.count += 1;
    sum.cpus += agent.resources.cpus;
    sum.memoryBytes += agent.resources.memoryBytes;
    sum.gpus += agent.resources.gpus.length;
    byStatus.set(status, sum);
  }
  return { tasks: counts.byStateAndKind, oldestQueuedAt: counts.oldestQueuedAt, agents: [...byStatus.values()] };
}

/** `metrics.token_file`'s hash (made when missing); a file that cannot be used stops the start, naming it. */
function readMetricsToken(file: string | undefined): Buffer | undefined {
  if (!file) return undefined;
  try {
    return metricsTokenHash(file);
  } catch (error) {
    throw new MasterStartError(`cannot use metrics.token_file: ${(error as Error).message}`);
  }
}

/**
 * HTTP/1.1, over TLS when `listen.tls` names a certificate and key. Requests without a Host header
 * reach the app (Node would answer them with a bare 400) so that the refusal has the error body.
 */
function serverFactory(tls: MasterConfig['listen']['tls']): (handler: http.RequestListener) => http.Server | https.Server {
  const options = { requireHostHeader: false };
  if (!tls) return (handler) => http.createServer(options, handler);
  let credentials: { cert: Buffer; key: Buffer };
  try {
    credentials = { cert: readFileSync(tls.cert), key: readFileSync(tls.key) };
    // Parses them now, so that a wrong file is named at start rather than at the first client.
    createSecureContext(credentials);
  } catch (error) {
    throw new MasterStartError(`cannot use listen.tls (cert ${tls.cert}, key ${tls.key}): ${(error as Error).message}`);
  }
  return (handler) => https.createServer({ ...options, ...credentials }, handler);
}

/** A reason the master cannot start that the admin can fix; main() prints it as one line. */
export class MasterStartError extends Error {
  override name = 'MasterStartError';
}

/** The settings every listener of the master shares: upgrades through the app, long polls, client errors. */
function configureServer<S extends http.Server>(server: S, callback: (req: http.IncomingMessage, res: http.ServerResponse) => void, logger: Logger): S {
  // WebSockets (the proxy's, shells, agents' streams) go through the same chain: see http/upgrade.ts.
  server.on('upgrade', upgradeHandler(callback));
  server.keepAliveTimeout = 65_000;
  // Long polls hold requests for up to a minute.
  server.requestTimeout = 120_000;
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => answerClientError(error, socket, logger));
  return server;
}

function listen(server: http.Server, host: string, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
}

function listenError(error: NodeJS.ErrnoException, listen: { host: string; port: number }, key = 'listen.port / YARD_PORT'): Error {
  const where = `${listen.host}:${listen.port}`;
  if (error.code === 'EADDRINUSE') {
    return new MasterStartError(`cannot listen on ${where}: the port is in use (another master, or another program); stop it or choose another ${key}`);
  }
  if (error.code === 'EACCES') return new MasterStartError(`cannot listen on ${where}: permission denied (ports below 1024 need privileges)`);
  if (error.code === 'EADDRNOTAVAIL') return new MasterStartError(`cannot listen on ${where}: this machine has no such address (listen.host / YARD_HOST)`);
  return error;
}

/** Several masters: the name of this one's local agent token (`local-<host>-<port>`), apart from the others'. */
function localTokenName(config: MasterConfig): string {
  const host = (config.ha.advertise_url ? new URL(config.ha.advertise_url).hostname : os.hostname()).toLowerCase().replace(/[^a-z0-9._-]/g, '-');
  const port = config.ha.advertise_url ? new URL(config.ha.advertise_url).port || 'default' : String(config.listen.port);
  return `local-${host}-${port}`.slice(0, 64);
}
