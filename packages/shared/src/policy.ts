import { z } from 'zod';
import { groupPathSchema } from './group-path.js';
import { usernameSchema } from './users.js';

/**
 * The rules of the admission policy (master.yaml `policy:`), each a key any layer may set: the
 * system layer, a group's, a user's. A more specific layer replaces a key of a less specific one.
 */
export const POLICY_RULES = [
  'images.allow',
  'images.pull',
  'images.user_pull',
  'images.load.allow',
  'mounts.always',
  'mounts.default',
  'mounts.available',
  'require_non_root',
  'capabilities.add',
  'env.set',
  'env.deny',
  'resources.default.gpus',
  'resources.default.cpu',
  'resources.default.memory',
  'resources.max.gpus',
  'resources.max.cpu',
  'resources.max.memory',
  'ports.allow',
  'pools.allow',
] as const;
export type PolicyRule = (typeof POLICY_RULES)[number];

/** One rule's effective value and the layer it came from (`system`, `groups.research`, `users.alice`). */
export interface EffectiveRule {
  rule: PolicyRule;
  value: unknown;
  layer: string;
  /** No layer sets it: the built-in default (shown as the system layer's). */
  isDefault: boolean;
}

/** `GET /policy`: the policy as it applies to a user (system, their groups by priority, them) or to a group's members. */
export interface PolicyView {
  user: string | null;
  group: string | null;
  /** The layers that apply, least specific first. */
  layers: string[];
  rules: EffectiveRule[];
}

/** `POST /policy/reload`: what changed; other keys of master.yaml that changed need a restart. */
export interface PolicyReload {
  file: string;
  /** Rules whose effective value changed in some layer, as `policy.<layer>.<rule>`. */
  changed: string[];
  /** Keys outside `policy` that differ from what the master started with. */
  restartNeeded: string[];
}

export const policyShowQuerySchema = z
  .strictObject({
    user: usernameSchema.optional(),
    group: groupPathSchema.optional(),
  })
  .refine((q) => q.user === undefined || q.group === undefined, 'give user or group, not both');
