import { z } from 'zod';
import {
  capabilityViolation,
  containerPathViolation,
  groupPathSchema,
  hostPathViolation,
  memorySchema,
  normalizeCapability,
  normalizePath,
  PULL_POLICIES,
  USER_PULL_VALUES,
  usernameSchema,
} from '@trainyard/shared';

/**
 * The admission policy in master.yaml (`policy:`): a `system` layer, a layer per group (with a
 * `priority`) and a layer per user, each setting any of the rules below. Every key is optional in
 * a layer: a rule no layer sets has its built-in default (policy.ts). Rules that the floor would
 * always refuse are refused here, so that the master does not start (or reload) with them.
 */

/** Placeholders in host paths and env.set values: the owner's name, the run-as ids, the task's group path. */
export const PLACEHOLDERS = ['user', 'uid', 'gid', 'group'] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];
const PLACEHOLDER = /\{([^}]*)\}/g;

/** A pattern with its placeholders filled by sample values, to check it against the floor. */
const sample = (pattern: string) =>
  pattern.replace(PLACEHOLDER, (_, name: string) => (name === 'user' ? 'someone' : name === 'group' ? 'somegroup' : '1000'));

function placeholderProblems(text: string): string[] {
  return [...text.matchAll(PLACEHOLDER)]
    .map(([, name]) => name!)
    .filter((name) => !(PLACEHOLDERS as readonly string[]).includes(name))
    .map((name) => `"{${name}}" is not a placeholder; use ${PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}`);
}

const hostPattern = z
  .string({ error: 'host_path must be a string' })
  .min(1)
  .max(4096)
  .superRefine((pattern, ctx) => {
    if (!pattern.startsWith('/')) return void ctx.addIssue({ code: 'custom', message: `"${pattern}" must be an absolute path` });
    if (pattern.split('/').includes('..')) return void ctx.addIssue({ code: 'custom', message: `"${pattern}" must not contain ".."` });
    for (const message of placeholderProblems(pattern)) ctx.addIssue({ code: 'custom', message });
    // The floor holds whatever the policy says: refuse a rule that could never be used.
    const floor = hostPathViolation(sample(pattern));
    if (floor) ctx.addIssue({ code: 'custom', message: floor.message });
  });

const containerPath = z
  .string({ error: 'container_path must be a string' })
  .refine((p) => normalizePath(p) !== undefined, 'container_path must be an absolute path')
  .superRefine((p, ctx) => {
    const floor = containerPathViolation(p);
    if (floor) ctx.addIssue({ code: 'custom', message: floor.message });
  });

const readOnly = z.boolean({ error: 'read_only must be true or false' }).default(false);

/** `mounts.available`: a host directory (or file) tasks may ask to mount, with what lies beneath it. */
export const mountRuleSchema = z.strictObject({
  host_path: hostPattern,
  /** Where it appears in the container; omitted, the task chooses. */
  container_path: containerPath.optional(),
  /** true: always mounted read-only, whatever the task asks. */
  read_only: readOnly,
});
export type MountRule = z.output<typeof mountRuleSchema>;

/** `mounts.always` / `mounts.default`: a mount the policy adds itself, so its place is fixed. */
export const fixedMountSchema = z.strictObject({
  host_path: hostPattern,
  container_path: containerPath,
  read_only: readOnly,
});
export type FixedMount = z.output<typeof fixedMountSchema>;

const mountList = <T extends z.ZodType>(schema: T, shape: string) =>
  z.array(schema, { error: `must be a list of ${shape}` }).max(1000);

/**
 * A regular expression matched against the whole normalised image reference; `{user}` stands for
 * the user's name (`user/{user}/.*`), the one placeholder image patterns know.
 */
const imagePattern = z.string({ error: 'image patterns must be strings' }).superRefine((pattern, ctx) => {
  try {
    new RegExp(`^(?:${pattern.replaceAll('{user}', 'someone')})$`);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: `"${pattern}" is not a regular expression: ${(error as Error).message}` });
  }
});

const capability = z
  .string({ error: 'capabilities must be names such as NET_BIND_SERVICE' })
  .transform(normalizeCapability)
  .superRefine((cap, ctx) => {
    const floor = capabilityViolation(cap);
    if (floor) ctx.addIssue({ code: 'custom', message: floor.message });
  });

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/** An exact, case-sensitive name, or a simple glob (`LD_*`, `?` for one character). */
const envDenyEntry = z
  .string({ error: 'env.deny entries must be strings' })
  .regex(/^[A-Za-z0-9_*?]{1,128}$/, 'env.deny entries are variable names, or globs of them with * and ?');
const envSet = z
  .record(z.string().regex(ENV_NAME, 'environment variable names are letters, digits and "_", not starting with a digit'), z.union([z.string(), z.number(), z.boolean()]).transform(String))
  .superRefine((values, ctx) => {
    for (const [name, value] of Object.entries(values)) {
      for (const message of placeholderProblems(value)) ctx.addIssue({ code: 'custom', path: [name], message });
    }
  });

