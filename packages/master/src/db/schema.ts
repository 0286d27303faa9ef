import type { Generated, Insertable, Selectable } from 'kysely';
import type { AgentState, AuthBackendName, ExecutorName, RunOutcome, SessionKind, TaskKind, TaskLogLine, TaskState } from '@trainyard/shared';

/**
 * Tables as both stores give them back (SQLite, PostgreSQL: column-types.ts and the pool's type
 * parsers make them read alike): timestamps are epoch milliseconds, booleans 0/1, JSON as text.
 * Columns that only ever hold one of a set of values are typed as that union here, at the
 * boundary; repositories turn the rest (0/1, JSON) into domain types before anything else sees them.
 */
export interface UsersTable {
  id: Generated<number>;
  username: string;
  /** argon2id for internal users; NO_PASSWORD for users whose password lives elsewhere. */
  password_hash: string;
  active: number;
  /** Where the password is checked (migration 0006; 'internal' for users from before). */
  auth: Generated<AuthBackendName>;
  agent_uid: number | null;
  agent_user: string | null;
  agent_gid: number | null;
  agent_group: string | null;
  /** The group their tasks are created in when they name none (migration 0007). */
  default_group_id: number | null;
  created_at: number;
  updated_at: number;
}

export interface SessionsTable {
  id: Generated<number>;
  token_hash: string;
  user_id: number;
  kind: SessionKind;
  created_at: number;
  expires_at: number;
  last_used_at: number;
  /** The client's User-Agent (`yard/0.1.0 node/20.19.0`, a browser) and address, for `yard user sessions`. */
  client: string | null;
  address: string | null;
}

export interface TasksTable {
  id: Generated<number>;
  kind: TaskKind;
  owner_id: number;
  state: TaskState;
  name: string;
  /** The validated config, as JSON: what the owner asked for. */
  config: string;
  /**
   * The run spec (JSON RunSpec): what admission decided the agent executes. Every row has one:
   * inserts write it, and migration 0007 derived it for tasks from before.
   */
  run_spec: string;
  /** The group the task was created in (null: none, or the group was deleted since) and its path then. */
  group_id: number | null;
  group_path: string | null;
  run_uid: number;
  run_user: string;
  run_gid: number;
  run_group: string;
  agent_id: string | null;
  exit_code: number | null;
  restarts: Generated<number>;
  kill_requested_at: number | null;
  lease_id: string | null;
  assigned_at: number | null;
  lease_acked_at: number | null;
  /** Lines received from the agent for the current lease: retried batches are recognised by it. */
  log_offset: Generated<number>;
  /** Why a task failed or was lost, for people. */
  message: string | null;
  created_at: number;
  updated_at: number;
  started_at: number | null;
  ended_at: number | null;
  /** Why a QUEUED task waits (a PENDING_REASONS code; migration 0008), written only when it changes. */
  pending_reason: string | null;
  /** Why the master asked to kill it, when it was the master (`RUNTIME_LIMIT: ...`; migration 0008): its message once KILLED. */
  kill_reason: string | null;
  /** Who asked for the kill: a user's name; null for the master itself (then kill_reason says why) or a kill from before migration 0021. */
  kill_requested_by: string | null;
  /** When it last entered the queue (created, or back after a run; migration 0031; null for older rows: created_at). */
  queued_at: number | null;
  /** The resource pool it was submitted to (migration 0011; `default` for older rows). */
  pool: Generated<string>;
  /** What its pool's manager placed the current run as, beyond the agent and lease (`slurm job 4711`; migration 0011). */
  placement: Generated<string | null>;
  /** Its place in the owner's own queue (higher first; migration 0026). */
  priority: Generated<number>;
  /** 0 (`--no-preempt`): never preempted, so it never borrows beyond its group's guarantee (migration 0026). */
  preemptible: Generated<number>;
  /** A preemption under way (with kill_requested_at): the run is stopped and the task queued again, not KILLED (migration 0026). */
  preempt_requested_at: Generated<number | null>;
  /** How many times it was preempted. */
  preemptions: Generated<number>;
}

/** The leader's lease (migration 0023, `ha`): one row; times by the database's clock. */
export interface LeaderTable {
  id: number;
  holder: string | null;
  url: string | null;
  fencing: number;
  acquired_at: number | null;
  renewed_at: number | null;
  expires_at: number;
}

/** Who led under which fencing number, from when (the database's clock). */
export interface LeaderTermsTable {
  fencing: number;
  holder: string;
  url: string;
  started_at: number;
  previous_expired_at: number | null;
}

/** Which leader's term granted each lease of a task (`ha` only); it goes with the task. */
export interface LeaseGrantsTable {
  id: Generated<number>;
  task_id: number;
  lease_id: string;
  agent_id: string;
  fencing: number;
  granted_at: number;
}

