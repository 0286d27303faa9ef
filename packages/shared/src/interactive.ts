/**
 * Notebooks, TensorBoards and shells that open: the master's proxy path for a task's service, the
 * streams an agent dials back for it, and the shell protocol. Zod-free: clients import it.
 */
import type { TaskKind, TaskState } from './constants.js';

/** Where the master serves a task's service: `/proxy/<task id>/` (the service's own base URL). */
export const PROXY_PREFIX = '/proxy';
export const proxyPath = (taskId: number): string => `${PROXY_PREFIX}/${taskId}/`;
/** A path served by the proxy: `/proxy/<id>` and everything beneath it. */
export const PROXIED_PATH = /^\/proxy\/\d{1,12}(\/|$)/;

/** The kinds whose task serves HTTP on its port, opened through the proxy. */
export const SERVICE_KINDS: readonly TaskKind[] = ['notebook', 'tensorboard'];
/** The kinds stopped after `tasks.idle_timeout` with no proxied traffic and no shell session. */
export const IDLE_KINDS: readonly TaskKind[] = ['notebook', 'tensorboard', 'shell'];

/** What the agent connects a dialled-back stream to: the task's port, or a command run inside the task. */
export type StreamTarget =
  | { kind: 'port'; port: number }
  | { kind: 'exec'; command: string[]; tty: boolean; cols?: number; rows?: number };

/**
 * The upgrade an agent dials back with for a stream to a task's port: after the master's `101`,
 * the connection carries the service's bytes as they are, with no framing to parse on either side
 * (bench P9). A shell's stream is a WebSocket instead: it needs messages (resize, exit code).
 */
export const TUNNEL_UPGRADE = 'trainyard-tcp';
/** The upgrade the master expects for a stream to `target`. */
export const streamUpgrade = (target: StreamTarget): string => (target.kind === 'port' ? TUNNEL_UPGRADE : 'websocket');

/** A task's service as the master sees it: where it is served, and whether it answered. */
export interface ServiceStatus {
  taskId: number;
  kind: TaskKind;
  state: TaskState;
  /** The proxy path (`/proxy/12/`), on `origin`. */
  path: string;
  /**
   * The origin tasks' services are served on (`listen.services_port`, `http.services_url`), or
   * null when it is the master's own: the CLI and the web UI prefix the master's URL then.
   */
  origin: string | null;
  /** The container port it listens on. */
  port: number | null;
  /** True once the service answered an HTTP request through the agent's stream. */
  ready: boolean;
  /** Why it is not ready (still starting, ended...). */
  message: string | null;
}

/**
 * The shell protocol, over a WebSocket (`GET /api/v1/tasks/:id/shell`, and the agent's stream):
 * binary frames carry data, their first byte the channel (0 stdin, 1 stdout, 2 stderr); text frames
 * carry JSON control messages.
 */
export const SHELL_CHANNEL = { stdin: 0, stdout: 1, stderr: 2 } as const;
export type ShellControl =
  | { type: 'resize'; cols: number; rows: number }
  /** The client's stdin ended (a command without a terminal): the remote sees end of input. */
  | { type: 'eof' }
  | { type: 'exit'; code: number }
  | { type: 'error'; message: string };

/** The query of `GET /tasks/:id/shell`: the command (JSON array; the login shell when absent) and the terminal. */
export interface ShellQuery {
  command?: string;
  tty?: boolean;
  cols?: number;
  rows?: number;
}
