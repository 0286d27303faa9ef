import { spawn } from 'node:child_process';
import path from 'node:path';
import { ROOT, runWorker } from './processes.js';

export interface LoadResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  total: number;
}

export interface LoadOptions {
  url: string;
  connections: number;
  durationSeconds: number;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** Requests each connection cycles through (autocannon's `requests`), e.g. one per user. */
  requests?: Array<{ method?: 'GET' | 'POST'; path: string; headers?: Record<string, string>; body?: string }>;
}

/** autocannon from a separate process, so the load generator does not share the measured event loop. */
export const load = (options: LoadOptions) => runWorker<LoadResult>('lib/load-worker.ts', options);

/** Starts a bench server script (it prints `{"port": N}` first) and returns its URL and a stop function. */
export async function startServer(file: string, input: unknown): Promise<{ url: string; stop(): void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', file), JSON.stringify(input)], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once('data', (d: Buffer) => resolve((JSON.parse(d.toString().split('\n')[0]!) as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`${file} exited ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}`, stop: () => child.kill('SIGKILL') };
}
