import type { Duplex } from 'node:stream';
import { createWebSocketStream, WebSocket } from 'ws';
import { SHELL_CHANNEL, type AgentAction, type ShellControl } from '@trainyard/shared';
import type { Logger } from 'pino';
import type { Run } from './executors/executor.js';

type OpenAction = Extract<AgentAction, { type: 'open' }>;

const DIAL_TIMEOUT_MS = 15_000;

/**
 * One stream the master asked for: the agent dials back a WebSocket to the master (outbound, like
 * every call it makes; no port of the agent is ever opened) and pipes it to the task's port, or to
 * a command run inside the task (a shell). One WebSocket per connection keeps flow control simple:
 * each side pauses the other while it is behind.
 */
export async function serveStream(action: OpenAction, run: Run | undefined, dial: () => WebSocket, logger: Logger): Promise<void> {
  const ws = dial();
  // A connection reset after the stream opened ends it (closing the task's end); it is no error of the agent's.
  ws.on('error', (error) => logger.debug({ taskId: action.taskId, err: error.message }, 'a stream broke'));
  // Listening from the start: the master sends as soon as the stream is up, possibly in the very
  // packet that opens it, and what it sends must be held while the task's end is connected.
  const stream = action.target.kind === 'port' ? createWebSocketStream(ws) : undefined;
  const early: Array<{ data: Buffer; binary: boolean }> = [];
  const hold = (data: Buffer, binary: boolean) => early.push({ data, binary });
  if (!stream) ws.on('message', hold);
  try {
    await opened(ws);
  } catch (error) {
    logger.warn({ taskId: action.taskId, err: (error as Error).message }, 'could not dial back the master for a stream');
    stream?.destroy();
    ws.terminate();
    return;
  }
  if (!run) {
    ws.close(1011, `task ${action.taskId} does not run on this agent under that lease`);
    return;
  }
  try {
    if (action.target.kind === 'port') {
      if (!run.connect) throw new Error('this executor cannot reach a task port');
      pipe(stream!, ws, await run.connect(action.target.port));
    } else {
      if (!run.exec) throw new Error('this executor cannot run a command in a task');
      await shell(ws, run, action.target, () => {
        ws.off('message', hold);
        return early;
      });
    }
  } catch (error) {
    logger.info({ taskId: action.taskId, err: (error as Error).message }, 'a stream could not be connected');
    if (ws.readyState === WebSocket.OPEN) {
      if (action.target.kind === 'exec') ws.send(JSON.stringify({ type: 'error', message: (error as Error).message } satisfies ShellControl));
      ws.close(1011, (error as Error).message.slice(0, 120));
    }
  }
}

function opened(ws: WebSocket): Promise<void> {
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

/**
 * Bytes both ways between the master's WebSocket (as a stream) and a TCP connection to the task.
 * Towards the master, what the task wrote in one turn of the event loop goes as one message (a
 * download's many 64 KiB reads cost a fraction of the frames), and reading pauses while the
 * WebSocket has more than a few batches unsent.
 */
function pipe(stream: Duplex, ws: WebSocket, socket: Duplex): void {
  stream.pipe(socket);
  let batch: Buffer[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (batch.length === 0 || ws.readyState !== WebSocket.OPEN) return;
    const data = batch.length === 1 ? batch[0]! : Buffer.concat(batch);
    batch = [];
    ws.send(data, { binary: true }, () => {
      if (ws.bufferedAmount < HIGH_WATER && socket.isPaused()) socket.resume();
    });
    if (ws.bufferedAmount >= HIGH_WATER) socket.pause();
  };
  socket.on('data', (chunk: Buffer) => {
    batch.push(chunk);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  });
  socket.on('end', () => {
    flush();
    stream.end();
  });
  const end = () => {
    stream.destroy();
    socket.destroy();
  };
  stream.on('close', end);
  socket.on('close', end);
  stream.on('error', end);
  socket.on('error', end);
}

const HIGH_WATER = 1024 * 1024;

/** The shell protocol (shared/interactive.ts) between the master's WebSocket and a command in the task. */
async function shell(
  ws: WebSocket,
  run: Run,
  target: Extract<OpenAction['target'], { kind: 'exec' }>,
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