/** A task's history, for its page (migration 0031): it goes with the task. */
export interface TaskTimelineTable {
  id: Generated<number>;
  task_id: number;
  at: number;
  event: 'state' | 'waiting' | 'kill_requested';
  state: TaskState;
  detail: string | null;
}

/**
 * The usage ledger (migration 0031): one row per run, opened when it starts (ended_at null) and
 * closed when it ends. No foreign keys: it outlives tasks, groups and account changes.
 */
export interface UsageRunsTable {
  id: Generated<number>;
  task_id: number;
  owner_id: number;
  owner_name: string;
  group_path: string | null;
  pool: string;
  kind: TaskKind;
  task_name: string;
  /** CPUs held (a run that asks none counts as one, as quotas count it). */
  cpu: number;
  /** Bytes held (0: no limit asked). */
  memory: number;
  gpus: number;
  agent_id: string | null;
  queued_at: number;
  started_at: number;
  wait_ms: number;
  ended_at: number | null;
  outcome: RunOutcome | null;
  exit_code: number | null;
}

/** The cluster each minute, per pool (migration 0031), for the overview's charts. */
export interface ClusterSamplesTable {
  at: number;
  pool: string;
  agents: number;
  cpu_total: number;
  cpu_allocated: number;
  gpus_total: number;
  gpus_allocated: number;
  memory_total: number;
  memory_allocated: number;
  queued: number;
  oldest_queued_at: number | null;
  running: number;
}

export interface TaskLogsTable {
  task_id: number;
  seq: number;
  stream: TaskLogLine['stream'];
  line: string;
  created_at: number;
}

export interface AgentTokensTable {
  id: Generated<number>;
  name: string;
  token_hash: string;
  created_by: number | null;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
  /** Set for a one-shot agent's token (0022): valid only for this task while it holds `lease_id`. */
  task_id: Generated<number | null>;
  lease_id: Generated<string | null>;
}

export interface AgentsTable {
  id: string;
  token_id: number | null;
  executor: ExecutorName;
  /** JSON AgentResources. */
  resources: string;
  /** JSON labels. */
  labels: string;
  version: string;
  enabled: number;
  state: AgentState;
  registered_at: number;
  last_heartbeat_at: number;
  /** JSON array of the image references the agent has; null: it runs any (or has not said: agents before 0.3). */
  images: string | null;
  /** The pool it serves (`yard-agent --pool`; migration 0011). */
  pool: Generated<string>;
  /** JSON AgentImage[]: its images with their details (migration 0027); null: none to speak of, or never said. */
  image_details: Generated<string | null>;
}

/** Who loaded an image name into a pool with `yard image load` (migration 0027). */
export interface ImageLoadsTable {
  id: Generated<number>;
  reference: string;
  pool: string;
  owner_id: number;
  image_id: string;
  loaded_at: number;
}

/** Groups by path (`research/vision`); a subgroup's parent exists and its path is the parent's plus a segment. */
export interface GroupsTable {
  id: Generated<number>;
  path: string;
  parent_id: number | null;
  created_at: number;
  updated_at: number;
  /** Unique where set; `unix_group` names it inside tasks. */
  unix_gid: Generated<number | null>;
  unix_group: Generated<string | null>;
  /** Both or neither; recorded in uid_ranges too. */
  uid_range_start: Generated<number | null>;
  uid_range_size: Generated<number | null>;
  shared_dir: Generated<number>;
  /** The pool its tasks go to when they name none (migration 0011); null: the system's default_pool. */
  default_pool: Generated<string | null>;
  /** Its share against its siblings in hierarchical fair share (migration 0026). */
  fair_share_weight: Generated<number>;
}

/** Every uid range ever handed out; kept after its group is deleted, so none is ever reused. */
export interface UidRangesTable {
  id: Generated<number>;
  start: number;
  size: number;
  group_id: number | null;
  group_path: string;
  created_at: number;
}

/** The uid an unlinked member was given from a group's range: stable once given. */
export interface GroupUidsTable {
  group_id: number;
  user_id: number;
  uid: number;
  created_at: number;
}

export interface GroupMembersTable {
  group_id: number;
  user_id: number;
  created_at: number;
}

export interface RolesTable {
  id: Generated<number>;
  name: string;
  description: string;
  /** 1 for `admin` and `user`: never edited or deleted. */
  builtin: number;
  created_at: number;
  updated_at: number;
}

export interface RoleCapabilitiesTable {
  role_id: number;
  /** A name from CAPABILITIES; the repository skips any it does not know. */
  capability: string;
}

/** A role given to a user or a group (exactly one), optionally held for one group's members only. */
export interface RoleAssignmentsTable {
  id: Generated<number>;
  role_id: number;
  user_id: number | null;
  group_id: number | null;
  scope_group_id: number | null;
  created_at: number;
}

export interface ApiTokensTable {
  id: Generated<number>;
  user_id: number;
  name: string;
  token_hash: string;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
}

