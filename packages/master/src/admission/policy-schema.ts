import { z } from 'zod';
import { containerPathViolation, hostPathViolation, normalizePath } from '@trainyard/shared';

/**
 * The admission policy in master.yaml (`policy`). Today it has one layer, `system`, with one rule:
 * which host directories tasks may bind-mount. Later layers (groups, users) and rules (images,
 * resources) grow here; a more specific layer will replace a key of a more general one.
 */

/** Placeholders a host path pattern may use: the owner's Trainyard name and the run-as ids. */
export const MOUNT_PLACEHOLDERS = ['user', 'uid', 'gid'] as const;
const PLACEHOLDER = /\{([^}]*)\}/g;

/** A pattern with its placeholders filled by sample values, to check it against the floor at start. */
const sample = (pattern: string) => pattern.replace(PLACEHOLDER, (_, name: string) => (name === 'user' ? 'someone' : '1000'));

const hostPattern = z
  .string({ error: 'host_path must be a string' })
  .min(1)
  .max(4096)
  .superRefine((pattern, ctx) => {
    if (!pattern.startsWith('/')) return void ctx.addIssue({ code: 'custom', message: `"${pattern}" must be an absolute path` });
    if (pattern.split('/').includes('..')) return void ctx.addIssue({ code: 'custom', message: `"${pattern}" must not contain ".."` });
    for (const [, name] of pattern.matchAll(PLACEHOLDER)) {
      if (!(MOUNT_PLACEHOLDERS as readonly string[]).includes(name!)) {
        ctx.addIssue({ code: 'custom', message: `"{${name}}" is not a placeholder; use ${MOUNT_PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}` });
      }
    }
    // The floor holds whatever the policy says: refuse at start a rule that could never be used.
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

export const mountRuleSchema = z.strictObject({
  /** A host directory (or file) tasks may mount, with what lies beneath it; `{user}`, `{uid}`, `{gid}` are filled per task. */
  host_path: hostPattern,
  /** Where it appears in the container; omitted, the task chooses. */
  container_path: containerPath.optional(),
  /** true: always mounted read-only, whatever the task asks. */
  read_only: z.boolean({ error: 'read_only must be true or false' }).default(false),
});
export type MountRule = z.output<typeof mountRuleSchema>;

export const policySchema = z
  .strictObject({
    system: z
      .strictObject({
        mounts: z
          .strictObject({
            /** Empty (the default): tasks mount no host paths at all. */
            available: z.array(mountRuleSchema, { error: 'available must be a list of {host_path, container_path?, read_only?}' }).max(1000).default([]),
          })
          .prefault({}),
      })
      .prefault({}),
  })
  .prefault({});
export type AdmissionPolicy = z.output<typeof policySchema>;
