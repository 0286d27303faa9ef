import type { Actor } from './actor.js';
import { signedIn } from './policy.js';

/**
 * Pools: everyone signed in sees their names, managers, capacity, use and queues (what `list -a`
 * and `yard queue` already show, added up), so that people can choose one; which agents serve a
 * pool and a Slurm pool's partition and account are for see_status, as the agents page is.
 */
export const poolPolicies = {
  list: signedIn('pools.list', 'any signed-in user: names, managers, capacity, use and queues; agents, partitions and accounts with see_status'),
};

/** Whether `yard pool list` shows each pool's details (agents, partition, account) to this caller. */
export const seesPoolDetails = (actor: Actor): boolean => actor.can('see_status');
