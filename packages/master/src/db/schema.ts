import type { Generated, Insertable, Selectable } from 'kysely';

/** Timestamps are epoch milliseconds; booleans are 0/1, as SQLite stores them. */
export interface UsersTable {
  id: Generated<number>;
  username: string;
  password_hash: string;
  admin: number;
  active: number;
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

export interface Database {
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
