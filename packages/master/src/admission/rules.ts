import {
  capabilityViolation,
  DEFAULT_POOL,
  describeIdentitySource,
  formatByteSize,
  normalizeCapability,
  normalizeImage,
  type IdentityField,
  type IdentitySource,
  type PullPolicy,
  type ResourceRequest,
  type RunIdentity,
  type RunPort,
  type RunResources,
} from '@trainyard/shared';
import type { Actor } from '../authz/actor.js';
import { policyDenied } from '../errors.js';
import { fillTemplate, type TemplateSubject } from './mount-policy.js';
import type { EffectivePolicy, PortEntry } from './policy.js';

/** Where the master learns which images the agents have (the agents domain). */
export interface ImageCatalog {
  /** present: some agent has it (or runs any image); absent: agents are known and none has it; unknown: no agent is known. */
  whereIs(image: string): Promise<'present' | 'absent' | 'unknown'>;
}

/** `{user}` in an image pattern is the user's name, as a literal (its dots match only dots). */
const fillImagePattern = (pattern: string, username: string) => pattern.replaceAll('{user}', username.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));

/** Whether one of `patterns` (regexes with `{user}`, over the whole normalised reference) matches. */
export function imageMatches(patterns: readonly string[], reference: string, username: string): boolean {
  return patterns.some((pattern) => new RegExp(`^(?:${fillImagePattern(pattern, username)})$`).test(reference));
}

/** `images.allow` for `reference` (normalised): null when it admits it (or the actor holds use_any_image), else the refusal. */
export function imageRefusal(reference: string, policy: EffectivePolicy, actor: Actor, username: string): ReturnType<typeof policyDenied> | null {
  if (actor.can('use_any_image')) return null;
  const allow = policy.get('images.allow');
  if (imageMatches(allow.value, reference, username)) return null;
  return policyDenied(
    `image ${reference} refused by ${allow.name}: it matches none of ${allow.value.map((p) => `"${p}"`).join(', ') || 'its patterns (none)'}; ` +
      'holders of use_any_image may run any image',
    allow.name,
    allow.layer,
  );
}

/**
 * `images.allow` (skipped by holders of use_any_image) over the normalised reference, then
 * `images.pull`: under `never`, an image no known agent has is refused now rather than failing on
 * whichever agent takes it.
 */
export async function admitImage(
  image: string,
  policy: EffectivePolicy,
  actor: Actor,
  catalog: ImageCatalog,
  pool: string,
  username: string = actor.username,
): Promise<{ image: string; pull: PullPolicy }> {
  const reference = normalizeImage(image);
  const refusal = imageRefusal(reference, policy, actor, username);
  if (refusal) throw refusal;
  const pull = policy.get('images.pull');
  if (pull.value === 'never' && (await catalog.whereIs(reference)) === 'absent') {
    throw policyDenied(
      `image ${reference} refused by ${pull.name} (never): no agent${pool === DEFAULT_POOL ? '' : ` of pool ${pool}`} has it, and agents do not pull; ` +
        'an admin loads it onto the agents, or lets them pull (images.pull: if_missing)',
      pull.name,
      pull.layer,
    );
  }
  return { image: reference, pull: pull.value };
}

/** `pools.allow`: the pool the task goes to must be one its owner's layers allow ("*": every pool). */
export function admitPool(pool: string, policy: EffectivePolicy): void {
  const allow = policy.get('pools.allow');
  if (allow.value.includes('*') || allow.value.includes(pool)) return;
  throw policyDenied(`pool ${pool} refused by ${allow.name}: it allows ${allow.value.join(', ') || 'no pool'}`, allow.name, allow.layer);
}

/** `require_non_root`: a task that would run as uid 0 is refused, telling the admin what to change. */
export function checkNonRoot(runAs: RunIdentity, sources: Record<IdentityField, IdentitySource>, policy: EffectivePolicy, owner: string): void {
  const rule = policy.get('require_non_root');
  if (!rule.value || runAs.uid !== 0) return;
  throw policyDenied(
    `task refused by ${rule.name}: ${owner}'s task would run as uid 0 (root), from ${describeIdentitySource(sources.uid)}; ` +
      `an admin links ${owner} to a non-root agent user (yard user link-with-agent-user ${owner} ...) ` +
      'or sets a non-root security.default_task in master.yaml',
    rule.name,
    rule.layer,
  );
}

