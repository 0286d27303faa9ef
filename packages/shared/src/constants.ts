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
/** Keys that would loosen the container's confinement; refused with their own message. */
export const PRIVILEGE_KEYS = ['privileged', 'cap_add', 'capabilities', 'security_opt', 'devices', 'pid_mode', 'network_mode'];

export const MAX_CONFIG_BYTES = 64 * 1024;

export const AGENT_TOKEN_PREFIX = 'yard_agent_';
export const AGENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const EXECUTORS = ['docker', 'process'] as const;
export type ExecutorName = (typeof EXECUTORS)[number];

export const AGENT_REPORTED_STATES = ['PULLING', 'RUNNING', 'COMPLETED', 'FAILED', 'KILLED', 'LOST'] as const;
export type AgentReportedState = (typeof AGENT_REPORTED_STATES)[number];

export const LOG_STREAMS = ['stdout', 'stderr', 'system'] as const;

export * from './api.js';
export * from './errors.js';
