import { createHash } from 'node:crypto';
import path from 'node:path';
import type { Logger } from 'pino';
import type { AgentService } from '../agents/agent-service.js';
import type { OneShotAgents } from '../agents/one-shot-placement.js';
import type { Clock } from '../clock.js';
import type { MasterConfig, PoolConfig } from '../config/config-schema.js';
import { ConfigError } from '../config/load-config.js';
import { redactUrl } from '../db/database.js';
import type { TunnelBroker } from '../interactive/tunnel-broker.js';
import type { TaskService } from '../tasks/task-service.js';
import type { AgentChannel } from './agents/agent-channel.js';
import { AgentsManager } from './agents/agents-manager.js';
import type { ManagerKind, ResourceManager } from './resource-manager.js';
import { SlurmJwt } from './slurm/slurm-jwt.js';
import { SlurmManager } from './slurm/slurm-manager.js';
import { getentUsers } from './slurm/slurm-run-as.js';
import { createSlurmRestClient } from './slurm/slurmrestd-client.js';

/** What a manager may use of the master, whatever its engine. */
export interface ManagerContext {
  config: MasterConfig;
  clock: Clock;
  logger: Logger;
  tasks: TaskService;
  agents: AgentService;
  /** The agents' wire: their long poll and leases (a Slurm pool's one-shot agents speak it too). */
  channel: AgentChannel;
  /** Streams agents dial back, for the proxy and shells. */
  broker: TunnelBroker;
  /** Tasks leased to one-shot agents that run inside the jobs a manager submits (Slurm), and their tokens. */
  oneShot: OneShotAgents;
  /** The master's own URL once it listens (where one-shot agents dial back when a pool names no master_url). */
  masterUrl: () => string | undefined;
}

export type ManagerFactory<K extends ManagerKind> = (pool: string, settings: Extract<PoolConfig, { manager: K }>, context: ManagerContext) => ResourceManager;

/** What a pool's settings cannot be, said before anything is opened (a key file that cannot be read): a sentence, or null. */
type SettingsCheck<K extends ManagerKind> = (pool: string, settings: Extract<PoolConfig, { manager: K }>) => string | null;

/**
 * The engines this master is built with. master.yaml accepts every kind's settings; a pool whose
 * manager is not here stops the master at start (`checkManagersBuilt`) rather than taking tasks it
 * could never run.
 */
const FACTORIES: { [K in ManagerKind]?: ManagerFactory<K> } = {
  agents: (pool, _settings, c) =>
    new AgentsManager(pool, {
      clock: c.clock,
      logger: c.logger,
      tasks: c.tasks,
      agents: c.agents,
      channel: c.channel,
      broker: c.broker,
      leaseTimeoutMs: c.config.agents.lease_timeout,
    }),
  slurm: (pool, settings, c) =>
    new SlurmManager(
      pool,
      {
        restUrl: settings.rest_url,
        partition: settings.partition,
        account: settings.account,
        container: settings.container as 'none' | 'podman',
        podmanArgs: settings.podman_args,
        users: settings.users,
        jobDir: settings.job_dir,
        path: settings.path,
        agentCommand: settings.agent_command,
        masterUrl: settings.master_url ?? c.config.http.public_url[0],
        maxPendingJobs: settings.max_pending_jobs,
        pollIntervalMs: settings.poll_interval,
        startTimeoutMs: settings.start_timeout,
      },
      {
        clock: c.clock,
        logger: c.logger,
        tasks: c.tasks,
        agents: c.agents,
        channel: c.channel,
        broker: c.broker,
        oneShot: c.oneShot,
        client: createSlurmRestClient({
          url: settings.rest_url,
          jwt: SlurmJwt.fromKeyFile(settings.jwt_key_file, { user: settings.token_user, lifetimeSeconds: 1800, clock: c.clock }),
          tokenUser: settings.token_user,
          timeoutMs: 15_000,
        }),
        users: getentUsers(),
        masterUrl: c.masterUrl,
        tag: `master=${installationTag(c.config)} pool=${pool}`,
        killGraceMs: c.config.agents.kill_grace,
        heartbeatIntervalMs: c.config.agents.heartbeat_interval,
      },
    ),
};

const CHECKS: { [K in ManagerKind]?: SettingsCheck<K> } = {
  slurm: (pool, settings) => {
    if (settings.container === 'runc') {
      return (
        `pools.${pool}.container: runc (Slurm's own --container with an OCI bundle per job) is not supported yet; ` +
        'use podman (rootless podman in the job, with images from the users\' own podman storage) or none (the task runs on the node itself)'
      );
    }
    if (settings.podman_args.length > 0 && settings.container !== 'podman') return `pools.${pool}.podman_args: only with container: podman`;
    try {
      SlurmJwt.fromKeyFile(settings.jwt_key_file, { user: settings.token_user, lifetimeSeconds: 60, clock: { now: () => Date.now() } });
    } catch (error) {
      return `pools.${pool}.jwt_key_file: ${(error as Error).message}`;
    }
    return null;
  },
};

/**
 * Which master submitted a job (the jobs' comments carry it, so that two Trainyard installations on
 * one Slurm cluster never cancel each other's): a digest of where its database is, the same for
 * every start of it and for several masters sharing one database.
 */
function installationTag(config: MasterConfig): string {
  const where = config.db.url === undefined ? path.resolve(config.db.path) : redactUrl(config.db.url);
  return createHash('sha256').update(where).digest('hex').slice(0, 12);
}

/** Refuses, before anything is opened, a pool whose manager this build does not have, or whose settings it cannot use. */
export function checkManagersBuilt(pools: MasterConfig['pools']): void {
  const built = Object.keys(FACTORIES).join(', ');
  const problems = Object.entries(pools).flatMap(([name, settings]) => {
    if (FACTORIES[settings.manager] === undefined) {
      return [`pools.${name}: manager ${settings.manager} is not built into this master yet (managers here: ${built}); remove the pool or give it manager: agents`];
    }
    const problem = (CHECKS[settings.manager] as SettingsCheck<typeof settings.manager> | undefined)?.(name, settings as never);
    return problem ? [problem] : [];
  });
  if (problems.length > 0) throw new ConfigError(problems.join('; '));
}

/** One manager per pool of master.yaml, in the order the file names them. */
export function createManagers(context: ManagerContext): ResourceManager[] {
  checkManagersBuilt(context.config.pools);
  return Object.entries(context.config.pools).map(([pool, settings]) => {
    const factory = FACTORIES[settings.manager] as ManagerFactory<typeof settings.manager>;
    return factory(pool, settings as never, context);
  });
}
