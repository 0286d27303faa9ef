export { Agent } from './agent.js';
export { MasterClient } from './master-client.js';
export { main } from './main.js';
