/**
 * Runtime values every side shares, without zod: clients import `@trainyard/shared/constants`
 * to start fast; the schemas in the other modules are built from these.
 */

export const SESSION_KINDS = ['login', 'temporary'] as const;
export type SessionKind = (typeof SESSION_KINDS)[number];

/** The account every client acts as when nobody logged in. */
export const DEFAULT_ACCOUNT = 'yard';
export const ADMIN_ACCOUNT = 'admin';
export const TOKEN_PREFIX = 'yard_';

/**
 * Where a user's password is checked: Trainyard's own argon2id hash, an LDAP directory, PAM on the
 * master's host, or an htpasswd-style file.
 */
export const AUTH_BACKENDS = ['internal', 'ldap', 'pam', 'file'] as const;
export type AuthBackendName = (typeof AUTH_BACKENDS)[number];

/** 1–64 chars of [a-z0-9._-], starting with a letter or digit. Input is lower-cased first. */
export const USERNAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const MAX_PASSWORD_LENGTH = 1024;
/** uid/gid 4294967295 is (uid_t)-1, "no change" to the kernel, so it is never a valid identity. */
export const MAX_UNIX_ID = 4294967294;
/** POSIX portable user/group names, as useradd accepts them. */
export const UNIX_NAME_PATTERN = /^[a-z_][a-z0-9_.-]{0,31}\$?$/i;

export const TASK_KINDS = ['experiment', 'notebook', 'command', 'tensorboard', 'shell'] as const;
export type TaskKind = (typeof TASK_KINDS)[number];

export const TASK_STATES = [
  'QUEUED',
  'ASSIGNED',
  'PULLING',
  'RUNNING',
  'COMPLETED',
  'FAILED',
  'KILLED',
  'LOST',
] as const;
export type TaskState = (typeof TASK_STATES)[number];
export const TERMINAL_STATES: readonly TaskState[] = ['COMPLETED', 'FAILED', 'KILLED', 'LOST'];
export const isTerminal = (state: TaskState): boolean => TERMINAL_STATES.includes(state);

/** Keys a task config may never carry: who a task runs as is decided by the master alone. */
export const IDENTITY_KEYS = ['user', 'uid', 'gid', 'group', 'groups', 'run_as', 'runas', 'username', 'userns', 'usergroup'];
/**
 * Keys that would loosen the container's confinement; refused with their own message. (`cap_add` is
 * a real key: the admission policy's `capabilities.add` decides which it may name.)
 */
export const PRIVILEGE_KEYS = ['privileged', 'capabilities', 'security_opt', 'devices', 'pid_mode', 'network_mode'];

export const MAX_CONFIG_BYTES = 64 * 1024;

export const AGENT_TOKEN_PREFIX = 'yard_agent_';
export const AGENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** podman: rootless, run by a one-shot agent as its own user (a Slurm pool's `container: podman`). */
export const EXECUTORS = ['docker', 'process', 'podman'] as const;
export type ExecutorName = (typeof EXECUTORS)[number];

export const AGENT_REPORTED_STATES = ['PULLING', 'RUNNING', 'COMPLETED', 'FAILED', 'KILLED', 'LOST'] as const;
export type AgentReportedState = (typeof AGENT_REPORTED_STATES)[number];

export const LOG_STREAMS = ['stdout', 'stderr', 'system'] as const;

/**
 * What names and other free text may not hold: C0 controls (NUL, ESC, tab, line breaks...), DEL,
 * C1 controls, and the Unicode bidirectional overrides and isolates that make text display in an
 * order other than it reads. The master refuses them; the CLI escapes any it prints.
 */
export const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

/**
 * What a role can hold. A user's effective capabilities are the union of the roles given to them and
 * to the groups they are a direct member of (subgroups inherit nothing).
 */
export const CAPABILITIES = [
  'see_status',
  'change_config',
  'operate_others',
  'delete_tasks',
  'access_api',
  'customize_resources',
  'use_any_image',
] as const;
export type Capability = (typeof CAPABILITIES)[number];
export const isCapability = (value: unknown): value is Capability =>
  typeof value === 'string' && (CAPABILITIES as readonly string[]).includes(value);

/** One line per capability, for help texts, `yard role show` and the web UI. */
export const CAPABILITY_SUMMARIES: Record<Capability, string> = {
  see_status: "see the agents and cluster status pages and API, and everyone's usage (scoped: the usage charged to the scope group)",
  change_config: 'change users, groups, roles and agents; read the audit log',
  operate_others: "read the logs of, kill and alter other users' tasks",
  delete_tasks: 'permanently delete ended tasks and their logs',
  access_api: 'create personal API tokens for scripts',
  customize_resources: 'ask for more than the default resources per task',
  use_any_image: "run images outside the admin's image allowlist",
};

/**
 * Capabilities that may be held for one group only ("scoped"): `operate_others` and `delete_tasks`
 * act on tasks, and a scope limits them to tasks whose owner is a direct member of the scope group;
 * `see_status` scoped to a group shows the usage charged to that group (and nothing else: the agents
 * and cluster pages need it unscoped). A scoped assignment of a role holding any other capability is
 * refused.
 */
export const SCOPEABLE_CAPABILITIES: readonly Capability[] = ['operate_others', 'delete_tasks', 'see_status'];

/**
 * Capabilities that only let their holder read: a role holding nothing else may be given to a group
 * scoped to that group itself ("every member of research sees research's usage"), which for the
 * others would let every member act on every other member's tasks (SELF_SCOPE).
 */
export const READ_ONLY_CAPABILITIES: readonly Capability[] = ['see_status'];

/** Built-in roles: `admin` holds every capability, `user` none; neither can be edited or deleted. */
/** A task's priority in its owner's own queue (`--priority`): higher first, never ahead of other people's tasks. */
export const MIN_PRIORITY = -100;
export const MAX_PRIORITY = 100;

export const ADMIN_ROLE = 'admin';
export const USER_ROLE = 'user';
export const BUILTIN_ROLES: readonly string[] = [ADMIN_ROLE, USER_ROLE];

/** Role and API token names: like user names. */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
/** One segment of a group path (`research/vision`): a-z, 0-9, ".", "_", "-", starting with a letter or digit. */
export const GROUP_SEGMENT_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const MAX_GROUP_PATH_LENGTH = 255;
export const MAX_GROUP_DEPTH = 16;

/** Personal API tokens: distinct from session (`yard_`) and agent (`yard_agent_`) tokens at a glance. */
export const API_TOKEN_PREFIX = 'yard_pat_';

export * from './api.js';
export * from './byte-size.js';
export * from './image-id.js';
export * from './run-spec.js';
export * from './errors.js';
export * from './web-pages.js';
export * from './same-origin-path.js';
export * from './quotas.js';
export * from './why.js';
export * from './task-status.js';
export * from './version.js';
export * from './usage-format.js';
export * from './pools.js';

const DURATION_UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `500ms`, `90s`, `10m`, `2h`, `1d`, or seconds as a plain number, in milliseconds; undefined when it is none of these (the CLI's and the agent's flags). */
export function parseDurationMs(value: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/i.exec(value);
  if (!match) return undefined;
  return Math.round(Number(match[1]) * DURATION_UNITS[(match[2] ?? 's').toLowerCase() as keyof typeof DURATION_UNITS]);
}