/** One task's cpu, memory and GPUs; null lifts what a less specific layer set. */
const limits = z.strictObject({
  gpus: z.number({ error: 'gpus must be a number' }).int().min(0).max(64).nullable().optional(),
  cpu: z.number({ error: 'cpu must be a number' }).positive().max(1024).nullable().optional(),
  memory: memorySchema.nullable().optional(),
});

/** A port (8888) or a range of them ("8000-8999"). */
const portEntry = z.union([
  z.number().int().min(1).max(65535),
  z.string().regex(/^\d{1,5}-\d{1,5}$/, 'port ranges look like "8000-8999"').refine((range) => {
    const [low, high] = range.split('-').map(Number) as [number, number];
    return low >= 1 && high <= 65535 && low <= high;
  }, 'a port range runs from a lower to a higher port, within 1-65535'),
], { error: 'ports.allow entries are ports (8888) or ranges ("8000-8999")' });

/** One layer: any rule, each optional. A more specific layer replaces what a less specific one set. */
export const layerSchema = z.strictObject({
  images: z
    .strictObject({
      /** Regular expressions, matched against the whole normalised reference; holders of use_any_image skip them. */
      allow: z.array(imagePattern, { error: 'images.allow must be a list of regular expressions' }).max(1000).optional(),
      /** never: only images already on the agent; if_missing; always. */
      pull: z.enum(PULL_POLICIES, { error: `images.pull must be one of ${PULL_POLICIES.join(', ')}` }).optional(),
      /** Whether users may ask the agents to pull (`yard image pull`); holders of change_config always may. */
      user_pull: z.enum(USER_PULL_VALUES, { error: `images.user_pull must be one of ${USER_PULL_VALUES.join(', ')}` }).optional(),
      /** The names a `yard image load` tarball may give its images (regexes, `{user}`); holders of change_config load any. */
      load: z
        .strictObject({
          allow: z.array(imagePattern, { error: 'images.load.allow must be a list of regular expressions' }).max(1000).optional(),
        })
        .optional(),
    })
    .optional(),
  mounts: z
    .strictObject({
      always: mountList(fixedMountSchema, '{host_path, container_path, read_only?}').optional(),
      default: mountList(fixedMountSchema, '{host_path, container_path, read_only?}').optional(),
      available: mountList(mountRuleSchema, '{host_path, container_path?, read_only?}').optional(),
    })
    .optional(),
  require_non_root: z.boolean({ error: 'require_non_root must be true or false' }).optional(),
  capabilities: z
    .strictObject({ add: z.array(capability, { error: 'capabilities.add must be a list of capability names' }).max(64).optional() })
    .optional(),
  env: z
    .strictObject({
      set: envSet.optional(),
      deny: z.array(envDenyEntry, { error: 'env.deny must be a list of names' }).max(1000).optional(),
    })
    .optional(),
  resources: z.strictObject({ default: limits.optional(), max: limits.optional() }).optional(),
  ports: z.strictObject({ allow: z.array(portEntry, { error: 'ports.allow must be a list' }).max(1000).optional() }).optional(),
  /** The resource pools tasks may run in (names from master.yaml `pools`, or "*" for every pool). */
  pools: z
    .strictObject({
      allow: z
        .array(z.string({ error: 'pools.allow entries are pool names' }).regex(/^(\*|[a-z0-9][a-z0-9._-]{0,63})$/, 'pools.allow entries are pool names, or "*" for every pool'), {
          error: 'pools.allow must be a list of pool names',
        })
        .max(1000)
        .optional(),
    })
    .optional(),
});
export type PolicyLayerConfig = z.output<typeof layerSchema>;

const groupLayerSchema = layerSchema.extend({
  /** Of a user's groups, the one with the higher priority wins a rule both set. */
  priority: z.number({ error: 'priority must be a whole number' }).int('priority must be a whole number'),
});

export const policySchema = z
  .strictObject({
    system: layerSchema.prefault({}),
    /** Group path -> layer, for the group's direct members. */
    groups: z.record(z.string(), groupLayerSchema).default({}),
    /** User name -> layer. */
    users: z.record(z.string(), layerSchema).default({}),
  })
  .superRefine((policy, ctx) => {
    const byPriority = new Map<number, string>();
    for (const [path, layer] of Object.entries(policy.groups)) {
      const parsed = groupPathSchema.safeParse(path);
      if (!parsed.success || parsed.data !== path) {
        ctx.addIssue({ code: 'custom', path: ['groups', path], message: `"${path}" is not a group path such as research/vision (lower case)` });
      }
      const other = byPriority.get(layer.priority);
      if (other !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['groups', path, 'priority'],
          message: `${other} has priority ${layer.priority} too: give each group its own priority, so that which one wins is never a guess`,
        });
      }
      byPriority.set(layer.priority, path);
    }
    for (const name of Object.keys(policy.users)) {
      const parsed = usernameSchema.safeParse(name);
      if (!parsed.success || parsed.data !== name) ctx.addIssue({ code: 'custom', path: ['users', name], message: `"${name}" is not a user name` });
    }
  })
  .prefault({});
export type PolicyConfig = z.output<typeof policySchema>;
