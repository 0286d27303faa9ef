import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { ROOT } from './cli.js';
import { dbConfigFor } from './store.js';

const MASTER_BIN = path.join(ROOT, 'packages', 'master', 'bin', 'yard-master.js');
const AGENT_BIN = path.join(ROOT, 'packages', 'agent', 'bin', 'yard-agent.js');

/** Polls `check` until it returns something truthy, or fails after `timeoutMs` saying what it waited for. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Ports this process has handed out: the kernel may offer a port again once its listener closed. */
const handedOut = new Set<number>();

/**
 * A port free on 127.0.0.1 now, and never one this test process handed out before (two calls in a
 * row once both got the same, and a master refused its services port equal to its port).
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer();
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(port));
      });
      server.on('error', reject);
    });
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

/** Quick heartbeats and timeouts for the tests of loss and leases; a test that tests no loss sets `lost_timeout` long (a loaded 2-core machine can starve an agent for seconds). */
export const FAST_AGENTS = { heartbeat_interval: '500ms', lost_timeout: '3s', lease_timeout: '3s', kill_grace: '2s' };

/** A process whose output is kept, for failure messages. */
export interface Proc {
  child: ChildProcess;
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
  exited: Promise<number | null>;
}

function startProcess(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(process.execPath, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    output: () => output,
    exited,
    async kill(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await exited;
    },
  };
}

export interface MasterProcess extends Proc {
  url: string;
  dir: string;
  tokenFile: string;
}

/**
 * The master as its own process (so a test can kill -9 it), on a fixed port so that it can be
 * restarted where agents expect it, with its SQLite file (or, on PostgreSQL, the database made for
 * `dir`) and master.yaml in `dir`.
 */
export async function spawnMaster(
  dir: string,
  port: number,
  config: Record<string, unknown> = {},
  env: NodeJS.ProcessEnv = {},
): Promise<MasterProcess> {
  const tokenFile = path.join(dir, 'agent.token');
  const yaml = {
    // Tasks' services on any free port (port + 1, the default, may be another test's).
    listen: { host: '127.0.0.1', port, services_port: 0 },
    // A store given (several masters on one database) is used as it is; else the directory's own.
    db: config.db ?? (await dbConfigFor(dir)),
    log: { level: 'info' },
    ...config,
    agents: { ...FAST_AGENTS, token_file: './agent.token', ...(config.agents as object | undefined) },
  };
  writeFileSync(path.join(dir, 'master.yaml'), stringify(yaml));
  const proc = startProcess([MASTER_BIN, '--config', path.join(dir, 'master.yaml')], dir, env);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`the master on ${url}\n${proc.output()}`, async () => (await fetch(`${url}/healthz`)).ok, 15_000);
  return { ...proc, url, dir, tokenFile };
}

export interface AgentProcess extends Proc {
  name: string;
}

export function startAgent(
  master: { url: string; tokenFile: string },
  options: { name: string; executor: 'docker' | 'process'; workDir?: string; tokenFile?: string; env?: NodeJS.ProcessEnv; fakeGpus?: number; pool?: string; args?: string[] },
): AgentProcess {
  const workDir = options.workDir ?? mkdtempSync(path.join(os.tmpdir(), 'yard-agent-'));
  const proc = startProcess(
    [
      AGENT_BIN, '--master', master.url, '--token-file', options.tokenFile ?? master.tokenFile, '--name', options.name, '--executor', options.executor, '--work-dir', workDir,
      ...(options.fakeGpus === undefined ? [] : ['--fake-gpus', String(options.fakeGpus)]),
      ...(options.pool === undefined ? [] : ['--pool', options.pool]),
      ...(options.args ?? []),
    ],
    workDir,
    options.fakeGpus === undefined ? options.env : { ...options.env, YARD_TEST_FAKE_GPUS: '1' },
  );
  return { ...proc, name: options.name };
}

/** An agent started and seen alive by the master (asked with an admin's token). */
export async function startRegisteredAgent(
  master: { url: string; tokenFile: string },
  adminToken: string,
  options: Parameters<typeof startAgent>[1],
): Promise<AgentProcess> {
  const agent = startAgent(master, options);
  await waitFor(`agent ${options.name} to register`, async () => {
    const answer = await fetch(`${master.url}/api/v1/agents`, { headers: { authorization: `Bearer ${adminToken}` } });
    const agents = ((await answer.json()) as { items: Array<{ id: string; state: string }> }).items;
    return agents.some((a) => a.id === options.name && a.state === 'alive');
  });
  return agent;
}

export function tempDir(prefix = 'yard-cluster-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}
