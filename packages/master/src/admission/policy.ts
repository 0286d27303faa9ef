import { POLICY_RULES, type EffectiveRule, type PolicyRule, type PolicyView, type PullPolicy, type UserPull } from '@trainyard/shared';
import type { FixedMount, MountRule, PolicyConfig, PolicyLayerConfig } from './policy-schema.js';

/** A port, or an inclusive range written "8000-8999". */
export type PortEntry = number | string;

/** The value type of each rule. */
export interface RuleValues {
  'images.allow': string[];
  'images.pull': PullPolicy;
  'images.user_pull': UserPull;
  'images.load.allow': string[];
  'mounts.always': FixedMount[];
  'mounts.default': FixedMount[];
  'mounts.available': MountRule[];
  require_non_root: boolean;
  'capabilities.add': string[];
  'env.set': Record<string, string>;
  'env.deny': string[];
  'resources.default.gpus': number | null;
  'resources.default.cpu': number | null;
  'resources.default.memory': number | null;
  'resources.max.gpus': number | null;
  'resources.max.cpu': number | null;
  'resources.max.memory': number | null;
  'ports.allow': PortEntry[];
  'pools.allow': string[];
}
type Rules = Partial<{ [K in PolicyRule]: RuleValues[K] }>;

/** One rule as it applies: its value, and the layer (`system`, `groups.research`, `users.alice`) that set it. */
export interface Applied<K extends PolicyRule> {
  value: RuleValues[K];
  layer: string;
  isDefault: boolean;
  /** `policy.<layer>.<rule>`: how refusals name it. */
  name: string;
}

interface Layer {
  name: string;
  rules: Rules;
}

/** Whose policy: a user's name and the paths of the groups they are a direct member of. */
export interface PolicySubject {
  username?: string;
  groups: readonly string[];
}

/**
 * The admission policy, compiled from master.yaml: a system layer, group layers ordered by
 * priority, and user layers. `for(subject)` gives the rules as they apply to one user: for each
 * rule, the most specific layer that sets it wins (the user's own layer, then their groups from the
 * highest priority down, then the system layer), else the built-in default.
 */
export class Policy {
  private readonly system: Layer;
  private readonly groups: Array<Layer & { path: string; priority: number }>;
  private readonly users: Map<string, Layer>;
  private readonly defaults: RuleValues;

  constructor(
    readonly config: PolicyConfig,
    /** The kinds' default service ports (master.yaml tasks.ports): what ports.allow admits by default. */
    defaultPorts: number[],
  ) {
    this.system = { name: 'system', rules: flatten(config.system) };
    this.groups = Object.entries(config.groups)
      .map(([path, layer]) => ({ path, priority: layer.priority, name: `groups.${path}`, rules: flatten(layer) }))
      .sort((a, b) => b.priority - a.priority);
    this.users = new Map(Object.entries(config.users).map(([name, layer]) => [name, { name: `users.${name}`, rules: flatten(layer) }]));
    this.defaults = { ...BUILT_IN, 'ports.allow': [...new Set(defaultPorts)] };
  }

  /** The layers that apply to `subject`, most specific first. */
  private layersFor(subject: PolicySubject): Layer[] {
    const user = subject.username === undefined ? undefined : this.users.get(subject.username);
    const groups = this.groups.filter((g) => subject.groups.includes(g.path));
    return [...(user ? [user] : []), ...groups, this.system];
  }

  for(subject: PolicySubject): EffectivePolicy {
    return new EffectivePolicy(this.layersFor(subject), this.defaults);
  }

  /** `GET /policy`: every rule's effective value and the layer it came from. */
  view(subject: PolicySubject & { group?: string }): PolicyView {
    const effective = this.for(subject);
    return {
      user: subject.username ?? null,
      group: subject.group ?? null,
      layers: this.layersFor(subject).map((l) => l.name).reverse(),
      rules: POLICY_RULES.map((rule): EffectiveRule => {
        const { value, layer, isDefault } = effective.get(rule);
        return { rule, value, layer, isDefault };
      }),
    };
  }

  /** `policy.<layer>.<rule>` for every rule a layer sets differently in `other` (or sets in only one of them). */
  differences(other: Policy): string[] {
    const layers = (p: Policy) => new Map([p.system, ...p.groups, ...p.users.values()].map((l) => [l.name, l]));
    const mine = layers(this);
    const theirs = layers(other);
    const changed: string[] = [];
    for (const name of new Set([...mine.keys(), ...theirs.keys()])) {
      for (const rule of POLICY_RULES) {
        const a = mine.get(name)?.rules[rule];
        const b = theirs.get(name)?.rules[rule];
        if (JSON.stringify(a) !== JSON.stringify(b)) changed.push(`policy.${name}.${rule}`);
      }
      const priority = (p: Policy) => p.groups.find((g) => g.name === name)?.priority;
      if (priority(this) !== priority(other) && priority(this) !== undefined && priority(other) !== undefined) changed.push(`policy.${name}.priority`);
    }
    return changed;
  }
}

/** The rules as they apply to one subject. */
export class EffectivePolicy {
  constructor(
    private readonly layers: Layer[],
    private readonly defaults: RuleValues,
  ) {}

  get<K extends PolicyRule>(rule: K): Applied<K> {
    for (const layer of this.layers) {
      const value = layer.rules[rule];
      if (value !== undefined) return { value: value as RuleValues[K], layer: layer.name, isDefault: false, name: `policy.${layer.name}.${rule}` };
    }
    // A rule no layer sets is the system layer's, at its default.
    return { value: this.defaults[rule], layer: 'system', isDefault: true, name: `policy.system.${rule}` };
  }
}

const BUILT_IN: RuleValues = {
  'images.allow': ['.*'],
  'images.pull': 'never',
  'images.user_pull': 'deny',
  'images.load.allow': ['user/{user}/.+'],
  'mounts.always': [],
  'mounts.default': [],
  'mounts.available': [],
  require_non_root: false,
  'capabilities.add': [],
  'env.set': {},
  'env.deny': ['LD_PRELOAD', 'LD_AUDIT'],
  'resources.default.gpus': null,
  'resources.default.cpu': null,
  'resources.default.memory': null,
  'resources.max.gpus': null,
  'resources.max.cpu': null,
  'resources.max.memory': null,
  'ports.allow': [],
  'pools.allow': ['*'],
};

/** A layer as master.yaml nests it, as one key per rule (left out when the layer does not set it). */
function flatten(layer: PolicyLayerConfig): Rules {
  const values: Record<PolicyRule, unknown> = {
    'images.allow': layer.images?.allow,
    'images.pull': layer.images?.pull,
    'images.user_pull': layer.images?.user_pull,
    'images.load.allow': layer.images?.load?.allow,
    'mounts.always': layer.mounts?.always,
    'mounts.default': layer.mounts?.default,
    'mounts.available': layer.mounts?.available,
    require_non_root: layer.require_non_root,
    'capabilities.add': layer.capabilities?.add,
    'env.set': layer.env?.set,
    'env.deny': layer.env?.deny,
    'resources.default.gpus': layer.resources?.default?.gpus,
    'resources.default.cpu': layer.resources?.default?.cpu,
    'resources.default.memory': layer.resources?.default?.memory,
    'resources.max.gpus': layer.resources?.max?.gpus,
    'resources.max.cpu': layer.resources?.max?.cpu,
    'resources.max.memory': layer.resources?.max?.memory,
    'ports.allow': layer.ports?.allow,
    'pools.allow': layer.pools?.allow,
  };
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as Rules;
}