/** `cap_add`: each capability the floor allows and the policy's `capabilities.add` admits; every other one stays dropped. */
export function admitCapabilities(requested: readonly string[], policy: EffectivePolicy): string[] {
  const allowed = policy.get('capabilities.add');
  const admitted: string[] = [];
  for (const name of requested) {
    const cap = normalizeCapability(name);
    const floor = capabilityViolation(cap);
    if (floor) throw policyDenied(floor.message, floor.rule, 'floor');
    if (!allowed.value.includes(cap)) {
      throw policyDenied(`capability ${cap} refused: not in ${allowed.name} (${allowed.value.join(', ') || 'none'})`, allowed.name, allowed.layer);
    }
    if (!admitted.includes(cap)) admitted.push(cap);
  }
  return admitted;
}

/** A glob of `*` and `?` over a whole, case-sensitive name. */
const globMatches = (glob: string, name: string) =>
  new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`).test(name);

/** `env.deny` refuses names the task set; `env.set` then forces its values (with placeholders filled). */
export function admitEnvironment(requested: Record<string, string>, policy: EffectivePolicy, subject: TemplateSubject): Record<string, string> {
  const deny = policy.get('env.deny');
  for (const name of Object.keys(requested)) {
    const match = deny.value.find((glob) => globMatches(glob, name));
    if (match) {
      throw policyDenied(
        `environment variable ${name} refused by ${deny.name}${match === name ? '' : ` (${match})`}: tasks may not set it`,
        deny.name,
        deny.layer,
      );
    }
  }
  const forced = policy.get('env.set');
  const environment = { ...requested };
  for (const [name, template] of Object.entries(forced.value)) environment[name] = fillTemplate(template, subject);
  return environment;
}

const RESOURCE_KINDS = ['gpus', 'cpu', 'memory'] as const;
const amount = (kind: (typeof RESOURCE_KINDS)[number], value: number) =>
  kind === 'gpus' ? `${value} GPU${value === 1 ? '' : 's'}` : kind === 'cpu' ? `${value} cpu` : `${formatByteSize(value)} of memory`;

/**
 * What the task is given of each resource: what it asked for, else `resources.default`. Above
 * `resources.max` is refused; above the default needs customize_resources.
 */
export function admitResources(requested: ResourceRequest, policy: EffectivePolicy, actor: Actor): RunResources {
  const given: RunResources = { gpus: 0 };
  for (const kind of RESOURCE_KINDS) {
    const fallback = policy.get(`resources.default.${kind}`);
    const max = policy.get(`resources.max.${kind}`);
    const value = requested[kind] ?? fallback.value ?? undefined;
    if (value === undefined) continue;
    if (max.value !== null && value > max.value) {
      throw policyDenied(`${amount(kind, value)} refused by ${max.name}: at most ${amount(kind, max.value)} per task`, max.name, max.layer);
    }
    const asked = requested[kind];
    if (asked !== undefined && fallback.value !== null && asked > fallback.value && !actor.can('customize_resources')) {
      throw policyDenied(
        `${amount(kind, asked)} refused: it is more than the default of ${amount(kind, fallback.value)} (${fallback.name}), ` +
          `and asking above the default needs customize_resources, which ${actor.username} does not hold`,
        fallback.name,
        fallback.layer,
      );
    }
    given[kind] = value;
  }
  return given;
}

const portAllowed = (port: number, entries: readonly PortEntry[]) =>
  entries.some((entry) => {
    if (typeof entry === 'number') return entry === port;
    const [low, high] = entry.split('-').map(Number) as [number, number];
    return port >= low && port <= high;
  });

/** The task's service port (its own, or its kind's default) if the policy's `ports.allow` admits it. */
export function admitPort(port: number | undefined, policy: EffectivePolicy): RunPort[] {
  if (port === undefined) return [];
  const allow = policy.get('ports.allow');
  if (!portAllowed(port, allow.value)) {
    throw policyDenied(`port ${port} refused: not in ${allow.name} (${allow.value.join(', ') || 'none'})`, allow.name, allow.layer);
  }
  return [{ container: port, name: 'http' }];
}
