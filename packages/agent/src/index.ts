export { Agent } from './agent.js';
export { MasterClient } from './master-client.js';
export { main } from './main.js';
export { Backoff } from './backoff.js';
export { AGENT_VERSION } from './agent-version.js';
export type { Executor } from './executors/executor.js';
