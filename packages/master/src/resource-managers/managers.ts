import type { Logger } from 'pino';
import type { AgentService } from '../agents/agent-service.js';
import type { Clock } from '../clock.js';
import type { MasterConfig, PoolConfig } from '../config/config-schema.js';
import { ConfigError } from '../config/load-config.js';
import type { TunnelBroker } from '../interactive/tunnel-broker.js';
import type { TaskService } from '../tasks/task-service.js';
import type { AgentChannel } from './agents/agent-channel.js';
import { AgentsManager } from './agents/agents-manager.js';
import type { ManagerKind, ResourceManager } from './resource-manager.js';

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
}

export type ManagerFactory<K extends ManagerKind> = (pool: string, settings: Extract<PoolConfig, { manager: K }>, context: ManagerContext) => ResourceManager;

/**
 * The engines this master is built with. master.yaml accepts every kind's settings; a pool whose
 * manager is not here stops the master at start (`checkManagersBuilt`) rather than taking tasks it
 * could never run. The Slurm manager (resource-managers/slurm/) registers here when it lands.
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
};

/** Refuses, before anything is opened, a pool whose manager this build does not have. */
export function checkManagersBuilt(pools: MasterConfig['pools']): void {
  const missing = Object.entries(pools).filter(([, settings]) => FACTORIES[settings.manager] === undefined);
  if (missing.length === 0) return;
  const built = Object.keys(FACTORIES).join(', ');
  throw new ConfigError(
    missing.map(([name, settings]) => `pools.${name}: manager ${settings.manager} is not built into this master yet (managers here: ${built}); remove the pool or give it manager: agents`).join('; '),
  );
}

/** One manager per pool of master.yaml, in the order the file names them. */
export function createManagers(context: ManagerContext): ResourceManager[] {
  checkManagersBuilt(context.config.pools);
  return Object.entries(context.config.pools).map(([pool, settings]) => {
    const factory = FACTORIES[settings.manager] as ManagerFactory<typeof settings.manager>;
    return factory(pool, settings as never, context);
  });
}
