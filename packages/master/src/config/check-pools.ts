import type { MasterConfig } from './config-schema.js';

/** What one section cannot say alone: the default pool is one of the pools, and the policy allows only pools that exist. */
export function checkPools(config: Pick<MasterConfig, 'pools' | 'default_pool' | 'policy'>, issue: (path: string, message: string) => void): void {
  const names = Object.keys(config.pools);
  if (!names.includes(config.default_pool)) {
    issue('default_pool', `'${config.default_pool}' is not one of pools (${names.join(', ')})`);
  }
  const layers: Array<[string, { pools?: { allow?: string[] | undefined } | undefined }]> = [
    ['policy.system', config.policy.system],
    ...Object.entries(config.policy.groups).map(([path, layer]): [string, typeof layer] => [`policy.groups.${path}`, layer]),
    ...Object.entries(config.policy.users).map(([name, layer]): [string, typeof layer] => [`policy.users.${name}`, layer]),
  ];
  for (const [key, layer] of layers) {
    const unknown = (layer.pools?.allow ?? []).filter((pool) => pool !== '*' && !names.includes(pool));
    if (unknown.length > 0) issue(`${key}.pools.allow`, `${unknown.map((p) => `'${p}'`).join(', ')} ${unknown.length === 1 ? 'is not a pool' : 'are not pools'} (pools: ${names.join(', ')})`);
  }
}
