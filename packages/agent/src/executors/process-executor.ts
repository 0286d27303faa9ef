import { execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import path from 'node:path';
import type { TaskRunSpec } from '@trainyard/shared';
import { withIdentity } from '../identity-files.js';
import { LineBuffer } from '../line-buffer.js';
import type { Executor, ExistingRun, Run, RunHooks, RunOutcome } from './executor.js';

const quote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`;

/**
 * Runs each task as a process of the task's uid:gid when no container engine answers. As root
 * with mount namespaces (unshare), the process sees a passwd/group naming its uid and the
 * config's bind mounts; otherwise it runs with plain setuid and bind mounts must be identity
 * paths. cpu and memory limits are not enforced here.
 */
export class ProcessExecutor implements Executor {
  readonly name = 'process' as const;
  private readonly namespaces: boolean;
  private readonly runsDir: string;

  constructor(private readonly workDir: string) {
    this.runsDir = path.join(workDir, 'runs');
    mkdirSync(this.runsDir, { recursive: true, mode: 0o700 });
    this.namespaces = canUseMountNamespaces();
  }

  describe(): string {
    return `process executor in ${this.workDir} (${this.namespaces ? 'mount namespaces: names and bind mounts as in a container' : 'no mount namespaces: plain setuid'})`;
  }

  async start(spec: TaskRunSpec, hooks: RunHooks): Promise<Run> {
    const { runAs } = spec;
    if (process.getuid?.() !== 0 && runAs.uid !== process.getuid?.()) {
      return finished({ state: 'FAILED', message: `the process executor runs as uid ${process.getuid?.()} and cannot run tasks as uid ${runAs.uid}: run yard-agent as root` });
    }
    const runDir = path.join(this.workDir, 'tasks', `${spec.taskId}-${spec.leaseId.slice(0, 8)}`);
    mkdirSync(runDir, { recursive: true });
    chownSync(runDir, runAs.uid, runAs.gid);
    const env = {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      ...spec.environment,
      HOME: runDir,
      USER: runAs.user,
      LOGNAME: runAs.user,
      TRAINYARD_TASK_ID: String(spec.taskId),
    };
    if (spec.resources.cpu || spec.resources.memory) {
      hooks.output('system', '[trainyard] the process executor does not enforce cpu or memory limits');
    }

    let command: string;
    let args: string[];
    let ids: { uid?: number; gid?: number } = {};
    if (this.namespaces) {
      const files = withIdentity(readFileSync('/etc/passwd', 'utf8'), readFileSync('/etc/group', 'utf8'), runAs, runDir);
      writeFileSync(path.join(runDir, '.passwd'), files.passwd, { mode: 0o644 });
      writeFileSync(path.join(runDir, '.group'), files.group, { mode: 0o644 });
      const mounts = spec.bindMounts.flatMap((m) => [
        `mkdir -p ${quote(m.container_path)}`,
        `mount --bind ${quote(m.host_path)} ${quote(m.container_path)}`,
        ...(m.read_only ? [`mount -o remount,bind,ro ${quote(m.container_path)}`] : []),
      ]);
      const launch = [
        'set -e',
        `mount --bind ${quote(path.join(runDir, '.passwd'))} /etc/passwd`,
        `mount --bind ${quote(path.join(runDir, '.group'))} /etc/group`,
        ...mounts,
        `exec setpriv --reuid=${runAs.uid} --regid=${runAs.gid} --clear-groups -- "$@"`,
      ].join('\n');
      writeFileSync(path.join(runDir, '.launch.sh'), `${launch}\n`, { mode: 0o700 });
      command = 'unshare';
      args = ['--mount', '--propagation', 'private', '--', '/bin/sh', path.join(runDir, '.launch.sh'), ...spec.entrypoint];
    } else {
      const moved = spec.bindMounts.find((m) => m.host_path !== m.container_path);
      if (moved) {
        return finished({ state: 'FAILED', message: `this agent cannot map ${moved.host_path} to ${moved.container_path} without mount namespaces; use the same path on both sides or the docker executor` });
      }
      [command, ...args] = spec.entrypoint as [string, ...string[]];
      ids = { uid: runAs.uid, gid: runAs.gid };
    }

    const child = spawn(command, args, { cwd: runDir, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'], ...ids });
    // Everything is wired before the first await: a quick task can finish while we report RUNNING.
    const stdout = new LineBuffer((line) => hooks.output('stdout', line));
    const stderr = new LineBuffer((line) => hooks.output('stderr', line));
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    const record = path.join(this.runsDir, `${spec.taskId}.json`);
    let stopped = false;
    let killTimer: NodeJS.Timeout | undefined;
    const started = new Promise<Error | undefined>((resolve) => {
      child.once('spawn', () => resolve(undefined));
      child.once('error', resolve);
    });
    const done = new Promise<RunOutcome>((resolve) => {
      child.once('close', (code, signal) => {
        clearTimeout(killTimer);
        stdout.flush();
        stderr.flush();
        rmSync(record, { force: true });
        const exitCode = code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0);
        if (stopped) resolve({ state: 'KILLED', exitCode });
        else if (code === 0) resolve({ state: 'COMPLETED', exitCode: 0 });
        else resolve({ state: 'FAILED', exitCode, ...(signal ? { message: `killed by ${signal}` } : {}) });
      });
    });
    const spawnError = await started;
    if (spawnError) return finished({ state: 'FAILED', message: `could not start ${command}: ${spawnError.message}` });
    writeFileSync(record, JSON.stringify({ taskId: spec.taskId, leaseId: spec.leaseId, pid: child.pid }));
    await hooks.state('RUNNING');

    return {
      done,
      stop: async (graceMs) => {
        if (stopped) return;
        stopped = true;
        signalGroup(child.pid!, 'SIGTERM');
        killTimer = setTimeout(() => signalGroup(child.pid!, 'SIGKILL'), graceMs);
      },
    };
  }

  /** Processes left by a previous agent cannot be reattached (their output pipes died with it): stop them. */
  async findExisting(): Promise<ExistingRun[]> {
    if (!existsSync(this.runsDir)) return [];
    return readdirSync(this.runsDir)
      .filter((name) => name.endsWith('.json'))
      .map((name) => {
        const file = path.join(this.runsDir, name);
        const record = JSON.parse(readFileSync(file, 'utf8')) as { taskId: number; leaseId: string; pid: number };
        return {
          taskId: record.taskId,
          leaseId: record.leaseId,
          discard: async () => {
            signalGroup(record.pid, 'SIGKILL');
            rmSync(file, { force: true });
          },
        };
      });
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

function canUseMountNamespaces(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('unshare', ['--mount', '--propagation', 'private', '--', 'true'], { stdio: 'ignore', timeout: 5000 });
    execFileSync('setpriv', ['--version'], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

function finished(outcome: RunOutcome): Run {
  return { done: Promise.resolve(outcome), stop: async () => undefined };
}
