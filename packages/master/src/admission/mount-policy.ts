import {
  containerPathViolation,
  hostPathViolation,
  isWithin,
  normalizePath,
  type BindMountRequest,
  type RunBindMount,
} from '@trainyard/shared';
import { DomainError, policyDenied } from '../errors.js';
import type { EffectivePolicy } from './policy.js';
import type { FixedMount } from './policy-schema.js';

/** Whose task is being admitted: the placeholders of patterns and env.set values come from here. */
export interface TemplateSubject {
  /** The owner's Trainyard user name: `{user}`. */
  username: string;
  /** The ids the task runs as: `{uid}`, `{gid}`. */
  runAs: { uid: number; gid: number };
  /** The path of the group the task is created in: `{group}`; null when it has none. */
  group: string | null;
}

const PLACEHOLDER = /\{(user|uid|gid|group)\}/g;

/** Whether `template` uses `{group}`: such a rule applies only to tasks created in a group. */
export const needsGroup = (template: string) => template.includes('{group}');

/** A template with the subject's values filled in (`{group}` is empty for a task with no group). */
export function fillTemplate(template: string, subject: TemplateSubject): string {
  const values: Record<string, string> = {
    user: subject.username,
    uid: String(subject.runAs.uid),
    gid: String(subject.runAs.gid),
    group: subject.group ?? '',
  };
  return template.replace(PLACEHOLDER, (_, name: string) => values[name]!);
}

/** A rule's host path for one task: placeholders filled, then normalised; undefined when it needs a group the task lacks. */
export function expandPattern(pattern: string, subject: TemplateSubject): string | undefined {
  if (needsGroup(pattern) && subject.group === null) return undefined;
  return normalizePath(fillTemplate(pattern, subject));
}

/**
 * The task's bind mounts as they will run: the policy's `mounts.always`, its `mounts.default`
 * (unless the task opted out), then each mount the task asked for, admitted by the floor and then
 * `mounts.available` of the layer that sets it, or a 403 POLICY_DENIED naming the rule and layer.
 * Each carries the directory it was admitted under (the agent re-checks real paths against it).
 */
export function admitMounts(
  requests: readonly BindMountRequest[],
  policy: EffectivePolicy,
  subject: TemplateSubject,
  options: { defaultMounts: boolean },
): RunBindMount[] {
  const added = [
    ...policyMounts(policy, 'mounts.always', subject),
    ...(options.defaultMounts ? policyMounts(policy, 'mounts.default', subject) : []),
  ];
  const mounts = [...added, ...requests.map((request) => admitMount(request, policy, subject))];
  const places = mounts.map((m) => m.containerPath);
  const twice = places.find((place, i) => places.indexOf(place) !== i);
  if (twice) {
    const fromPolicy = added.find((m) => m.containerPath === twice);
    const why = fromPolicy ? ` (${fromPolicy.rule} mounts ${fromPolicy.hostPath} there)` : '';
    throw new DomainError('INVALID_TASK_CONFIG', `bind_mounts: two mounts at ${twice}${why}; give each its own container_path`);
  }
  return mounts;
}

/** What the policy adds itself; a mount naming `{group}` is skipped for a task with no group. */
function policyMounts(policy: EffectivePolicy, rule: 'mounts.always' | 'mounts.default', subject: TemplateSubject): RunBindMount[] {
  const applied = policy.get(rule);
  return applied.value.flatMap((mount: FixedMount) => {
    const hostPath = expandPattern(mount.host_path, subject);
    if (hostPath === undefined) return [];
    const floor = hostPathViolation(hostPath);
    if (floor) throw policyDenied(`${applied.name} cannot be applied: ${floor.message}`, floor.rule, 'floor');
    return [
      {
        hostPath,
        containerPath: normalizePath(mount.container_path)!,
        readOnly: mount.read_only,
        allowedRoot: hostPath,
        source: rule === 'mounts.always' ? ('always' as const) : ('default' as const),
        rule: applied.name,
      },
    ];
  });
}

function admitMount(request: BindMountRequest, policy: EffectivePolicy, subject: TemplateSubject): RunBindMount {
  const available = policy.get('mounts.available');
  const rule = available.name;
  const hostPath = normalizePath(request.host_path);
  const containerPath = normalizePath(request.container_path);
  const floor = (hostPath === undefined ? undefined : hostPathViolation(hostPath)) ?? containerPathViolation(request.container_path);
  if (floor) throw policyDenied(floor.message, floor.rule, 'floor');
  if (hostPath === undefined || containerPath === undefined) {
    throw policyDenied(`mount of ${request.host_path} refused: not an absolute path`, rule, available.layer);
  }

  let fixedElsewhere: { at: string } | undefined;
  for (const candidate of available.value) {
    const root = expandPattern(candidate.host_path, subject);
    if (root === undefined || !isWithin(hostPath, root)) continue;
    if (candidate.container_path !== undefined) {
      // A fixed place: what lies beneath the rule's directory lies beneath that place.
      const expected = normalizePath(`${candidate.container_path}/${hostPath.slice(root.length)}`)!;
      if (containerPath !== expected) {
        fixedElsewhere ??= { at: expected };
        continue;
      }
    }
    return {
      hostPath,
      containerPath,
      readOnly: request.read_only || candidate.read_only,
      allowedRoot: root,
      source: 'task',
      rule,
    };
  }
  if (fixedElsewhere) {
    throw policyDenied(
      `mount of ${request.host_path} at ${request.container_path} refused: ${rule} mounts it only at ${fixedElsewhere.at}`,
      rule,
      available.layer,
    );
  }
  throw policyDenied(
    `mount of ${request.host_path} refused: not in ${rule} (an admin lists the host directories tasks may mount in master.yaml)`,
    rule,
    available.layer,
  );
}
