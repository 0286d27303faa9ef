import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import type { ExecRequest, ExecSession } from './executor.js';
import { signalExitCode } from './executor.js';

type PtyModule = typeof import('node-pty');
let pty: PtyModule | undefined;

/** node-pty, loaded when a terminal is first asked for (a native module: the agent runs without it otherwise). */
function loadPty(): PtyModule {
  pty ??= createRequire(import.meta.url)('node-pty') as PtyModule;
  return pty;
}

/**
 * A command run on this machine for a process-executor task (the argv already enters the task's
 * namespace and drops to its identity): in a pseudo-terminal (node-pty) or with plain pipes.
 */
export function execInRun(argv: string[], cwd: string, env: Record<string, string>, request: ExecRequest): ExecSession {
  const [file, ...args] = argv as [string, ...string[]];
  const listeners: Array<(channel: 1 | 2, data: Buffer) => void> = [];
  const emit = (channel: 1 | 2, data: Buffer) => listeners.forEach((l) => l(channel, data));
  if (request.tty) {
    const term = loadPty().spawn(file, args, {
      name: 'xterm-256color',
      cols: request.cols ?? 80,
      rows: request.rows ?? 24,
      cwd,
      env: { ...env, TERM: 'xterm-256color' },
      encoding: null,
    });
    term.onData((data) => emit(1, Buffer.isBuffer(data) ? data : Buffer.from(data)));
    const exit = new Promise<number>((resolve) => term.onExit(({ exitCode, signal }) => resolve(signal ? signalExitCode(signal) : exitCode)));
    return {
      write: (data) => term.write(data as unknown as string),
      // A terminal has no end of input of its own: ^D is the user's.
      endInput: () => undefined,
      resize: (cols, rows) => {
        try {
          term.resize(cols, rows);
        } catch {
          // Gone already.
        }
      },
      onOutput: (listener) => listeners.push(listener),
      exit,
      kill: () => {
        try {
          term.kill('SIGHUP');
        } catch {
          // Gone already.
        }
      },
    };
  }
  const child = spawn(file, args, { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdout.on('data', (data: Buffer) => emit(1, data));
  child.stderr.on('data', (data: Buffer) => emit(2, data));
  child.stdin.on('error', () => undefined);
  const exit = new Promise<number>((resolve) => {
    child.on('error', () => resolve(127));
    child.on('close', (code, signal) => resolve(code ?? signalExitCode(signal)));
  });
  return {
    write: (data) => child.stdin.write(data),
    endInput: () => child.stdin.end(),
    resize: () => undefined,
    onOutput: (listener) => listeners.push(listener),
    exit,
    kill: () => child.kill('SIGHUP'),
  };
}
