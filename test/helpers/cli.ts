import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const YARD = path.join(ROOT, 'packages', 'cli', 'bin', 'run.js');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string;
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
}

/** A real process still running: its output so far, and its end. */
export interface LiveProcess {
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `pattern` in stderr (rejects if the process ends first or `timeoutMs` passes). */
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  signal(signal: NodeJS.Signals): void;
  done: Promise<RunResult>;
}

/** Starts a real process; stdin is closed (or fed `input`), as for a script. */
export function startProcess(command: string, args: string[], options: RunOptions & { cwd?: string } = {}): LiveProcess {
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env };
  for (const [key, value] of Object.entries(options.env ?? {})) if (value === undefined) delete env[key];
  const child = spawn(command, args, { env, cwd: options.cwd ?? ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const watchers = new Set<() => void>();
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    for (const watcher of watchers) watcher();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  const done = new Promise<RunResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
  child.stdin.end(options.input ?? '');
  return {
    stdout: () => stdout,
    stderr: () => stderr,
    signal: (signal) => void child.kill(signal),
    done,
    waitForStderr(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(stderr);
          if (!match) return;
          stop();
          resolve(match);
        };
        const stop = () => {
          clearTimeout(limit);
          watchers.delete(check);
        };
        const limit = setTimeout(() => (stop(), reject(new Error(`no ${pattern} on stderr within ${timeoutMs} ms: ${stderr}`))), timeoutMs);
        watchers.add(check);
        void done.then((result) => (stop(), reject(new Error(`the process ended (${result.code}) before ${pattern} on stderr: ${stderr}`))));
        check();
      });
    },
  };
}

/** Runs a real process to completion; stdin is closed (or fed `input`), as for a script. */
export function runProcess(command: string, args: string[], options: RunOptions & { cwd?: string } = {}): Promise<RunResult> {
  return startProcess(command, args, options).done;
}

/**
 * One person at one terminal: their own HOME and config dir, pointed at one master.
 * Tokens go to the 0600 file store so that tests can look at it.
 */
export class Terminal {
  readonly home = mkdtempSync(path.join(os.tmpdir(), 'yard-home-'));
  readonly configDir = path.join(this.home, '.config');

  constructor(readonly master: string) {}

  run(args: string[], options: RunOptions = {}): Promise<RunResult> {
    return this.start(args, options).done;
  }

  /** Starts `yard ARGS` and returns at once: for what a test must see while it runs (stderr as it comes, a signal). */
  start(args: string[], options: RunOptions = {}): LiveProcess {
    return startProcess(process.execPath, [YARD, ...args], {
      ...options,
      env: {
        HOME: this.home,
        XDG_CONFIG_HOME: this.configDir,
        YARD_MASTER: this.master,
        YARD_TOKEN_STORE: 'file',
        YARD_PASSWORD: undefined,
        YARD_USER: undefined,
        YARD_REQUEST_TIMEOUT: undefined,
        DEBUG: undefined,
        ...options.env,
      },
    });
  }

  /** Runs and parses --json output. */
  async json<T>(args: string[], options: RunOptions = {}): Promise<T> {
    // Before any `--`: what follows it belongs to the task's command.
    const separator = args.indexOf('--');
    const withJson = separator === -1 ? [...args, '--json'] : [...args.slice(0, separator), '--json', ...args.slice(separator)];
    const result = await this.run(withJson, options);
    if (result.code !== 0) throw new Error(`yard ${args.join(' ')} failed (${result.code}): ${result.stderr}${result.stdout}`);
    return JSON.parse(result.stdout) as T;
  }

  get tokenFile(): string {
    return path.join(this.configDir, 'yard', 'tokens.json');
  }
}

/** People with this password, each logged in with `yard user login` at a terminal of their own. */
export async function loggedInTerminals(url: string, names: string[], password = 'pw'): Promise<Record<string, Terminal>> {
  const terms: Record<string, Terminal> = {};
  for (const name of names) {
    const term = new Terminal(url);
    const login = await term.run(['user', 'login', name, '--password-stdin'], { input: `${password}\n` });
    if (login.code !== 0) throw new Error(`${name} could not log in: ${login.stderr}`);
    terms[name] = term;
  }
  return terms;
}

/** The environment of `yard` run in a real terminal (node-pty) for this person: theirs, with nothing of the test's that changes yard. */
export function terminalEnv(term: Terminal, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = { HOME: term.home, XDG_CONFIG_HOME: term.configDir, YARD_MASTER: term.master, YARD_TOKEN_STORE: 'file' };
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !(key in env) && !['YARD_PASSWORD', 'YARD_USER', 'YARD_TOKEN', 'DEBUG', 'NO_COLOR', 'FORCE_COLOR'].includes(key)) env[key] = value;
  }
  return { ...env, ...extra };
}

/** Runs `--help` of each command (a few at a time: each is a whole CLI start) and hands each answer to `check`. */
export async function eachHelp(commands: string[][], check: (name: string, help: RunResult) => void): Promise<void> {
  const term = new Terminal('http://127.0.0.1:1');
  for (let i = 0; i < commands.length; i += 4) {
    const batch = commands.slice(i, i + 4);
    const helps = await Promise.all(batch.map((command) => term.run([...command, '--help'])));
    helps.forEach((help, j) => check(batch[j]!.join(' '), help));
  }
}
