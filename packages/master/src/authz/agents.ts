import { allow, deny } from './decision.js';
import { agentPolicy, needs, openPolicy } from './policy.js';

/** What `agents.bound` decides on: the agent id in the path and the agent token it registered with. */
export interface AgentBinding {
  id: string;
  /** Null for agents registered before 0.2, which bound no token. */
  tokenId: number | null;
}

/** People on agents (see_status to look, change_config to change); agents themselves by agent token. */
export const agentPolicies = {
  list: needs('agents.list', 'see_status', 'see the agents'),
  setEnabled: needs('agents.enable', 'change_config', 'enable or disable agents'),
  listTokens: needs('agent_tokens.list', 'change_config', 'list agent tokens'),
  createToken: needs('agent_tokens.create', 'change_config', 'create agent tokens'),
  revokeToken: needs('agent_tokens.revoke', 'change_config', 'revoke agent tokens'),
  /**
   * Registration: a valid agent token. Which token may (re)register an agent id is the agents
   * domain's rule (the one it is bound to, or any once that one is revoked).
   */
  register: openPolicy('agent', 'agents.register', 'an agent with a valid, unrevoked agent token'),
  /** Every other call an agent makes about itself: only the token its id is bound to may act for it. */
  bound: agentPolicy<AgentBinding>('agents.bound', 'the agent token the agent id registered with', (tokenId, agent) =>
    agent.tokenId === null || agent.tokenId === tokenId
      ? allow
      : deny(`agent '${agent.id}' is registered with another agent token; this token may not act for it`),
  ),
};
