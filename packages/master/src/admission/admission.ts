import { checkFloor, FLOOR_CONFINEMENT, type BindMountRequest, type RunSpec, type TaskConfig, type TaskKind, type UnixIdentity } from '@trainyard/shared';
import type { Actor } from '../authz/actor.js';
import { enforce } from '../authz/decision.js';
import { taskPolicies } from '../authz/tasks.js';
import { DomainError, policyDenied } from '../errors.js';
import { parseTaskConfig, type TaskDefaults } from '../tasks/task-config.js';
import { groupContribution, type GroupUnixDirectory } from './group-identity.js';
import { defaultTaskStep, linkStep, resolveIdentity, type IdentityStep } from './identity.js';
import { admitMounts } from './mount-policy.js';
import type { Policy } from './policy.js';
import { admitCapabilities, admitEnvironment, admitImage, admitPool, admitPort, admitResources, checkNonRoot, type ImageCatalog } from './rules.js';

/** The owner as admission needs them: their link (identity) and their default group. */
export interface AdmissionOwner {
  id: number;
  username: string;
  agentUser: UnixIdentity | null;
  defaultGroup: { id: number; path: string } | null;
}

export interface AdmissionRequest {
  kind: TaskKind;
  /** An object, or YAML text. */
  config: unknown;
  /** `--group`: wins over the config's `group:` and the owner's default group. */
  group?: string;
  /** `--pool`: wins over the config's `pool:`, the group's default pool and the system's. */
  pool?: string;
  /** `--priority`: wins over the config's `priority:`. */
  priority?: number;
  /** `--no-preempt` (false): wins over the config's `preemptible:`. */
  preemptible?: boolean;
  /**
   * Set by the master, never by a request: a TensorBoard's read-only mounts of its experiments' log
   * directories, admitted like the task's own bind mounts (the owner's policy decides).
   */
  logMounts?: BindMountRequest[];
}

/** What a task is admitted with: its config as asked, the group it is created in, its pool, and the run spec the agent executes. */
export interface Admitted {
  config: TaskConfig;
  group: { id: number; path: string } | null;
  pool: string;
  runSpec: RunSpec;
  /** Its place in its owner's queue, and whether it may be preempted (and so borrow): the scheduler's, not the agent's. */
  scheduling: { priority: number; preemptible: boolean };
}

/** What the identity chain sees: the owner, and the group the task is created in (for a group's own identity). */
export type IdentitySubject = AdmissionOwner & { group: { id: number; path: string } | null };

/** Whether a group exists, for telling a missing group (404) from one the caller is not in (403); its default pool. */
export interface GroupDirectory {
  exists(path: string): Promise<boolean>;
  defaultPoolOf(groupId: number): Promise<string | null>;
}

/** The pools a task can be submitted to (master.yaml `pools`), each run by a resource manager. */
export interface PoolDirectory {
  /** master.yaml `default_pool`. */
  readonly defaultPool: string;
  names(): string[];
  find(name: string): (ImageCatalog & { refuse(spec: RunSpec, kind: TaskKind): string | null | Promise<string | null> }) | undefined;
}

/**
 * The one step every task-creating request goes through, before anything is stored (and all of a
 * dry run): validate the config → pick the group (`--group`, the config's `group:`, or the owner's
 * default; the caller must be a direct member) → pick the pool (`--pool`, the config's `pool:`, the
 * group's default pool, the system's) → resolve the identity field by field → apply the policy
 * layers that hold for the owner (system, their groups by priority, them) → apply the floor → ask
 * the pool's resource manager whether it can honour the whole spec. A bad config is a 400; a
 * refusal a 403 POLICY_DENIED naming the rule and the layer (the pool, for its manager's).
 */
export class Admission {
  private readonly identityChain: ReadonlyArray<IdentityStep<IdentitySubject>>;

  constructor(
    private readonly deps: {
      defaultTask: UnixIdentity;
      taskDefaults: TaskDefaults;
      /** The policy in force (a reload replaces it). */
      policy: () => Policy;
      groups: GroupDirectory;
      /** The gids, uid ranges and shared directories of groups. */
      groupUnix: GroupUnixDirectory;
      /** The pools and their managers: which images their machines have, and what part of a spec they cannot honour. */
      pools: PoolDirectory;
      /** Sources that go before the link (a group's UID range or fixed identity, issue 13). */
      identitySteps?: ReadonlyArray<IdentityStep<IdentitySubject>>;
    },
  ) {
    this.identityChain = [...(deps.identitySteps ?? []), linkStep, defaultTaskStep(deps.defaultTask)];
  }

