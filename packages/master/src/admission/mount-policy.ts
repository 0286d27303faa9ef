import {
  containerPathViolation,
  hostPathViolation,
  isWithin,
  normalizePath,
  type BindMount,
  type BindMountRequest,
  type UnixIdentity,
} from '@trainyard/shared';
import { DomainError, policyDenied } from '../errors.js';
import type { MountRule } from './policy-schema.js';

const RULE = 'policy.system.mounts.available';
const LAYER = 'system';

/** Whose task is being admitted: the pattern placeholders come from here. */
export interface MountSubject {
  /** The owner's Trainyard user name: `{user}`. */
  username: string;
  /** The identity the task runs as: `{uid}`, `{gid}`. */
  runAs: UnixIdentity;
}

/** A rule's host path for one task: placeholders filled, then normalised. */
export function expandPattern(pattern: string, subject: MountSubject): string {
  const values: Record<string, string> = { user: subject.username, uid: String(subject.runAs.uid), gid: String(subject.runAs.gid) };
  return normalizePath(pattern.replace(/\{(user|uid|gid)\}/g, (_, name: string) => values[name]!))!;
}

/**
 * Each requested bind mount, admitted by the floor and then the system policy, or a 403
 * POLICY_DENIED naming the rule and layer that refused it. An admitted mount carries the
 * directory it was admitted under (the agent re-checks real paths against it), the rule's fixed
 * container path and its forced read-only.
 */
export function admitMounts(requests: readonly BindMountRequest[], rules: readonly MountRule[], subject: MountSubject): BindMount[] {
  const admitted = requests.map((request) => admitMount(request, rules, subject));
  const places = admitted.map((m) => m.container_path);
  const twice = places.find((place, i) => places.indexOf(place) !== i);
  if (twice) throw new DomainError('INVALID_TASK_CONFIG', `bind_mounts: two mounts at ${twice}; give each its own container_path`);
  return admitted;
}

function admitMount(request: BindMountRequest, rules: readonly MountRule[], subject: MountSubject): BindMount {
  const hostPath = normalizePath(request.host_path);
  const containerPath = normalizePath(request.container_path);
  const floor = (hostPath === undefined ? undefined : hostPathViolation(hostPath)) ?? containerPathViolation(request.container_path);
  if (floor) throw policyDenied(floor.message, floor.rule, 'floor');
  if (hostPath === undefined || containerPath === undefined) {
    throw policyDenied(`mount of ${request.host_path} refused: not an absolute path`, RULE, LAYER);
  }

  let fixedElsewhere: { root: string; at: string } | undefined;
  for (const rule of rules) {
    const root = expandPattern(rule.host_path, subject);
    if (!isWithin(hostPath, root)) continue;
    if (rule.container_path !== undefined) {
      // A fixed place: what lies beneath the rule's directory lies beneath that place.
      const expected = normalizePath(`${rule.container_path}/${hostPath.slice(root.length)}`)!;
      if (containerPath !== expected) {
        fixedElsewhere ??= { root, at: expected };
        continue;
      }
    }
    return {
      host_path: hostPath,
      container_path: containerPath,
      read_only: request.read_only || rule.read_only,
      allowed_root: root,
    };
  }
  if (fixedElsewhere) {
    throw policyDenied(
      `mount of ${request.host_path} at ${request.container_path} refused: ${RULE} mounts it only at ${fixedElsewhere.at}`,
      RULE,
      LAYER,
    );
  }
  throw policyDenied(
    `mount of ${request.host_path} refused: not in ${RULE} (an admin lists the host directories tasks may mount in master.yaml)`,
    RULE,
    LAYER,
  );
}
