import { needs, openPolicy } from './policy.js';

/** People on agents (see_status to look, change_config to change); agents themselves by agent token. */
export const agentPolicies = {
  list: needs('agents.list', 'see_status', 'see the agents'),
  setEnabled: needs('agents.enable', 'change_config', 'enable or disable agents'),
  listTokens: needs('agent_tokens.list', 'change_config', 'list agent tokens'),
  createToken: needs('agent_tokens.create', 'change_config', 'create agent tokens'),
  revokeToken: needs('agent_tokens.revoke', 'change_config', 'revoke agent tokens'),
  /** Every /agents/:id/... route an agent calls: its agent token was the check. */
  agentApi: openPolicy('agent', 'agents.api', 'an agent with a valid, unrevoked agent token'),
};
