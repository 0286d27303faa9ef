import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { freePort } from '../../test/helpers/cluster.js';

export { freePort };

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const MASTER_BIN = path.join(ROOT, 'packages', 'master', 'bin', 'yard-master.js');
export const AGENT_BIN = path.join(ROOT, 'packages', 'agent', 'bin', 'yard-agent.js');
export const CLI_BIN = path.join(ROOT, 'packages', 'cli', 'bin', 'run.js');

export const tempDir = () => mkdtempSync(path.join(os.tmpdir(), 'yard-bench-'));

export async function waitForHttp(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fetch(url).then((r) => r.ok, () => false))) {
    if (Date.now() > deadline) throw new Error(`${url} did not answer`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export interface BenchMaster {
  url: string;
  dir: string;
  child: ChildProcess;
  tokenFile: string;
  rssMb(): number;
  stop(): Promise<void>;
}

/** The real master as its own process, on a database in `dir` (seed it before starting). */
export async function startMaster(dir: string, config: Record<string, unknown> = {}): Promise<BenchMaster> {
  // A port given (a master restarted where its agents know it) is kept.
  const port = (config.listen as { port?: number } | undefined)?.port ?? (await freePort());
  const yaml = {
    // Tasks' services on a port of their own, any free one (port + 1 may be taken).
    listen: { host: '127.0.0.1', port, services_port: 0 },
    db: { path: './bench.db' },
    log: { level: 'warn' },
    ...config,
    agents: { token_file: './agent.token', ...(config.agents as object | undefined) },
  };
  writeFileSync(path.join(dir, 'master.yaml'), stringify(yaml));
  const child = spawn(process.execPath, [MASTER_BIN, '--config', path.join(dir, 'master.yaml')], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/healthz`);
  return {
    url,
    dir,
    child,
    tokenFile: path.join(dir, 'agent.token'),
    rssMb: () => rssMb(child.pid!),
    stop: () => stopChild(child),
  };
}

export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  });
}

/** Resident memory of a process, from /proc (Linux). */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  return Math.round(kb / 1024);
}

export async function login(url: string, username = 'admin', password = ''): Promise<string> {
  const response = await fetch(`${url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (!response.ok) throw new Error(`login failed: ${response.status}`);
  return ((await response.json()) as { token: string }).token;
}

/** Runs a bench worker (a .ts file here) in its own process and returns the JSON it prints last. */
export function runWorker<T>(file: string, input: unknown, onMessage?: (message: unknown) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', file), JSON.stringify(input)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    if (onMessage) child.on('message', onMessage);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`${file} exited ${code}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').at(-1)!) as T);
      } catch (error) {
        reject(error);
      }
    });
  });
}
