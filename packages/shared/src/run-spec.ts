/**
 * The run spec: what an agent executes for a task, decided once by the master's admission step
 * (config, group, identity, policy layers, floor) and stored with the task. Agents run it as it is
 * (after checking it against the floor again); `describe`, `--json`, `--dry-run` and the web UI show
 * it. Zod-free: clients import it for types.
 */
import type { Confinement } from './floor.js';
import type { UnixIdentity } from './users.js';

/**
 * Where experiments write their TensorBoard logs: a bind mount an experiment has at this container
 * path is what a TensorBoard naming it mounts, read-only, at `<this>/<experiment id>` (its logdir).
 */
export const EXPERIMENT_LOG_DIR = '/runs';

/** When an agent pulls the image: never (only images already on it run), when it lacks it, or every time. */
export const PULL_POLICIES = ['never', 'if_missing', 'always'] as const;
export type PullPolicy = (typeof PULL_POLICIES)[number];

/**
 * Where a field of the run identity came from, first match wins: the task's group (its uid range
 * and gid, and the gids of the owner's groups), then the owner's agent-user link, then
 * `security.default_task`.
 */
export type IdentitySource = 'group' | 'link' | 'default_task' | (string & {});
/** A source in words, as `describe`, the web UI and refusals name it ("the agent-user link"). */
export function describeIdentitySource(source: IdentitySource): string {
  const words: Record<string, string> = { group: "the task's group", link: 'the agent-user link', default_task: 'security.default_task', legacy: 'the identity stored before 0.3' };
  return words[source] ?? source;
}

export const IDENTITY_FIELDS = ['uid', 'user', 'gid', 'group', 'supplementaryGroups'] as const;
export type IdentityField = (typeof IDENTITY_FIELDS)[number];

/** Who the task runs as: uid:gid with their names, and supplementary groups (named, so that `id` names them). */
export interface RunIdentity extends UnixIdentity {
  supplementaryGroups: Array<{ gid: number; name: string }>;
}

/**
 * Why a bind mount is there: the task asked for it, or the policy's `mounts.always` / `mounts.default`
 * added it, or (on the agent only) it is a group's shared directory (`RunSpec.sharedDirs`).
 */
export type MountSource = 'task' | 'always' | 'default' | 'group_shared';

/**
 * A group's shared directory, named symbolically: the master does not know where agents keep them.
 * The agent resolves it to `<shared_root>/<group>` (its `--shared-root`), creates it when first
 * needed as root:<gid> mode 2770, and mounts it at `containerPath` (`/shared/<group>`).
 */
export interface RunSharedDir {
  group: string;
  gid: number;
  containerPath: string;
}

/** Where a group's shared directory appears in its members' tasks. */
export const sharedDirContainerPath = (group: string) => `/shared/${group}`;

/** A host directory or file the task sees, as admitted by the master. */
export interface RunBindMount {
  hostPath: string;
  containerPath: string;
  readOnly: boolean;
  /** The admitted directory it lies in: the agent refuses a host path whose real path leaves it. */
  allowedRoot: string;
  /** Who asked for it, and the policy rule that admitted or added it (`policy.system.mounts.available`). */
  source: MountSource;
  rule: string;
}

export interface RunResources {
  gpus: number;
  /** Cores; unset: no limit. */
  cpu?: number;
  /** Bytes; unset: no limit. */
  memory?: number;
}

/** A port the task's service listens on in its container; nothing is published on the agent's network. */
export interface RunPort {
  container: number;
  name?: string;
}

/** The run spec as stored with the task (lease-independent). */
export interface RunSpec {
  /** Normalised: a tag is added when missing (`busybox` -> `busybox:latest`), a digest is kept. */
  image: string;
  pull: PullPolicy;
  entrypoint: string[];
  environment: Record<string, string>;
  runAs: RunIdentity;
  /** Which source set each field of `runAs`. */
  identitySources: Record<IdentityField, IdentitySource>;
  bindMounts: RunBindMount[];
  /** Shared directories of the owner's groups (absent in specs stored before 0009-group-identity). */
  sharedDirs?: RunSharedDir[];
  /** The umask of the task's processes, as octal text ("0002" with shared directories); unset: the image's. */
  umask?: string;
  resources: RunResources;
  ports: RunPort[];
  /** How the container is confined; the agent refuses anything looser than the floor. */
  confinement: Confinement;
}

/**
 * An image reference in one spelling, so that allowlists and the images agents report compare
 * equal: Docker Hub's implicit names are made short (`docker.io/library/busybox` -> `busybox`), a
 * missing tag becomes `latest`, and a digest is kept as given.
 */
export function normalizeImage(reference: string): string {
  let ref = reference.trim();
  for (const prefix of ['docker.io/library/', 'index.docker.io/library/', 'docker.io/', 'index.docker.io/']) {
    if (ref.startsWith(prefix)) {
      ref = ref.slice(prefix.length);
      break;
    }
  }
  if (ref.includes('@')) return ref;
  const lastSegment = ref.slice(ref.lastIndexOf('/') + 1);
  return lastSegment.includes(':') ? ref : `${ref}:latest`;
}