  async admit(actor: Actor, owner: AdmissionOwner, request: AdmissionRequest): Promise<Admitted> {
    const parsed = parseTaskConfig(request.kind, request.config, this.deps.taskDefaults);
    // The CLI's --priority and --no-preempt win over the config's, and are kept in it (describe shows them).
    const priority = request.priority ?? parsed.priority;
    const preemptible = request.preemptible ?? parsed.preemptible;
    const config = {
      ...parsed,
      ...(priority === undefined ? {} : { priority }),
      ...(preemptible === undefined ? {} : { preemptible }),
    };
    const group = await this.pickGroup(actor, owner, request.group ?? config.group);
    const { pool, manager } = await this.pickPool(request.pool ?? config.pool, group);
    // The owner's groups go first (group-identity.ts: the task's group's range, every group's gid), then the chain.
    const fromGroups = await groupContribution(this.deps.groupUnix, owner, actor.groups.map((g) => g.id), group?.id ?? null);
    const { runAs, sources } = resolveIdentity([fromGroups.step, ...this.identityChain], { ...owner, group });
    const policy = this.deps.policy().for({ username: owner.username, groups: actor.groups.map((g) => g.path) });
    const subject = { username: owner.username, runAs, group: group?.path ?? null };

    checkNonRoot(runAs, sources, policy, owner.username);
    admitPool(pool, policy);
    const { image, pull } = await admitImage(config.image, policy, actor, manager, pool, owner.username);
    const runSpec: RunSpec = {
      image,
      pull,
      entrypoint: config.entrypoint,
      environment: admitEnvironment(config.environment, policy, subject),
      runAs,
      identitySources: sources,
      bindMounts: admitMounts([...config.bind_mounts, ...(request.logMounts ?? [])], policy, subject, { defaultMounts: config.default_mounts !== false }),
      // Resolved by the agent under its --shared-root; files made there stay writable for the group.
      ...(fromGroups.sharedDirs.length > 0 ? { sharedDirs: fromGroups.sharedDirs, umask: '0002' } : {}),
      resources: admitResources(config.resources, policy, actor),
      ports: admitPort(config.port, policy),
      confinement: { ...FLOOR_CONFINEMENT, capabilities: admitCapabilities(config.cap_add ?? [], policy), hostNamespaces: [], devices: [] },
    };
    // The floor over the whole spec, as the agent will check it again.
    const [violation] = checkFloor(runSpec);
    if (violation) throw policyDenied(violation.message, violation.rule, 'floor');
    // What the pool's engine cannot do (a Slurm pool without a container runtime and an image...): refused now, never dropped.
    const refusal = await manager.refuse(runSpec, request.kind);
    if (refusal) throw policyDenied(`pool ${pool} cannot run this ${request.kind}: ${refusal}`, `pools.${pool}`, 'pool');
    return { config, group, pool, runSpec, scheduling: { priority: priority ?? 0, preemptible: preemptible ?? true } };
  }

  /** `--pool`, else the config's `pool:`, else the group's default pool, else master.yaml's default_pool. */
  private async pickPool(requested: string | undefined, group: { id: number; path: string } | null) {
    const { pools } = this.deps;
    const known = () => `pools: ${pools.names().join(', ')}`;
    if (requested !== undefined) {
      const manager = pools.find(requested);
      if (!manager) throw new DomainError('POOL_NOT_FOUND', `pool '${requested}' does not exist (${known()})`);
      return { pool: requested, manager };
    }
    const groupDefault = group ? await this.deps.groups.defaultPoolOf(group.id) : null;
    const pool = groupDefault ?? pools.defaultPool;
    const manager = pools.find(pool);
    if (!manager) {
      throw new DomainError(
        'POOL_NOT_FOUND',
        `the default pool '${pool}' of group ${group!.path} is not one of master.yaml's pools any more (${known()}): ` +
          `name a pool with --pool (or pool: in the config), or an admin changes it (yard group set ${group!.path} --default-pool NAME)`,
      );
    }
    return { pool, manager };
  }

  /** `--group`, else the config's `group:`, else the owner's default group; a direct member only. */
  private async pickGroup(actor: Actor, owner: AdmissionOwner, requested: string | undefined): Promise<{ id: number; path: string } | null> {
    if (requested !== undefined) {
      const membership = actor.groups.find((g) => g.path === requested);
      if (!membership && !(await this.deps.groups.exists(requested))) {
        throw new DomainError('GROUP_NOT_FOUND', `group '${requested}' does not exist`);
      }
      enforce(taskPolicies.createIn.check(actor, { path: requested }));
      return { id: membership!.id, path: membership!.path };
    }
    if (!owner.defaultGroup) return null;
    const membership = actor.groups.find((g) => g.id === owner.defaultGroup!.id);
    if (!membership) {
      throw new DomainError(
        'FORBIDDEN',
        `${owner.username}'s default group ${owner.defaultGroup.path} cannot be used: ${owner.username} is no longer a direct member of it; ` +
          'name a group with --group (or group: in the config), or ask an admin to change the default (yard user set --default-group)',
      );
    }
    return { id: membership.id, path: membership.path };
  }
}
