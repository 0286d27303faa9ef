import type { AuthBackendName } from '@trainyard/shared';
import type { Generated, Insertable, Selectable } from 'kysely';

/** Timestamps are epoch milliseconds; booleans are 0/1, as SQLite stores them. */
export interface UsersTable {
  id: Generated<number>;
  username: string;
  /** argon2id for internal users; NO_PASSWORD for users whose password lives elsewhere. */
  password_hash: string;
  admin: number;
  active: number;
  /** Where the password is checked (migration 0006; 'internal' for users from before). */
  auth: Generated<AuthBackendName>;
  agent_uid: number | null;
  agent_user: string | null;
  agent_gid: number | null;
  agent_group: string | null;
  created_at: number;
  updated_at: number;
}

export interface SessionsTable {
  id: Generated<number>;
  token_hash: string;
  user_id: number;
  kind: string;
  created_at: number;
  expires_at: number;
  last_used_at: number;
}

export interface TasksTable {
  id: Generated<number>;
  kind: string;
  owner_id: number;
  state: string;
  name: string;
  /** The validated config, as JSON. */
  config: string;
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
}

export interface TaskLogsTable {
  task_id: number;
  seq: number;
  stream: string;
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
}

export interface AgentsTable {
  id: string;
  token_id: number | null;
  executor: string;
  /** JSON AgentResources. */
  resources: string;
  /** JSON labels. */
  labels: string;
  version: string;
  enabled: number;
  state: string;
  registered_at: number;
  last_heartbeat_at: number;
}

export interface Database {
  agent_tokens: AgentTokensTable;
  agents: AgentsTable;
  users: UsersTable;
  sessions: SessionsTable;
  tasks: TasksTable;
  task_logs: TaskLogsTable;
}

export type UserRow = Selectable<UsersTable>;
export type NewUserRow = Insertable<UsersTable>;
export type SessionRow = Selectable<SessionsTable>;
export type TaskRow = Selectable<TasksTable>;
export type TaskLogRow = Selectable<TaskLogsTable>;
export type AgentRow = Selectable<AgentsTable>;
export type AgentTokenRow = Selectable<AgentTokensTable>;
