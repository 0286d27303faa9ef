import type { Duplex } from 'node:stream';
import { WebSocket } from 'ws';
import { SHELL_CHANNEL, type AgentAction, type ShellControl } from '@trainyard/shared';
import type { Logger } from 'pino';
import type { TcpConnection } from './executors/connect-tcp.js';
import type { Run } from './executors/executor.js';

type OpenAction = Extract<AgentAction, { type: 'open' }>;
type ExecTarget = Extract<OpenAction['target'], { kind: 'exec' }>;

const DIAL_TIMEOUT_MS = 15_000;

/**
 * One stream the master asked for: the agent dials back to the master (outbound, like every call
 * it makes; no port of the agent is ever opened) and connects it to the task's port (raw bytes
 * after an upgrade to `trainyard-tcp`) or to a command run inside the task (a shell, over a
 * WebSocket). One connection per stream keeps flow control TCP's own.
 */
export async function serveStream(action: OpenAction, run: Run | undefined, dial: StreamDialer, logger: Logger): Promise<void> {
  if (action.target.kind === 'port') await servePort(action, action.target.port, run, dial, logger);
  else await serveShell(action, action.target, run, dial, logger);
}

export interface StreamDialer {
  tunnel(streamId: string): Promise<Duplex>;
  webSocket(streamId: string): WebSocket;
  /** The stream cannot be connected: the master answers whoever waits for it with `message`. */
  failed(streamId: string, message: string): Promise<unknown>;
}

/**
 * The task's port: the service is connected first, so that a port that cannot be reached is a
 * 502 saying why for the user rather than a stream that closes at once.
 */
async function servePort(action: OpenAction, port: number, run: Run | undefined, dial: StreamDialer, logger: Logger): Promise<void> {
  let service: TcpConnection | undefined;
  try {
    if (!run) throw new Error(`task ${action.taskId} does not run on this agent under that lease`);
    if (!run.connect) throw new Error('this executor cannot reach a task port');
    service = await run.connect(port);
  } catch (error) {
    const message = (error as Error).message;
    logger.info({ taskId: action.taskId, err: message }, 'a stream could not be connected');
    await dial.failed(action.streamId, `task ${action.taskId}'s port ${port}: ${message}`).catch(() => undefined);
    return;
  }
  let master: Duplex;
  try {
    master = await dial.tunnel(action.streamId);
  } catch (error) {
    logger.warn({ taskId: action.taskId, err: (error as Error).message }, 'could not dial back the master for a stream');
    service.socket.destroy();
    return;
  }
  splice(master, service);
}

/** Bytes both ways; either side ending ends the other's writing, either closing or failing closes both. */
function splice(master: Duplex, service: TcpConnection): void {
  master.pipe(service.socket);
  service.pipeTo(master);
  const end = () => {
    master.destroy();
    service.socket.destroy();
  };
  for (const side of [master, service.socket]) {
    side.on('close', end);
    side.on('error', end);
  }
}

async function serveShell(action: OpenAction, target: ExecTarget, run: Run | undefined, dial: StreamDialer, logger: Logger): Promise<void> {
  const ws = dial.webSocket(action.streamId);
  // A connection reset after the stream opened ends it (closing the task's end); it is no error of the agent's.
  ws.on('error', (error) => logger.debug({ taskId: action.taskId, err: error.message }, 'a stream broke'));
  // Listening from the start: the master sends as soon as the stream is up, possibly in the very
  // packet that opens it, and what it sends must be held while the command is started.
  const early: Array<{ data: Buffer; binary: boolean }> = [];
  const hold = (data: Buffer, binary: boolean) => early.push({ data, binary });
  ws.on('message', hold);
  try {
    await opened(ws);
  } catch (error) {
    logger.warn({ taskId: action.taskId, err: (error as Error).message }, 'could not dial back the master for a stream');
    ws.terminate();
    return;
  }
  if (!run) {
    ws.close(1011, `task ${action.taskId} does not run on this agent under that lease`);
    return;
  }
  try {
    if (!run.exec) throw new Error('this executor cannot run a command in a task');
    await shell(ws, run, target, () => {
      ws.off('message', hold);
      return early;
    });
  } catch (error) {
    logger.info({ taskId: action.taskId, err: (error as Error).message }, 'a stream could not be connected');
    if (ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify({ type: 'error', message: (error as Error).message } satisfies ShellControl));
      ws.close(1011, (error as Error).message.slice(0, 120));
    }
  }
}

/** Resolves once a dialled-back WebSocket is open; rejects with why it could not be. */
export function opened(ws: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the master did not answer in time')), DIAL_TIMEOUT_MS);
    ws.once('open', () => {
      clearTimeout(timer);
      resolve();
    });
    ws.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    ws.once('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      reject(new Error(`the master answered HTTP ${res.statusCode}`));
    });
  });
}

/** The shell protocol (shared/interactive.ts) between the master's WebSocket and a command in the task. */
async function shell(
  ws: WebSocket,
  run: Run,
  target: ExecTarget,
  held: () => Array<{ data: Buffer; binary: boolean }>,
): Promise<void> {
  const session = await run.exec!({ command: target.command, tty: target.tty, ...(target.cols ? { cols: target.cols } : {}), ...(target.rows ? { rows: target.rows } : {}) });
  const receive = (data: Buffer, binary: boolean) => {
    if (binary) {
      if (data[0] === SHELL_CHANNEL.stdin) session.write(data.subarray(1));
      return;
    }
    let control: ShellControl;
    try {
      control = JSON.parse(data.toString('utf8')) as ShellControl;
    } catch {
      return;
    }
    if (control.type === 'resize') session.resize(control.cols, control.rows);
    if (control.type === 'eof') session.endInput();
  };
  for (const { data, binary } of held()) receive(data, binary);
  ws.on('message', receive);
  ws.on('close', () => session.kill());
  session.onOutput((channel, data) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(Buffer.concat([Buffer.of(channel), data]), { binary: true });
  });
  const code = await session.exit;
  if (ws.readyState === WebSocket.OPEN) {
    ws.send(JSON.stringify({ type: 'exit', code } satisfies ShellControl));
    ws.close(1000);
  }
}