export interface AuditLogTable {
  id: Generated<number>;
  at: number;
  actor_id: number | null;
  /** Kept as written: the log reads the same after the actor's account changes. */
  actor_name: string | null;
  action: string;
  target_type: string;
  target: string;
  /** JSON object: what changed, never a secret. */
  details: string;
}

/** A named set of limits (null: none on that resource); migration 0008. */
export interface QuotasTable {
  id: Generated<number>;
  name: string;
  max_running: number | null;
  max_submitted: number | null;
  cpu: number | null;
  memory: number | null;
  gpus: number | null;
  max_runtime_ms: number | null;
  deny_on_limit: number;
  created_at: number;
  updated_at: number;
  /** Each member's cap inside a group quota (migration 0026). */
  per_user_running: Generated<number | null>;
  per_user_cpu: Generated<number | null>;
  per_user_memory: Generated<number | null>;
  per_user_gpus: Generated<number | null>;
  /** Only tasks of this pool count (null: every pool). */
  pool: Generated<string | null>;
  /** Budgets over `budget_window_ms` (rolling) or the calendar month (`budget_calendar = 'month'`). */
  gpu_hours: Generated<number | null>;
  cpu_hours: Generated<number | null>;
  budget_window_ms: Generated<number | null>;
  budget_calendar: Generated<'month' | null>;
}

/** A group's guaranteed share of a pool, with how much it may borrow beyond it and lend of it (migration 0026). */
export interface GuaranteesTable {
  id: Generated<number>;
  group_id: number;
  pool: string;
  gpus: number | null;
  cpu: number | null;
  borrow_gpus: number | null;
  borrow_cpu: number | null;
  lend_gpus: number | null;
  lend_cpu: number | null;
  created_at: number;
  updated_at: number;
}

/** Decayed usage per user and the group it was charged to (`group_key` 0: none), for hierarchical fair share (migration 0026). */
export interface FairShareUsageTable {
  user_id: number;
  group_key: number;
  cpu_seconds: number;
  gpu_seconds: number;
  updated_at: number;
}

/** A quota given to a user (their own tasks) or a group (the aggregate of the tasks created in it): exactly one. */
export interface QuotaAssignmentsTable {
  id: Generated<number>;
  quota_id: number;
  user_id: number | null;
  group_id: number | null;
  created_at: number;
}

/** A user's fair-share usage as of `updated_at` (decayed with the half-life when read or added to). */
export interface UserUsageTable {
  user_id: number;
  cpu_seconds: number;
  gpu_seconds: number;
  updated_at: number;
}

/**
 * The login throttle's counters (migration 0032): attempts counted against a user name
 * (`user:<name>`) or a client address (`addr:<address>`) in a window that ends at `window_ends_at`.
 */
export interface LoginFailuresTable {
  key: string;
  attempts: number;
  window_ends_at: number;
}

export interface Database {
  agent_tokens: AgentTokensTable;
  agents: AgentsTable;
  api_tokens: ApiTokensTable;
  audit_log: AuditLogTable;
  groups: GroupsTable;
  quotas: QuotasTable;
  quota_assignments: QuotaAssignmentsTable;
  user_usage: UserUsageTable;
  guarantees: GuaranteesTable;
  fair_share_usage: FairShareUsageTable;
  group_members: GroupMembersTable;
  group_uids: GroupUidsTable;
  uid_ranges: UidRangesTable;
  roles: RolesTable;
  role_capabilities: RoleCapabilitiesTable;
  role_assignments: RoleAssignmentsTable;
  users: UsersTable;
  sessions: SessionsTable;
  tasks: TasksTable;
  task_logs: TaskLogsTable;
  task_timeline: TaskTimelineTable;
  leader: LeaderTable;
  leader_terms: LeaderTermsTable;
  lease_grants: LeaseGrantsTable;
  usage_runs: UsageRunsTable;
  cluster_samples: ClusterSamplesTable;
  image_loads: ImageLoadsTable;
  login_failures: LoginFailuresTable;
}

export type UserRow = Selectable<UsersTable>;
export type NewUserRow = Insertable<UsersTable>;
export type SessionRow = Selectable<SessionsTable>;
export type TaskRow = Selectable<TasksTable>;
export type TaskLogRow = Selectable<TaskLogsTable>;
export type AgentRow = Selectable<AgentsTable>;
export type AgentTokenRow = Selectable<AgentTokensTable>;
export type GroupRow = Selectable<GroupsTable>;
export type RoleRow = Selectable<RolesTable>;
export type ApiTokenRow = Selectable<ApiTokensTable>;
export type AuditRow = Selectable<AuditLogTable>;
export type QuotaRow = Selectable<QuotasTable>;
export type GuaranteeRow = Selectable<GuaranteesTable>;
export type UsageRunRow = Selectable<UsageRunsTable>;
export type ClusterSampleRow = Selectable<ClusterSamplesTable>;
export type TaskTimelineRow = Selectable<TaskTimelineTable>;
export type ImageLoadRow = Selectable<ImageLoadsTable>;
