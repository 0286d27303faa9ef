import { WebSocket } from 'ws';
import { API_PREFIX, endpointPath, isErrorBody } from '@trainyard/shared/client';
import { SHELL_CHANNEL, type ShellControl } from '@trainyard/shared/interactive';
import { CommandFailure } from '../base-command.js';

/**
 * The CLI's end of `GET /api/v1/tasks/:id/shell`: a terminal in raw mode (or plain pipes when
 * stdin is not a terminal) joined to the remote command. Resolves with its exit code.
 */
export async function openShell(options: { master: string; token: string; userAgent: string; taskId: number; command?: string[] }): Promise<number> {
  const { stdin, stdout, stderr } = process;
  const tty = stdin.isTTY === true;
  const query = {
    ...(options.command ? { command: JSON.stringify(options.command) } : {}),
    tty: tty ? 'true' : 'false',
    ...(tty && stdout.columns ? { cols: stdout.columns, rows: stdout.rows } : {}),
  };
  const url = `${options.master.replace(/^http/, 'ws')}${API_PREFIX}${endpointPath('tasks.shell', { params: { id: options.taskId }, query })}`;
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${options.token}`, 'user-agent': options.userAgent }, perMessageDeflate: false });
  // Listening before it opens: the master replays what a short command said (its output, its exit,
  // even its close) as soon as the shell is accepted, possibly in the very packet that opens it, and
  // ws emits those in the same tick as 'open', before anything awaiting the open could listen.
  let exitCode: number | undefined;
  let failure: string | undefined;
  ws.on('message', (data: Buffer, binary) => {
    if (binary) {
      (data[0] === SHELL_CHANNEL.stderr ? stderr : stdout).write(data.subarray(1));
      return;
    }
    const message = JSON.parse(data.toString('utf8')) as ShellControl;
    if (message.type === 'exit') exitCode = message.code;
    if (message.type === 'error') failure = message.message;
  });
  const ended = new Promise<void>((resolve) => {
    ws.on('close', (_code, reason) => {
      if (exitCode === undefined && !failure && reason.length > 0) failure = reason.toString('utf8');
      resolve();
    });
    ws.on('error', (error) => {
      failure ??= error.message;
      resolve();
    });
  });
  await connected(ws);

  const send = (data: Buffer) => ws.readyState === WebSocket.OPEN && ws.send(Buffer.concat([Buffer.of(SHELL_CHANNEL.stdin), data]), { binary: true });
  const control = (message: ShellControl) => ws.readyState === WebSocket.OPEN && ws.send(JSON.stringify(message));
  const onResize = () => control({ type: 'resize', cols: stdout.columns, rows: stdout.rows });
  if (tty) {
    stdin.setRawMode(true);
    // SIGWINCH: Node emits 'resize' on the terminal's stdout.
    stdout.on('resize', onResize);
  }
  stdin.on('data', send);
  stdin.on('end', () => control({ type: 'eof' }));
  stdin.resume();

  await ended;
  if (tty) {
    stdin.setRawMode(false);
    stdout.off('resize', onResize);
  }
  stdin.off('data', send);
  stdin.pause();
  stdin.unref?.();
  if (exitCode !== undefined) return exitCode;
  throw new CommandFailure('SHELL_CLOSED', `the shell in task ${options.taskId} ended without an exit code${failure ? `: ${failure}` : ''}`);
}

/** Open, or the master's refusal (its error body) as a one-line failure. */
function connected(ws: WebSocket): Promise<void> {
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_request, response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          body = undefined;
        }
        reject(isErrorBody(body) ? new CommandFailure(body.error.code, body.error.message) : new CommandFailure('BAD_RESPONSE', `the master answered HTTP ${response.statusCode}`));
      });
    });
    ws.once('error', (error) => reject(new CommandFailure('UNREACHABLE', `cannot open the shell: ${error.message}`)));
  });
}
